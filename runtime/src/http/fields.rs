//! Request fields whose rules go beyond their JSON type.
//!
//! Each is a newtype that parses itself ([`Field`]), so a handler never holds an
//! unchecked value and a bad one is a 422 naming its field; and each states the very
//! same rule as its JSON Schema (a component of the OpenAPI document), so what the
//! document says a field accepts is what the server accepts, character for character.
//! `scripts/api-contract` checks the two agree by fuzzing the running server.
//!
//! A request type holds such a field either as itself (a broken rule refuses the body
//! as it is read) or as [`Checked`] (the body is read, and the handler names every
//! field whose rule is broken in one 422). A value of the wrong JSON type is refused as
//! the body is read either way.
//!
//! - Names people give things (see `names`): [`Name`] (1 to 100 characters) and
//!   [`Title`] (1 to 200).
//! - Free text, trimmed, without control characters other than tabs and line breaks:
//!   [`Niche`], [`Tag`], [`Description`] (may be empty), [`Subject`], [`PriceText`],
//!   [`ActionType`].
//! - Money, exact and in whole cents, as a decimal string or a JSON number, at most
//!   [`MAX_AMOUNT`]: [`PositiveAmount`] and [`NonNegativeAmount`]; a share in percent,
//!   0 to 100: [`Percent`].
//! - A business's [`Domain`] and [`PersonalityName`].
//!
//! (E-mail addresses are `auth::password::Email`, a [`Field`] too.)
//!
//! Patterns use `\uXXXX` escapes only, which JSON Schema (ECMA-262), Python's `re` and
//! Rust's `regex` read alike, and never `\s` or `\d`, which they do not.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use super::error::Fields;
use super::names::{self, WHITESPACE_CLASS};

/// Control characters free text may not hold: all but tab, line feed and carriage
/// return, as the inside of a pattern's `[...]`.
const TEXT_CONTROL_CLASS: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

/// Whether free text may not hold `c`.
fn is_forbidden_in_text(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Free text: at most `max` characters as sent, no control characters other than tabs
/// and line breaks, kept trimmed; `required` text must not be blank.
fn parse_text(value: &str, max: usize, required: bool) -> Result<String, String> {
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value.chars().any(is_forbidden_in_text) {
        return Err("must not contain control characters".into());
    }
    let value = value.trim();
    if required && value.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(value.to_owned())
}

/// The free-text rule as a pattern: allowed characters only and, when `required`, one
/// of them not white space.
fn text_pattern(required: bool) -> String {
    let allowed = format!("[^{TEXT_CONTROL_CLASS}]*");
    if required {
        format!("^{allowed}[^{TEXT_CONTROL_CLASS}{WHITESPACE_CLASS}]{allowed}$")
    } else {
        format!("^{allowed}$")
    }
}

/// A field with a rule beyond its JSON type: `Raw` is what is read (its JSON type),
/// [`Field::parse`] the rule.
pub(crate) trait Field: Sized {
    /// What the body holds before the rule is checked.
    type Raw: for<'de> Deserialize<'de>;

    /// The value, or what is wrong with it in words.
    fn parse(raw: Self::Raw) -> Result<Self, String>;
}

/// A field read with its JSON type, its rule checked but not yet acted on, so that a
/// handler can name every broken field at once. Its schema is the field's own.
#[derive(Debug)]
pub(crate) struct Checked<T>(Result<T, String>);

impl<T> Checked<T> {
    /// The value; or `None`, with the problem recorded under `field`.
    pub(crate) fn check(self, problems: &mut Fields, field: &str) -> Option<T> {
        self.0.map_err(|problem| problems.insert(field.to_owned(), problem)).ok()
    }

    /// An optional field: `Some(None)` when it was left out, `Some(Some(value))` when it
    /// keeps its rule; `None`, with the problem recorded, when it breaks it.
    pub(crate) fn check_optional(field: Option<Self>, problems: &mut Fields, name: &str) -> Option<Option<T>> {
        match field {
            None => Some(None),
            Some(checked) => checked.check(problems, name).map(Some),
        }
    }
}

impl<'de, T: Field> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::Raw::deserialize(deserializer).map(|raw| Checked(T::parse(raw)))
    }
}

