//! Random secrets (session ids, CSRF tokens, API tokens, invite codes) and how they
//! are stored: only a SHA-256 hash of a bearer secret is ever written down, so a leaked
//! database or Redis dump authenticates nobody.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every API token, so tokens are recognisable in logs and secret scanners.
pub(crate) const API_TOKEN_PREFIX: &str = "br_";

/// `bytes` random bytes from the thread's CSPRNG (ChaCha, seeded from the OS), as
/// unpadded base64url.
pub(crate) fn random_urlsafe(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill(buffer.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A new API token: `br_` and 256 random bits.
pub(crate) fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_urlsafe(32))
}

/// The lower-case hex SHA-256 of a secret: the form in which it is stored and looked up.
/// A plain hash (no salt, no stretching) is right here: the secrets are 256 random bits,
/// not passwords, so there is nothing to guess.
pub(crate) fn hash_secret(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// `bytes` as lower-case hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Compares two secrets in time that depends only on their lengths (`subtle`), so a
/// wrong CSRF token does not reveal how many of its leading bytes were right.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_tokens_carry_the_prefix_and_256_random_bits() {
        let token = new_api_token();
        assert!(token.starts_with("br_"));
        assert_eq!(token.len(), 3 + 43, "32 bytes are 43 base64url characters");
        assert_ne!(token, new_api_token());
    }

    #[test]
    fn secrets_are_stored_as_sha256_hex() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
