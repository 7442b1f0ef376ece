//! # boardroom-personalities
//!
//! Owns the personality profiles a tenant's CEO plans under. The three built-in
//! profiles (CoachTy, HustleBot, LuxuryScaler) are TOML files in `profiles/`, compiled
//! into the binary and validated when loaded; tenants may bring their own profile in
//! the same format, which goes through the same validation.
//!
//! A profile has two halves: words (business style, pricing strategy, prompt prefix…)
//! that steer the language model, and numbers (the `[decisions]` table) that the agents
//! compute with — risk appetite, price positioning, budget split, channel weights,
//! reinvestment rate, minimum margin.
//!
//! # Layout
//!
//! - `lib.rs`: [`Personality`], loading ([`Personality::from_toml`], [`built_in`],
//!   [`find`]) and [`PersonalityError`].
//! - `decisions.rs`: [`DecisionParameters`], [`BudgetSplit`], [`ChannelWeights`], their
//!   ranges and the go/no-go rule [`DecisionParameters::risk_accepts`].
//!
//! # Writing numbers in a profile
//!
//! Money-shaped ratios are [`rust_decimal::Decimal`]. Write them as quoted strings
//! (`price_positioning = "0.85"`), as the built-ins do: a string is parsed straight
//! into a decimal, never through binary floating point. TOML floats (`0.85`) and
//! integers (`1`) are accepted too, and read as the decimal they are written as
//! (rust_decimal parses the float's shortest decimal form); a test pins all three
//! forms, so a change in rust_decimal's serde features that broke one would show. The
//! unitless `risk_appetite` and channel weights are plain floats.

mod decisions;

pub use decisions::{BudgetSplit, ChannelWeights, DecisionParameters};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How much risk a profile accepts, from the spec's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskTolerance {
    /// Avoids losses first.
    Low,
    /// Balanced.
    Medium,
    /// Leans towards bets with upside.
    MediumHigh,
    /// Takes big bets for fast growth.
    High,
}

/// How the profile's voice sounds in generated audio and copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceStyle {
    /// Measured and neutral.
    Professional,
    /// Fast and upbeat.
    Energetic,
    /// Slow and reassuring.
    Calm,
}

/// A personality profile, as written in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personality {
    /// Display name, also the key tenants refer to (case-insensitive).
    pub name: String,
    /// How the business grows.
    pub business_style: String,
    /// Appetite for risk.
    pub risk_tolerance: RiskTolerance,
    /// How prices are positioned.
    pub pricing_strategy: String,
    /// How the business markets itself.
    pub marketing_approach: String,
    /// Kinds of products it prefers to make, most preferred first.
    pub product_preferences: Vec<String>,
    /// Put in front of every prompt sent to a language model.
    pub prompt_prefix: String,
    /// Voice for generated audio and copy.
    pub voice_style: VoiceStyle,
    /// The numbers the agents decide with: the `[decisions]` table, required.
    pub decisions: DecisionParameters,
}

/// Why a profile was refused.
#[derive(Debug, Error, PartialEq)]
pub enum PersonalityError {
    /// The TOML did not parse or had wrong or unknown fields.
    #[error("invalid personality profile: {0}")]
    Syntax(String),
    /// A field parsed but its value is unusable.
    #[error("invalid personality profile: field `{field}` {problem}")]
    Invalid {
        /// The field, by its full path in the profile (`decisions.budget_split.ads`).
        field: String,
        /// What is wrong with it, with the offending value where there is one.
        problem: String,
    },
    /// No profile of that name.
    #[error("unknown personality {0:?}; built-in ones are CoachTy, HustleBot and LuxuryScaler")]
    Unknown(String),
}

const BUILT_IN: &[&str] = &[
    include_str!("../profiles/coachty.toml"),
    include_str!("../profiles/hustlebot.toml"),
    include_str!("../profiles/luxuryscaler.toml"),
];

impl Personality {
    /// Parses and validates a profile written in TOML.
    pub fn from_toml(text: &str) -> Result<Self, PersonalityError> {
        let profile: Personality =
            toml::from_str(text).map_err(|error| PersonalityError::Syntax(error.message().to_owned()))?;
        profile.validate()?;
        Ok(profile)
    }