/// Implements `Deserialize` for a [`Field`]: its raw value, then its rule.
macro_rules! deserialize_field {
    ($name:ty) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <$name as $crate::http::fields::Field>::Raw::deserialize(deserializer)?;
                <$name as $crate::http::fields::Field>::parse(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use deserialize_field;

/// How a string field is checked.
#[derive(Clone, Copy)]
enum Rule {
    /// A name (see `names`).
    Name,
    /// Free text that must not be blank.
    Text,
    /// Free text that may be empty.
    OptionalText,
}

impl Rule {
    fn parse(self, value: &str, max: usize) -> Result<String, String> {
        match self {
            Rule::Name => names::parse_name(value, max),
            Rule::Text => parse_text(value, max, true),
            Rule::OptionalText => parse_text(value, max, false),
        }
    }

    fn schema(self, max: usize, description: &str, example: &str) -> RefOr<Schema> {
        let (min, pattern) = match self {
            Rule::Name => (1, names::pattern()),
            Rule::Text => (1, text_pattern(true)),
            Rule::OptionalText => (0, text_pattern(false)),
        };
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .min_length(Some(min))
            .max_length(Some(max))
            .pattern(Some(pattern))
            .examples([example])
            .into()
    }
}

/// Declares a string field type with its rule, its longest length, what its schema says
/// and an example.
macro_rules! string_field {
    ($(#[$attribute:meta])* $name:ident: $rule:ident, at most $max:literal, $description:literal, e.g. $example:literal) => {
        $(#[$attribute])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub(crate) struct $name(String);

        impl $name {
            /// Its longest length, in characters.
            #[allow(dead_code)]
            pub(crate) const MAX_CHARS: usize = $max;

            /// The checked, trimmed text.
            #[allow(dead_code)]
            pub(crate) fn into_inner(self) -> String {
                self.0
            }

            /// The checked, trimmed text.
            #[allow(dead_code)]
            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Field for $name {
            type Raw = String;

            fn parse(text: String) -> Result<Self, String> {
                Rule::$rule.parse(&text, $max).map(Self)
            }
        }

        deserialize_field!($name);

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                Rule::$rule.schema($max, $description, $example)
            }
        }

        impl ToSchema for $name {}
    };
}

string_field! {
    /// A name: a business's, a campaign's, an API token's.
    Name: Name, at most 100,
    "A name: 1 to 100 characters, not all white space (it is kept trimmed); no control, \
     bidirectional-override or zero-width characters.",
    e.g. "Mugs & More"
}

string_field! {
    /// A product's title, or a file's name.
    Title: Name, at most 200,
    "A title: 1 to 200 characters, not all white space (it is kept trimmed); no control, \
     bidirectional-override or zero-width characters.",
    e.g. "Sunrise mug"
}

string_field! {
    /// The market niche a product sells in.
    Niche: Text, at most 100,
    "A market niche: 1 to 100 characters, not all white space (it is kept trimmed); no \
     control characters but tabs and line breaks.",
    e.g. "kitchen"
}

string_field! {
    /// A product's tag, or a keyword.
    Tag: Text, at most 50,
    "A tag or keyword: 1 to 50 characters, not all white space (it is kept trimmed); no \
     control characters but tabs and line breaks.",
    e.g. "ceramic"
}

string_field! {
    /// A product's description.
    Description: OptionalText, at most 5000,
    "Free text of at most 5000 characters (kept trimmed; may be empty); no control \
     characters but tabs and line breaks.",
    e.g. "Hand-thrown, dishwasher safe."
}

string_field! {
    /// What a piece of content is about.
    Subject: Text, at most 200,
    "What the content is about: 1 to 200 characters, not all white space (it is kept \
     trimmed); no control characters but tabs and line breaks.",
    e.g. "Sunrise mug"
}

string_field! {
    /// A price written as the content should show it.
    PriceText: Text, at most 30,
    "A price as the content should show it: 1 to 30 characters, not all white space (it \
     is kept trimmed); no control characters but tabs and line breaks.",
    e.g. "19.99"
}

/// The characters of the Basic Multilingual Plane past ASCII for which `keep` holds, as
/// the inside of a pattern's `[...]` (`\u00A1-\u167F\u1681-…`). Patterns stop at
/// U+FFFF because `\uXXXX` does: a rule that takes such characters takes no others.
pub(crate) fn non_ascii_class(keep: impl Fn(char) -> bool) -> String {
    let mut class = String::new();
    let mut run: Option<(u32, u32)> = None;
    let close = |run: Option<(u32, u32)>, class: &mut String| match run {
        Some((low, high)) if low == high => class.push_str(&format!("\\u{low:04X}")),
        Some((low, high)) => class.push_str(&format!("\\u{low:04X}-\\u{high:04X}")),
        None => {}
    };
    for code in 0x80..=0xFFFF_u32 {
        match (char::from_u32(code).is_some_and(&keep), run) {
            (true, Some((low, high))) if high + 1 == code => run = Some((low, code)),
            (true, _) => {
                close(run, &mut class);
                run = Some((code, code));
            }
            (false, _) => {
                close(run.take(), &mut class);
            }
        }
    }
    close(run, &mut class);
    class
}

/// A business's domain: a host name such as `shop.example.com`, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Domain(String);

/// Longest domain name, in characters.
const MAX_DOMAIN_CHARS: usize = 253;
/// A domain label: an ASCII letter or digit at each end, hyphens allowed inside, 1 to 63.
const DOMAIN_LABEL: &str = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";

impl Domain {
    /// At least two dot-separated labels of ASCII letters, digits and inner hyphens, 1
    /// to 63 characters each, at most 253 in all; no trailing dot, no white space.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        };
        if text.len() > MAX_DOMAIN_CHARS || text.split('.').count() < 2 || !text.split('.').all(label_ok) {
            return Err("must be a domain name such as shop.example.com".into());
        }
        Ok(Self(text.to_ascii_lowercase()))
    }

    /// The domain, in lower case.
    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

impl Field for Domain {
    type Raw = String;

    fn parse(text: String) -> Result<Self, String> {
        Domain::parse(&text)
    }
}

deserialize_field!(Domain);

impl PartialSchema for Domain {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A host name such as `shop.example.com`: at least two dot-separated labels of ASCII letters, \
                 digits and inner hyphens (1 to 63 characters each), at most 253 characters; kept in lower case.",
            ))
            .max_length(Some(MAX_DOMAIN_CHARS))
            .pattern(Some(format!("^({DOMAIN_LABEL}\\.)+{DOMAIN_LABEL}$")))
            .examples(["shop.example.com"])
            .into()
    }
}

