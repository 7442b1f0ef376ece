//! Credentials parsed at the edge ([`Email`], [`Password`]) and Argon2id hashing.
//!
//! Hashing is deliberately slow (Argon2id's defaults: 19 MiB, 2 passes), so it runs on
//! tokio's blocking pool: on an async worker it would stall every other request on that
//! thread.

use std::fmt;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::Deserialize;
use serde::de::Deserializer;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::http::error::ApiError;
use crate::http::fields::{Field, deserialize_field, non_ascii_class};
use crate::http::names::WHITESPACE_CLASS;

/// A syntactically valid e-mail address, lower-cased (addresses are unique
/// case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email(String);

/// Longest address, and longest local part (before the `@`), in characters.
const MAX_EMAIL_CHARS: usize = 254;
const MAX_LOCAL_PART_CHARS: usize = 64;
/// Longest label of an address's domain, in characters.
const MAX_LABEL_CHARS: usize = 63;

/// Whether `c` may be in a label of an address's domain (hyphens aside): an ASCII
/// letter or digit, or a character of an internationalised domain, which is any
/// character past ASCII up to U+FFFF that is neither white space nor a control
/// character. (Up to U+FFFF because a pattern's `\uXXXX` stops there.)
fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && u32::from(c) <= 0xFFFF && !c.is_whitespace() && !c.is_control())
}

impl Email {
    /// Parses an address as sent: one `@`; before it 1 to 64 characters, none of them
    /// white space or control characters; after it a domain of at least two
    /// dot-separated labels of 1 to 63 label characters (see [`is_label_char`]) with
    /// hyphens inside; at most 254 characters in all. The problem, if any, is said in
    /// words. The address is kept in lower case.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("is required".into());
        }
        if text.chars().count() > MAX_EMAIL_CHARS {
            return Err(format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces".into());
        }
        let Some((local, domain)) = text.split_once('@') else {
            return Err("is not an e-mail address (no @)".into());
        };
        if local.is_empty() || local.chars().count() > MAX_LOCAL_PART_CHARS || domain.contains('@') {
            return Err("is not an e-mail address".into());
        }
        let label_ok = |label: &str| {
            (1..=MAX_LABEL_CHARS).contains(&label.chars().count())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c == '-' || is_label_char(c))
        };
        if domain.split('.').count() < 2 || !domain.split('.').all(label_ok) {
            return Err("has no valid domain (e.g. name@example.com)".into());
        }
        Ok(Self(text.to_lowercase()))
    }

    /// The account key a login names: any text of 1 to 254 characters, trimmed and
    /// lower-cased. A login does not check the address's form: one that cannot be an
    /// account's is simply a wrong one.
    pub(crate) fn for_login(text: &str) -> Result<String, String> {
        if text.is_empty() {
            return Err("is required".into());
        }
        if text.chars().count() > MAX_EMAIL_CHARS {
            return Err(format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        Ok(text.trim().to_lowercase())
    }

    /// The address.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule as a JSON Schema `pattern`.
    fn pattern() -> String {
        let label_chars = format!("A-Za-z0-9{}", non_ascii_class(is_label_char));
        let label = format!("[{label_chars}]([{label_chars}-]{{0,61}}[{label_chars}])?");
        let not_local = format!("@{}{}", r"\u0000-\u001F\u007F-\u009F", WHITESPACE_CLASS);
        format!("^[^{not_local}]{{1,{MAX_LOCAL_PART_CHARS}}}@({label}\\.)+{label}$")
    }
}

impl Field for Email {
    type Raw = String;

    fn parse(text: String) -> Result<Self, String> {
        Email::parse(&text)
    }
}

deserialize_field!(Email);

impl PartialSchema for Email {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "An e-mail address, kept in lower case: 1 to 64 characters before the `@` (no white space or \
                 control characters), then a domain of at least two dot-separated labels (letters, digits, \
                 inner hyphens; internationalised names as they are written), at most 254 characters in all.",
            ))
            .max_length(Some(MAX_EMAIL_CHARS))
            .pattern(Some(Self::pattern()))
            .examples(["owner@example.com"])
            .into()
    }
}

impl ToSchema for Email {}

/// A password within the length rules. Its `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Password(String);

/// Fewest characters a password may have.
pub(crate) const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may have (bounds the hashing work a request can cause).
pub(crate) const MAX_PASSWORD_CHARS: usize = 128;

impl Password {
    /// Checks the length, counted in characters: 8 to 128.
    pub(crate) fn parse(text: String) -> Result<Self, String> {
        let chars = text.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
        }
        Ok(Self(text))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Hashes a password with Argon2id and a fresh random salt, off the async threads.
/// Returns the PHC string (`$argon2id$v=19$m=…`).
pub(crate) async fn hash_password(password: Password) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.0.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| ApiError::Internal(anyhow::anyhow!("password hashing failed: {error}")))
    })
    .await?
}

/// Whether `password` matches the stored PHC string, off the async threads. A stored
/// value that is not a PHC string (a disabled or unfinished account) matches nothing.
///
/// With `None` (no such account) it verifies against a dummy hash and answers `false`,
/// so a login for an unknown address takes as long as one with a wrong password and
/// timing does not reveal which addresses have accounts.
pub(crate) async fn verify_password(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.as_deref().and_then(|text| PasswordHash::new(text).ok());
        match known {
            Some(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
            None => {
                if let Ok(dummy) = PasswordHash::new(DUMMY_HASH.as_str()) {
                    let _ = Argon2::default().verify_password(password.as_bytes(), &dummy);
                }
                false
            }
        }
    })
    .await
    .map_err(ApiError::from)
}

/// A real Argon2id hash of a random password, made once, for [`verify_password`]'s
/// timing equaliser.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = crate::http::auth::secret::random_urlsafe(16);
    Argon2::default().hash_password(random.as_bytes()).map(|hash| hash.to_string()).unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lowercased_and_checked_as_sent() {
        assert_eq!(Email::parse("Ada@Example.COM").expect("valid").as_str(), "ada@example.com");
        assert_eq!(Email::parse("zoë@bücher.example").expect("an IDN").as_str(), "zoë@bücher.example");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@exa mple.com",
            "a@b@c.com",
            "ada@-x.com",
            " ada@example.com",
            "ada@example.com.",
            "ada@ex_ample.com",
            "ada@ex\u{2192}.com\u{1F600}",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
        assert!(Email::parse(&format!("{}@example.com", "é".repeat(64))).is_ok(), "characters, not bytes");
        // A login reads any text and only trims and lower-cases it.
        assert_eq!(Email::for_login(" Ada@Example.com ").as_deref(), Ok("ada@example.com"));
        assert_eq!(Email::for_login("000").as_deref(), Ok("000"));
        assert!(Email::for_login("").is_err() && Email::for_login(&"a".repeat(255)).is_err());
    }

    #[test]
    fn passwords_have_8_to_128_characters() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("long enough".into()).is_ok());
        assert!(Password::parse("é".repeat(8)).is_ok(), "characters, not bytes");
        assert!(Password::parse("x".repeat(129)).is_err());
        assert_eq!(format!("{:?}", Password::parse("hunter2hunter2".into()).expect("valid")), "Password(<redacted>)");
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(Password::parse("correct horse".into()).expect("valid")).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.expect("verify"));
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.expect("verify"));
        assert!(!verify_password("correct horse".into(), None).await.expect("verify"));
        assert!(!verify_password("correct horse".into(), Some("!".into())).await.expect("verify"));
    }
}