    /// Parses and validates a profile given as JSON, for example a tenant's custom
    /// profile sent through the API. The object has the same fields as the TOML format;
    /// decimals may be JSON strings (`"0.85"`, preferred) or numbers.
    pub fn custom_from_json(value: serde_json::Value) -> Result<Self, PersonalityError> {
        let profile: Personality =
            serde_json::from_value(value).map_err(|error| PersonalityError::Syntax(error.to_string()))?;
        profile.validate()?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), PersonalityError> {
        let texts = [
            ("name", &self.name),
            ("business_style", &self.business_style),
            ("pricing_strategy", &self.pricing_strategy),
            ("marketing_approach", &self.marketing_approach),
            ("prompt_prefix", &self.prompt_prefix),
        ];
        for (field, value) in texts {
            if value.trim().is_empty() {
                return Err(PersonalityError::Invalid {
                    field: field.to_owned(),
                    problem: "must not be empty".to_owned(),
                });
            }
        }
        if self.name.len() > 64 {
            return Err(PersonalityError::Invalid {
                field: "name".to_owned(),
                problem: "must be at most 64 characters".to_owned(),
            });
        }
        if self.product_preferences.is_empty() || self.product_preferences.iter().any(|p| p.trim().is_empty()) {
            return Err(PersonalityError::Invalid {
                field: "product_preferences".to_owned(),
                problem: "must list at least one non-empty product kind".to_owned(),
            });
        }
        self.decisions.validate()
    }
}

/// The built-in profiles, parsed and validated.
pub fn built_in() -> Vec<Personality> {
    BUILT_IN_PROFILES.clone()
}

/// Parsed once: activating a swarm looks its personality up, and parsing three TOML
/// files each time would cost more than the lookup.
static BUILT_IN_PROFILES: std::sync::LazyLock<Vec<Personality>> = std::sync::LazyLock::new(|| {
    BUILT_IN
        .iter()
        .map(|text| Personality::from_toml(text).unwrap_or_else(|error| panic!("built-in profile is invalid: {error}")))
        .collect()
});

/// Finds a built-in profile by name, case-insensitively.
pub fn find(name: &str) -> Result<Personality, PersonalityError> {
    BUILT_IN_PROFILES
        .iter()
        .find(|profile| profile.name.eq_ignore_ascii_case(name))
        .cloned()
        .ok_or_else(|| PersonalityError::Unknown(name.to_owned()))
}

