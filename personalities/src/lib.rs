//! # boardroom-personalities
//!
//! Owns the personality profiles a tenant's CEO plans under. The three built-in
//! profiles (CoachTy, HustleBot, LuxuryScaler) are TOML files in `profiles/`, compiled
//! into the binary and validated when loaded; tenants may bring their own profile in
//! the same format, which goes through the same validation.

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
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
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
        let profile: Personality = toml::from_str(text)
            .map_err(|error| PersonalityError::Syntax(error.message().to_owned()))?;
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
                    field,
                    problem: "must not be empty",
                });
            }
        }
        if self.name.len() > 64 {
            return Err(PersonalityError::Invalid {
                field: "name",
                problem: "must be at most 64 characters",
            });
        }
        if self.product_preferences.is_empty()
            || self.product_preferences.iter().any(|p| p.trim().is_empty())
        {
            return Err(PersonalityError::Invalid {
                field: "product_preferences",
                problem: "must list at least one non-empty product kind",
            });
        }
        Ok(())
    }
}

/// The built-in profiles, parsed and validated.
pub fn built_in() -> Vec<Personality> {
    BUILT_IN
        .iter()
        .map(|text| {
            Personality::from_toml(text)
                .unwrap_or_else(|error| panic!("built-in profile is invalid: {error}"))
        })
        .collect()
}

/// Finds a built-in profile by name, case-insensitively.
pub fn find(name: &str) -> Result<Personality, PersonalityError> {
    built_in()
        .into_iter()
        .find(|profile| profile.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| PersonalityError::Unknown(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_built_in_profiles_load() {
        let names: Vec<String> = built_in().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["CoachTy", "HustleBot", "LuxuryScaler"]);
        assert_eq!(
            find("hustlebot").map(|p| p.risk_tolerance),
            Ok(RiskTolerance::High)
        );
    }

    #[test]
    fn a_custom_profile_with_an_empty_field_is_refused_with_the_field_named() {
        let text = include_str!("../profiles/coachty.toml")
            .replace("\"sustainable growth, relationship building\"", "\" \"");
        assert_eq!(
            Personality::from_toml(&text),
            Err(PersonalityError::Invalid {
                field: "business_style",
                problem: "must not be empty"
            })
        );
    }

    #[test]
    fn unknown_fields_and_bad_risk_levels_are_refused() {
        let extra = format!(
            "{}\nmood = \"grumpy\"\n",
            include_str!("../profiles/coachty.toml")
        );
        assert!(
            matches!(Personality::from_toml(&extra), Err(PersonalityError::Syntax(m)) if m.contains("mood"))
        );
        let risky = include_str!("../profiles/coachty.toml").replace("\"medium\"", "\"reckless\"");
        assert!(matches!(
            Personality::from_toml(&risky),
            Err(PersonalityError::Syntax(_))
        ));
        assert_eq!(
            find("Gordon").map(|p| p.name),
            Err(PersonalityError::Unknown("Gordon".into()))
        );
    }
}
