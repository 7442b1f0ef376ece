//! Secrets at rest: platform credentials are sealed with ChaCha20-Poly1305 before they
//! reach the database, so a leaked database (or backup) leaks no store's keys.
//!
//! The key is SHA-256 over a domain-separation label and the server's `SECRET_KEY`: the
//! same secret also keys other things (sessions), and the label keeps the derived keys
//! unrelated. Each sealing draws a fresh random 96-bit nonce, stored beside the
//! ciphertext; the associated data binds a ciphertext to the record it was sealed for,
//! so one store's sealed credentials copied into another record do not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Separates this key from anything else derived from `SECRET_KEY`.
const KEY_LABEL: &[u8] = b"boardroom/credentials/chacha20poly1305/v1\0";
/// The algorithm name stored with each sealed value.
const ALGORITHM: &str = "chacha20poly1305";

/// A sealed secret as stored: algorithm, nonce and ciphertext (with its tag), base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// Always `chacha20poly1305` for now; a later scheme gets another name.
    pub(crate) algorithm: String,
    /// The 12-byte nonce, base64.
    pub(crate) nonce: String,
    /// Ciphertext followed by the 16-byte tag, base64.
    pub(crate) ciphertext: String,
}

/// Seals and opens secrets with the key derived from the server secret.
pub(crate) struct CredentialSealer {
    cipher: ChaCha20Poly1305,
}

impl CredentialSealer {
    /// The sealer for a server secret.
    pub(crate) fn from_secret(secret: &str) -> Self {
        let key: [u8; 32] = Sha256::new().chain_update(KEY_LABEL).chain_update(secret.as_bytes()).finalize().into();
        Self { cipher: ChaCha20Poly1305::new(&key.into()) }
    }

    /// Seals `plaintext` for the record named `context` (the associated data).
    pub(crate) fn seal(&self, plaintext: &[u8], context: &str) -> Result<Sealed, anyhow::Error> {
        let nonce = Nonce::generate();
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| anyhow::anyhow!("sealing credentials failed"))?;
        Ok(Sealed {
            algorithm: ALGORITHM.to_owned(),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    /// Opens what [`seal`](Self::seal) sealed for the same `context`; `None` when it was
    /// sealed under another key or context, or was altered.
    pub(crate) fn open(&self, sealed: &Sealed, context: &str) -> Option<Vec<u8>> {
        if sealed.algorithm != ALGORITHM {
            return None;
        }
        let nonce_bytes = BASE64.decode(&sealed.nonce).ok()?;
        let nonce = Nonce::try_from(nonce_bytes.as_slice()).ok()?;
        let ciphertext = BASE64.decode(&sealed.ciphertext).ok()?;
        self.cipher.decrypt(&nonce, Payload { msg: &ciphertext, aad: context.as_bytes() }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let sealer = CredentialSealer::from_secret("server secret");
        let sealed = sealer.seal(b"sk_live_123", "tenant:1/store:a").expect("sealed");
        assert!(!sealed.ciphertext.contains("sk_live"));
        assert_eq!(sealer.open(&sealed, "tenant:1/store:a").as_deref(), Some(&b"sk_live_123"[..]));
        assert_eq!(sealer.open(&sealed, "tenant:2/store:a"), None, "bound to its record");
        assert_eq!(CredentialSealer::from_secret("other secret").open(&sealed, "tenant:1/store:a"), None);
        let again = sealer.seal(b"sk_live_123", "tenant:1/store:a").expect("sealed");
        assert_ne!(again.nonce, sealed.nonce, "a fresh nonce every time");
    }
}