impl ToSchema for Domain {}

/// One of the built-in personality profiles, named in any case; kept by its lower-case
/// name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersonalityName(String);

impl PersonalityName {
    /// A built-in profile's name, in any case (ASCII), with nothing around it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        boardroom_personalities::find(text)
            .map(|profile| Self(profile.name.to_lowercase()))
            .map_err(|error| error.to_string())
    }

    /// The profile's lower-case name.
    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

impl Field for PersonalityName {
    type Raw = String;

    fn parse(text: String) -> Result<Self, String> {
        PersonalityName::parse(&text)
    }
}

deserialize_field!(PersonalityName);

impl PartialSchema for PersonalityName {
    fn schema() -> RefOr<Schema> {
        // Each name in any case, letter by letter: `[Cc][Oo]…` (patterns have no flags).
        let names: Vec<String> = boardroom_personalities::built_in()
            .iter()
            .map(|profile| {
                profile
                    .name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphabetic() {
                            format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            })
            .collect();
        let listed: Vec<String> = boardroom_personalities::built_in().into_iter().map(|profile| profile.name).collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!("A built-in personality profile, in any case: {}.", listed.join(", "))))
            .pattern(Some(format!("^({})$", names.join("|"))))
            .examples(listed.first().cloned())
            .into()
    }
}

