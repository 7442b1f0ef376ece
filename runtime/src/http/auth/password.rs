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

use crate::http::error::ApiError;

/// A syntactically valid e-mail address, trimmed and lower-cased (addresses are unique
/// case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email(String);

impl Email {
    /// Parses an address: one `@`, a non-empty local part of at most 64 bytes, a domain
    /// of dot-separated labels (letters, digits, hyphens), at most 254 bytes in all, no
    /// spaces or control characters. The problem, if any, is said in words.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let address = text.trim().to_lowercase();
        if address.is_empty() {
            return Err("is required".into());
        }
        if address.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces".into());
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err("is not an e-mail address (no @)".into());
        };
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err("is not an e-mail address".into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err("has no valid domain (e.g. name@example.com)".into());
        }
        Ok(Self(address))
    }

    /// The address.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

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
    fn addresses_are_trimmed_lowercased_and_checked() {
        assert_eq!(Email::parse("  Ada@Example.COM ").expect("valid").as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "ada@exa mple.com", "a@b@c.com", "ada@-x.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
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