/// A business's personality: the custom profile in its settings
/// (`personality_profile`), else the built-in one it names.
pub fn of_business(personality: &str, settings: &serde_json::Value) -> Result<Personality, PersonalityError> {
    match settings.get("personality_profile") {
        Some(profile) => Personality::custom_from_json(profile.clone()),
        None => find(personality),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    const COACHTY: &str = include_str!("../profiles/coachty.toml");

    fn decimal(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn invalid(field: &str, problem: &str) -> Result<Personality, PersonalityError> {
        Err(PersonalityError::Invalid { field: field.to_owned(), problem: problem.to_owned() })
    }

    /// CoachTy's profile with the value at a dotted `path` replaced, as TOML text.
    fn coachty_with(path: &str, value: toml::Value) -> String {
        let mut profile: toml::Table = toml::from_str(COACHTY).expect("CoachTy parses");
        let (parents, key) = path.rsplit_once('.').unwrap_or(("", path));
        let mut table = &mut profile;
        for part in parents.split('.').filter(|part| !part.is_empty()) {
            table = table
                .get_mut(part)
                .and_then(toml::Value::as_table_mut)
                .unwrap_or_else(|| panic!("no table {part} in {path}"));
        }
        table.insert(key.to_owned(), value);
        toml::to_string(&profile).expect("a table serialises")
    }

    fn text(value: &str) -> toml::Value {
        toml::Value::String(value.to_owned())
    }

    fn profile(name: &str) -> Personality {
        find(name).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn the_three_built_in_profiles_load() {
        let names: Vec<String> = built_in().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["CoachTy", "HustleBot", "LuxuryScaler"]);
        assert_eq!(find("hustlebot").map(|p| p.risk_tolerance), Ok(RiskTolerance::High));
    }

    #[test]
    fn the_built_in_profiles_carry_validated_decision_parameters() {
        for personality in built_in() {
            assert_eq!(personality.decisions.validate(), Ok(()));
        }
        let coach = profile("CoachTy").decisions;
        assert_eq!(coach.risk_appetite, 0.5);
        assert_eq!(coach.price_positioning, decimal("1.10"));
        assert_eq!(
            coach.budget_split,
            BudgetSplit { ads: decimal("0.25"), content: decimal("0.55"), tools: decimal("0.20") }
        );
    }

    #[test]
    fn the_personalities_differ_the_way_the_spec_describes_them() {
        let coach = profile("CoachTy").decisions;
        let hustle = profile("HustleBot").decisions;
        let luxury = profile("LuxuryScaler").decisions;

        // Competitive < premium but accessible < premium.
        assert!(hustle.price_positioning < Decimal::ONE);
        assert!(Decimal::ONE < coach.price_positioning);
        assert!(coach.price_positioning < luxury.price_positioning);
        // High > medium-high > medium.
        assert!(hustle.risk_appetite > luxury.risk_appetite);
        assert!(luxury.risk_appetite > coach.risk_appetite);
        // Volume through ads; CoachTy through content.
        assert!(hustle.budget_split.ads > coach.budget_split.ads);
        assert!(coach.budget_split.content > coach.budget_split.ads);
        // Volume over margin; premium never sells near cost.
        assert!(hustle.min_margin < coach.min_margin);
        assert!(coach.min_margin < luxury.min_margin);
        // Aggressive scaling reinvests the most.
        assert!(hustle.reinvestment_rate > coach.reinvestment_rate);

        let coach_channels = coach.channel_weights.normalized();
        let hustle_channels = hustle.channel_weights.normalized();
        let luxury_channels = luxury.channel_weights.normalized();
        // CoachTy leans on SEO content and email.
        assert!(coach_channels.seo_content + coach_channels.email > 0.5);
        // HustleBot leans on ads and viral social.
        assert!(hustle_channels.search_ads + hustle_channels.social_ads + hustle_channels.social_organic > 0.75);
        assert!(hustle_channels.social_organic > coach_channels.social_organic);
        // LuxuryScaler's paid channel is selective social, not search.
        assert!(luxury_channels.social_ads > luxury_channels.search_ads);
        assert!(luxury_channels.social_ads > hustle_channels.social_ads);
    }

    #[test]
    fn a_riskier_personality_takes_a_bet_a_careful_one_refuses() {
        // Expected +15%, loses money 35% of the time.
        let (expected_roi, loss_probability) = (0.15, 0.35);
        assert!(profile("HustleBot").decisions.risk_accepts(expected_roi, loss_probability));
        assert!(!profile("CoachTy").decisions.risk_accepts(expected_roi, loss_probability));
    }

    #[test]
    fn normalized_channel_weights_of_every_built_in_sum_to_one() {
        for personality in built_in() {
            let w = personality.decisions.channel_weights.normalized();
            let total = w.search_ads + w.social_ads + w.seo_content + w.social_organic + w.email;
            assert!((total - 1.0).abs() < 1e-12, "{}: {total}", personality.name);
        }
    }

    #[test]
    fn each_decision_parameter_out_of_range_is_refused_with_its_path() {
        let cases = [
            ("decisions.risk_appetite", toml::Value::Float(-0.1), "must be between 0 and 1 (got -0.1)"),
            ("decisions.risk_appetite", toml::Value::Float(1.5), "must be between 0 and 1 (got 1.5)"),
            ("decisions.risk_appetite", toml::Value::Float(f64::NAN), "must be between 0 and 1 (got NaN)"),
            ("decisions.price_positioning", text("0.49"), "must be between 0.5 and 3 (got 0.49)"),
            ("decisions.price_positioning", text("3.01"), "must be between 0.5 and 3 (got 3.01)"),
            ("decisions.max_price_change", text("0"), "must be greater than 0 and at most 0.5 (got 0)"),
            ("decisions.max_price_change", text("0.51"), "must be greater than 0 and at most 0.5 (got 0.51)"),
            ("decisions.budget_split.ads", text("-0.25"), "must be between 0 and 1 (got -0.25)"),
            ("decisions.budget_split.content", text("1.55"), "must be between 0 and 1 (got 1.55)"),
            ("decisions.budget_split.tools", text("1.2"), "must be between 0 and 1 (got 1.2)"),
            (
                "decisions.channel_weights.search_ads",
                toml::Value::Float(-1.0),
                "must be a finite number of at least 0 (got -1)",
            ),
            (
                "decisions.channel_weights.email",
                toml::Value::Float(f64::INFINITY),
                "must be a finite number of at least 0 (got inf)",
            ),
            ("decisions.reinvestment_rate", text("-0.01"), "must be between 0 and 1 (got -0.01)"),
            ("decisions.reinvestment_rate", text("1.01"), "must be between 0 and 1 (got 1.01)"),
            ("decisions.min_margin", text("-0.1"), "must be between 0 and 0.9 (got -0.1)"),
            ("decisions.min_margin", text("0.95"), "must be between 0 and 0.9 (got 0.95)"),
        ];
        for (field, value, problem) in cases {
            let profile = coachty_with(field, value);
            assert_eq!(Personality::from_toml(&profile), invalid(field, problem));
        }
    }

    #[test]
    fn the_ends_of_every_range_are_accepted() {
        let cases = [
            ("decisions.risk_appetite", toml::Value::Float(0.0)),
            ("decisions.risk_appetite", toml::Value::Float(1.0)),
            ("decisions.price_positioning", text("0.5")),
            ("decisions.price_positioning", text("3.0")),
            ("decisions.max_price_change", text("0.0001")),
            ("decisions.max_price_change", text("0.5")),
            ("decisions.reinvestment_rate", text("0")),
            ("decisions.reinvestment_rate", text("1")),
            ("decisions.min_margin", text("0")),
            ("decisions.min_margin", text("0.9")),
            ("decisions.channel_weights.email", toml::Value::Float(0.0)),
        ];
        for (field, value) in cases {
            let profile = coachty_with(field, value.clone());
            assert!(Personality::from_toml(&profile).is_ok(), "{field} = {value} refused");
        }
    }

    #[test]
    fn a_budget_split_must_sum_to_exactly_one() {
        let over = coachty_with("decisions.budget_split.ads", text("0.35"));
        assert_eq!(Personality::from_toml(&over), invalid("decisions.budget_split", "must sum to 1 (got 1.1)"));

        let thirds = toml::Table::from_iter([
            ("ads".to_owned(), text("0.3333333333")),
            ("content".to_owned(), text("0.3333333333")),
            ("tools".to_owned(), text("0.3333333334")),
        ]);
        let exact = coachty_with("decisions.budget_split", toml::Value::Table(thirds.clone()));
        assert!(Personality::from_toml(&exact).is_ok());
        let mut short = thirds;
        short.insert("tools".to_owned(), text("0.3333333333"));
        let short = coachty_with("decisions.budget_split", toml::Value::Table(short));
        assert_eq!(
            Personality::from_toml(&short),
            invalid("decisions.budget_split", "must sum to 1 (got 0.9999999999)")
        );

        // 0.1 + 0.2 + 0.7 is not 1 in f64, but it is in Decimal.
        let tenths = toml::Table::from_iter([
            ("ads".to_owned(), text("0.1")),
            ("content".to_owned(), text("0.2")),
            ("tools".to_owned(), text("0.7")),
        ]);
        let tenths = coachty_with("decisions.budget_split", toml::Value::Table(tenths));
        assert!(Personality::from_toml(&tenths).is_ok());
    }

    #[test]
    fn channel_weights_must_not_all_be_zero() {
        let zero = toml::Table::from_iter(
            ["search_ads", "social_ads", "seo_content", "social_organic", "email"]
                .map(|channel| (channel.to_owned(), toml::Value::Float(0.0))),
        );
        let profile = coachty_with("decisions.channel_weights", toml::Value::Table(zero));
        assert_eq!(
            Personality::from_toml(&profile),
            invalid("decisions.channel_weights", "must have at least one positive weight")
        );
        let huge = coachty_with("decisions.channel_weights.search_ads", toml::Value::Float(f64::MAX));
        let huge = huge.replace("social_ads = 0.05", &format!("social_ads = {:e}", f64::MAX));
        assert_eq!(Personality::from_toml(&huge), invalid("decisions.channel_weights", "must have a finite total"));
    }

    #[test]
    fn decimals_are_read_exactly_from_toml_strings_floats_and_integers() {
        let read = |value: &str| -> Result<Decimal, PersonalityError> {
            let profile = COACHTY.replace("price_positioning = \"1.10\"", &format!("price_positioning = {value}"));
            Personality::from_toml(&profile).map(|p| p.decisions.price_positioning)
        };
        assert_eq!(read("\"0.85\""), Ok(decimal("0.85")));
        assert_eq!(read("0.85"), Ok(decimal("0.85")));
        assert_eq!(read("1.1"), Ok(decimal("1.1")));
        assert_eq!(read("2"), Ok(Decimal::TWO));
        assert_eq!(read("\"1.5e0\""), Ok(decimal("1.5")));
        assert!(matches!(read("\"cheap\""), Err(PersonalityError::Syntax(_))));
        // A float that is not exactly representable in binary still reads as written.
        let budget = COACHTY
            .replace("ads = \"0.25\"", "ads = 0.1")
            .replace("content = \"0.55\"", "content = 0.2")
            .replace("tools = \"0.20\"", "tools = 0.7");
        assert!(Personality::from_toml(&budget).is_ok());
    }

    #[test]
    fn a_profile_without_decisions_or_with_unknown_decision_fields_is_refused() {
        let mut table: toml::Table = toml::from_str(COACHTY).expect("CoachTy parses");
        table.remove("decisions");
        let missing = toml::to_string(&table).expect("a table serialises");
        assert!(
            matches!(Personality::from_toml(&missing), Err(PersonalityError::Syntax(m)) if m.contains("decisions"))
        );
        let extra = coachty_with("decisions.budget_split.coffee", text("0.1"));
        assert!(matches!(Personality::from_toml(&extra), Err(PersonalityError::Syntax(m)) if m.contains("coffee")));
    }

    #[test]
    fn a_profile_survives_a_round_trip_through_toml_and_json() {
        for personality in built_in() {
            let toml_text = toml::to_string(&personality).expect("a profile serialises");
            assert_eq!(Personality::from_toml(&toml_text), Ok(personality.clone()));
            let json = serde_json::to_value(&personality).expect("a profile serialises");
            assert_eq!(Personality::custom_from_json(json), Ok(personality));
        }
    }

    #[test]
    fn a_custom_json_profile_is_validated_like_a_toml_one() {
        let mut json = serde_json::to_value(profile("LuxuryScaler")).expect("serialises");
        json["name"] = "Velvet".into();
        json["decisions"]["budget_split"]["ads"] = 0.5.into();
        assert_eq!(
            Personality::custom_from_json(json.clone()),
            invalid("decisions.budget_split", "must sum to 1 (got 1.05)")
        );
        json["decisions"]["budget_split"]["ads"] = "0.45".into();
        assert_eq!(Personality::custom_from_json(json).map(|p| p.name), Ok("Velvet".to_owned()));
        assert!(matches!(
            Personality::custom_from_json(serde_json::json!({ "name": "Half" })),
            Err(PersonalityError::Syntax(_))
        ));
    }

    #[test]
    fn a_custom_profile_with_an_empty_field_is_refused_with_the_field_named() {
        let text = COACHTY.replace("\"sustainable growth, relationship building\"", "\" \"");
        assert_eq!(Personality::from_toml(&text), invalid("business_style", "must not be empty"));
    }

    #[test]
    fn unknown_fields_and_bad_risk_levels_are_refused() {
        let extra = format!("mood = \"grumpy\"\n{COACHTY}");
        assert!(matches!(Personality::from_toml(&extra), Err(PersonalityError::Syntax(m)) if m.contains("mood")));
        let risky = COACHTY.replace("\"medium\"", "\"reckless\"");
        assert!(matches!(Personality::from_toml(&risky), Err(PersonalityError::Syntax(_))));
        assert_eq!(find("Gordon").map(|p| p.name), Err(PersonalityError::Unknown("Gordon".into())));
    }
}