impl ToSchema for PersonalityName {}

string_field! {
    /// The kind of experience the memory agent recalls.
    ActionType: Text, at most 50,
    "An action type: 1 to 50 characters, not all white space (it is kept trimmed); no control characters \
     but tabs and line breaks.",
    e.g. "autopilot_cycle"
}

/// Highest amount accepted: a guard against a misplaced decimal point.
pub(crate) const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// What an amount must be above or at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Floor {
    /// Above 0.
    Positive,
    /// 0 or more.
    NonNegative,
    /// 0 to 100: a share, in percent.
    Percent,
}

impl Floor {
    /// The amount as a client sent it, checked: `text` is a string's content or a
    /// number's shortest decimal spelling (Rust never writes an `f64` with an exponent).
    fn parse(self, text: &str) -> Result<Decimal, String> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (digits.contains('.') && fraction.is_empty())
        {
            return Err("must be an amount such as \"19.99\" (or the JSON number 19.99)".into());
        }
        if fraction.len() > 2 {
            return Err("must be in whole cents (at most 2 decimal places)".into());
        }
        let max = if self == Floor::Percent { Decimal::ONE_HUNDRED } else { MAX_AMOUNT };
        // Too many digits for a `Decimal` is far past the maximum.
        let too_large = || format!("must be at most {max}");
        let mut amount = Decimal::from_str(text).map_err(|_| too_large())?;
        // Any minus sign is refused, `-0` included: the pattern has none.
        match self {
            Floor::Positive if negative || amount.is_zero() => return Err("must be greater than 0".into()),
            Floor::NonNegative | Floor::Percent if negative => return Err("must not be negative".into()),
            _ => {}
        }
        if amount > max {
            return Err(too_large());
        }
        amount.rescale(2);
        Ok(amount)
    }

    /// The same rule as JSON Schema: a string matching a pattern, or a number in range
    /// that is a whole number of cents.
    fn schema(self, description: &str) -> RefOr<Schema> {
        // At most 1000000 (the pattern spells out its six digits).
        let up_to_max = r"0*1000000(\.00?)?";
        if self == Floor::Percent {
            return ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
                .description(Some(description))
                .pattern(Some(r"^(0*[0-9]{1,2}(\.[0-9]{1,2})?|0*100(\.00?)?)$"))
                .minimum(Some(0))
                .maximum(Some(100))
                .multiple_of(Some(0.01))
                .examples(["20"])
                .into();
        }
        let (pattern, floor) = match self {
            Floor::Positive => (
                format!(r"^(0*[1-9][0-9]{{0,5}}(\.[0-9]{{1,2}})?|{up_to_max}|0+\.(0[1-9]|[1-9][0-9]?))$"),
                ObjectBuilder::new().exclusive_minimum(Some(0)),
            ),
            Floor::NonNegative | Floor::Percent => {
                (format!(r"^(0*[0-9]{{1,6}}(\.[0-9]{{1,2}})?|{up_to_max})$"), ObjectBuilder::new().minimum(Some(0)))
            }
        };
        floor
            .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
            .description(Some(description))
            .pattern(Some(pattern))
            .maximum(Some(1_000_000))
            .multiple_of(Some(0.01))
            .examples(["19.99"])
            .into()
    }
}

/// An amount as sent, before its rule: a string's content, or a number's shortest
/// decimal spelling (Rust never writes an `f64` with an exponent).
pub(crate) struct AmountText(String);

impl<'de> Deserialize<'de> for AmountText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }
}

/// Reads an amount from a string or a number, keeping the number's decimal spelling.
struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = AmountText;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an amount as a decimal string or a number")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<AmountText, E> {
        Ok(AmountText(value.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<AmountText, E> {
        Ok(AmountText(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<AmountText, E> {
        Ok(AmountText(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<AmountText, E> {
        // `Display` writes the shortest decimal that reads back as the same `f64`, with
        // no exponent: `0.1` stays `0.1`, `1e-7` is `0.0000001` (refused: not cents).
        // The number -0 is 0, as JSON Schema compares it (the string "-0" is refused).
        let value = if value == 0.0 { 0.0 } else { value };
        Ok(AmountText(value.to_string()))
    }
}

/// Declares an amount type with its floor.
macro_rules! amount_field {
    ($(#[$attribute:meta])* $name:ident: $floor:ident, $description:literal) => {
        $(#[$attribute])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct $name(Decimal);

        impl $name {
            /// The amount, with exactly two decimal places.
            pub(crate) fn value(self) -> Decimal {
                self.0
            }
        }

        impl Field for $name {
            type Raw = AmountText;

            fn parse(AmountText(text): AmountText) -> Result<Self, String> {
                Floor::$floor.parse(&text).map(Self)
            }
        }

        deserialize_field!($name);

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                Floor::$floor.schema($description)
            }
        }

        impl ToSchema for $name {}
    };
}

amount_field! {
    /// An amount above 0: a price, a budget, a revenue goal.
    PositiveAmount: Positive,
    "Money above 0 and at most 1000000, in whole cents: a decimal string such as `\"19.99\"` \
     (digits, then at most two decimals) or a JSON number such as `19.99`."
}

amount_field! {
    /// An amount of 0 or more: a cost.
    NonNegativeAmount: NonNegative,
    "Money from 0 to 1000000, in whole cents: a decimal string such as `\"4.50\"` (digits, \
     then at most two decimals) or a JSON number such as `4.5`."
}

amount_field! {
    /// A share in percent, 0 to 100, to the hundredth: a cap on a price cut.
    Percent: Percent,
    "A percentage from 0 to 100, at most two decimals: a decimal string such as `\"20\"` or      `\"12.5\"`, or a JSON number such as `20`."
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn read<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, String> {
        T::deserialize(crate::http::strict_json::Strict(&value)).map_err(|error| error.to_string())
    }

    #[test]
    fn amounts_are_whole_cents_from_a_string_or_a_number() {
        let cents = |value: Value| read::<PositiveAmount>(value).map(|amount| amount.value().to_string());
        for (sent, kept) in [
            (json!("19.99"), "19.99"),
            (json!("19.9"), "19.90"),
            (json!("007"), "7.00"),
            (json!(19.99), "19.99"),
            (json!(0.07), "0.07"),
            (json!(3), "3.00"),
            (json!("1000000.00"), "1000000.00"),
            (json!(1e6), "1000000.00"),
        ] {
            assert_eq!(cents(sent.clone()).as_deref(), Ok(kept), "{sent}");
        }
        for (sent, problem) in [
            (json!("0"), "greater than 0"),
            (json!(0), "greater than 0"),
            (json!("-1"), "greater than 0"),
            (json!("1.001"), "whole cents"),
            (json!(0.30000000000000004), "whole cents"),
            (json!(1e-7), "whole cents"),
            (json!("1000000.01"), "at most 1000000"),
            (json!("9".repeat(40)), "at most 1000000"),
            (json!(1e300), "at most 1000000"),
            (json!("1e2"), "such as"),
            (json!("+5"), "such as"),
            (json!(" 5"), "such as"),
            (json!("5."), "such as"),
            (json!(".5"), "such as"),
            (json!("1_000"), "such as"),
            (json!(""), "such as"),
            (json!(true), "invalid type"),
        ] {
            let error = cents(sent.clone()).expect_err(&sent.to_string());
            assert!(error.contains(problem), "{sent}: {error}");
        }
        assert_eq!(read::<NonNegativeAmount>(json!("0")).map(|amount| amount.value().to_string()), Ok("0.00".into()));
        assert!(read::<NonNegativeAmount>(json!(-0.01)).expect_err("negative").contains("must not be negative"));
        assert!(read::<NonNegativeAmount>(json!("-0")).is_err(), "the pattern has no minus sign");
        assert_eq!(read::<NonNegativeAmount>(json!(-0.0)).map(|amount| amount.value().to_string()), Ok("0.00".into()));
    }

    #[test]
    fn percentages_run_from_0_to_100_in_hundredths() {
        let percent = |value: Value| read::<Percent>(value).map(|share| share.value().to_string());
        for (sent, kept) in
            [(json!("0"), "0.00"), (json!(12.5), "12.50"), (json!("100"), "100.00"), (json!(100), "100.00")]
        {
            assert_eq!(percent(sent.clone()).as_deref(), Ok(kept), "{sent}");
        }
        for (sent, problem) in [
            (json!("100.01"), "at most 100"),
            (json!(1e6), "at most 100"),
            (json!(-1), "must not be negative"),
            (json!("12.345"), "whole cents"),
        ] {
            let error = percent(sent.clone()).expect_err(&sent.to_string());
            assert!(error.contains(problem), "{sent}: {error}");
        }
    }

    #[test]
    fn text_fields_are_trimmed_bounded_and_printable() {
        assert_eq!(read::<Niche>(json!("  kitchen ")).map(Niche::into_inner).as_deref(), Ok("kitchen"));
        assert!(read::<Niche>(json!(" \u{3000} ")).expect_err("blank").contains("must not be empty"));
        assert!(read::<Niche>(json!("a\u{0}b")).expect_err("control").contains("control"));
        assert!(read::<Niche>(json!(" \u{7} kitchen")).is_err(), "a control character is refused, not trimmed");
        assert!(read::<Niche>(json!(format!(" {} ", "x".repeat(99)))).is_err(), "the length is as sent");
        assert_eq!(read::<Description>(json!("")).map(Description::into_inner).as_deref(), Ok(""));
        assert_eq!(
            read::<Description>(json!("two\nlines\t")).map(Description::into_inner).as_deref(),
            Ok("two\nlines")
        );
        assert!(read::<Title>(json!("a\u{202E}b")).is_err());
        assert_eq!(read::<Title>(json!("x".repeat(200))).map(|title| title.as_str().len()), Ok(200));
        assert!(read::<Name>(json!("x".repeat(101))).is_err());
    }

    #[test]
    fn schemas_state_the_rules() {
        let schema = serde_json::to_value(PositiveAmount::schema()).expect("JSON");
        assert_eq!(schema["type"], json!(["string", "number"]));
        assert_eq!((schema["exclusiveMinimum"].as_f64(), schema["maximum"].as_f64()), (Some(0.0), Some(1e6)));
        assert_eq!(schema["multipleOf"].as_f64(), Some(0.01));
        let cost = serde_json::to_value(NonNegativeAmount::schema()).expect("JSON");
        assert_eq!((cost["minimum"].as_f64(), cost.get("exclusiveMinimum")), (Some(0.0), None));
        let name = serde_json::to_value(Name::schema()).expect("JSON");
        assert_eq!((name["minLength"].as_u64(), name["maxLength"].as_u64()), (Some(1), Some(100)));
        assert_eq!(name["pattern"], names::pattern());
        let description = serde_json::to_value(Description::schema()).expect("JSON");
        assert_eq!(
            (description["minLength"].as_u64(), description["pattern"].as_str()),
            (Some(0), Some(&*text_pattern(false)))
        );
    }
}
