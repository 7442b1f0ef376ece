//! Secrets at rest: platform credentials are sealed with ChaCha20-Poly1305 before they
//! reach the database, so a leaked database (or backup) leaks no store's keys.
//!
//! ## Keys
//! Every key the server takes from its `SECRET_KEY` is derived with HKDF-SHA256 under a
//! label of its own ([`KeyPurpose`]), so no two purposes ever share a key and a label
//! names its version (`…/v1`) for the day a scheme changes. Today the only such key
//! seals credentials: sessions, CSRF tokens and API tokens are random values the
//! database keeps as SHA-256 hashes, and owe nothing to the secret.
//!
//! Each sealing draws a fresh random 96-bit nonce, stored beside the ciphertext; the
//! associated data binds a ciphertext to the record it was sealed for, so one store's
//! sealed credentials copied into another record do not open.
//!
//! ## Rotation
//! [`CredentialSealer`] seals under the current secret and opens with it first, then
//! with `SECRET_KEY_PREVIOUS` when one is configured; `boardroom rotate-secrets` then
//! re-seals everything under the current secret, after which the previous one can go.
//!
//! ## The legacy scheme
//! Before HKDF the key was SHA-256 over a label and the secret; such values are stored
//! with the algorithm name `chacha20poly1305` (new ones say
//! `hkdf-sha256/chacha20poly1305`). They are still opened, with either secret, and
//! `rotate-secrets` re-seals them in the new scheme.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SecretKey;

/// What a key derived from `SECRET_KEY` is for; each has its own HKDF label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyPurpose {
    /// Sealing platform credentials at rest.
    CredentialsSeal,
}

impl KeyPurpose {
    /// The HKDF `info` label: the purpose and the scheme's version.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::CredentialsSeal => "boardroom/credentials-seal/v1",
        }
    }
}

/// The 256-bit key for `purpose` derived from a server secret with HKDF-SHA256 (no
/// salt: the secret is already high-entropy; the label separates the purposes).
pub(crate) fn derive_key(secret: &str, purpose: KeyPurpose) -> [u8; 32] {
    let mut key = [0_u8; 32];
    hkdf::Hkdf::<Sha256>::new(None, secret.as_bytes())
        .expand(purpose.label().as_bytes(), &mut key)
        // 32 bytes is far below HKDF-SHA256's 8,160-byte limit, so this cannot fail.
        .unwrap_or_else(|_| unreachable!());
    key
}

/// The algorithm name stored with values sealed under an HKDF-derived key.
const ALGORITHM: &str = "hkdf-sha256/chacha20poly1305";
/// The algorithm name of the legacy scheme (key = SHA-256 over a label and the secret).
const LEGACY_ALGORITHM: &str = "chacha20poly1305";
/// The legacy scheme's label.
const LEGACY_KEY_LABEL: &[u8] = b"boardroom/credentials/chacha20poly1305/v1\0";

/// A sealed secret as stored: algorithm, nonce and ciphertext (with its tag), base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// `hkdf-sha256/chacha20poly1305`, or `chacha20poly1305` for the legacy scheme.
    pub(crate) algorithm: String,
    /// The 12-byte nonce, base64.
    pub(crate) nonce: String,
    /// Ciphertext followed by the 16-byte tag, base64.
    pub(crate) ciphertext: String,
}

/// The ciphers one server secret gives: the current scheme's and the legacy one's.
struct SecretCiphers {
    current: ChaCha20Poly1305,
    legacy: ChaCha20Poly1305,
}

impl SecretCiphers {
    fn new(secret: &str) -> Self {
        let legacy: [u8; 32] =
            Sha256::new().chain_update(LEGACY_KEY_LABEL).chain_update(secret.as_bytes()).finalize().into();
        Self {
            current: ChaCha20Poly1305::new(&derive_key(secret, KeyPurpose::CredentialsSeal).into()),
            legacy: ChaCha20Poly1305::new(&legacy.into()),
        }
    }

    fn open(&self, sealed: &Sealed, context: &str) -> Option<Vec<u8>> {
        let cipher = match sealed.algorithm.as_str() {
            ALGORITHM => &self.current,
            LEGACY_ALGORITHM => &self.legacy,
            _ => return None,
        };
        let nonce_bytes = BASE64.decode(&sealed.nonce).ok()?;
        let nonce = Nonce::try_from(nonce_bytes.as_slice()).ok()?;
        let ciphertext = BASE64.decode(&sealed.ciphertext).ok()?;
        cipher.decrypt(&nonce, Payload { msg: &ciphertext, aad: context.as_bytes() }).ok()
    }
}

/// What opening a sealed value found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opened {
    /// Sealed under the current secret in the current scheme: nothing to re-seal.
    Current(Vec<u8>),
    /// Readable, but sealed under the previous secret or in the legacy scheme: re-seal it.
    Stale(Vec<u8>),
    /// Neither secret opens it (or it was altered, or sealed for another record).
    Unreadable,
}

/// Seals with the current secret and opens with the current, then the previous one.
pub(crate) struct CredentialSealer {
    current: SecretCiphers,
    previous: Option<SecretCiphers>,
}

impl CredentialSealer {
    /// The sealer for a server secret and, during a rotation, the one before it.
    pub(crate) fn new(current: &SecretKey, previous: Option<&SecretKey>) -> Self {
        Self {
            current: SecretCiphers::new(current.expose()),
            previous: previous.map(|secret| SecretCiphers::new(secret.expose())),
        }
    }

    /// The sealer for the settings' `SECRET_KEY` and `SECRET_KEY_PREVIOUS`.
    pub(crate) fn from_settings(settings: &crate::Settings) -> Self {
        Self::new(&settings.secret_key, settings.secret_key_previous.as_ref())
    }

    /// Seals `plaintext` for the record named `context` (the associated data).
    pub(crate) fn seal(&self, plaintext: &[u8], context: &str) -> Result<Sealed, anyhow::Error> {
        let nonce = Nonce::generate();
        let ciphertext = self
            .current
            .current
            .encrypt(&nonce, Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| anyhow::anyhow!("sealing credentials failed"))?;
        Ok(Sealed {
            algorithm: ALGORITHM.to_owned(),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    /// Opens what [`seal`](Self::seal) sealed for the same `context`, under either
    /// secret and in either scheme; `None` when neither opens it.
    pub(crate) fn open(&self, sealed: &Sealed, context: &str) -> Option<Vec<u8>> {
        match self.open_for_rotation(sealed, context) {
            Opened::Current(plaintext) | Opened::Stale(plaintext) => Some(plaintext),
            Opened::Unreadable => None,
        }
    }

    /// Opens a value and says whether it needs re-sealing under the current secret.
    pub(crate) fn open_for_rotation(&self, sealed: &Sealed, context: &str) -> Opened {
        if let Some(plaintext) = self.current.open(sealed, context) {
            return if sealed.algorithm == ALGORITHM { Opened::Current(plaintext) } else { Opened::Stale(plaintext) };
        }
        match self.previous.as_ref().and_then(|previous| previous.open(sealed, context)) {
            Some(plaintext) => Opened::Stale(plaintext),
            None => Opened::Unreadable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretKey {
        SecretKey::new(text)
    }

    #[test]
    fn the_same_secret_and_purpose_always_derive_the_same_key() {
        let secret = "0123456789abcdef0123456789abcdef";
        assert_eq!(derive_key(secret, KeyPurpose::CredentialsSeal), derive_key(secret, KeyPurpose::CredentialsSeal));
        assert_ne!(
            derive_key(secret, KeyPurpose::CredentialsSeal),
            derive_key("another secret entirely, 32+ chars", KeyPurpose::CredentialsSeal)
        );
    }

    #[test]
    fn different_labels_give_unrelated_keys() {
        // Only one purpose exists today; HKDF itself keeps labels apart, which is what
        // the next purpose will rely on.
        let extract = hkdf::Hkdf::<Sha256>::new(None, b"0123456789abcdef0123456789abcdef");
        let (mut seal, mut csrf) = ([0_u8; 32], [0_u8; 32]);
        extract.expand(KeyPurpose::CredentialsSeal.label().as_bytes(), &mut seal).expect("32 bytes");
        extract.expand(b"boardroom/csrf/v1", &mut csrf).expect("32 bytes");
        assert_ne!(seal, csrf);
        assert_eq!(seal, derive_key("0123456789abcdef0123456789abcdef", KeyPurpose::CredentialsSeal));
        // Nor is the derived key the legacy one.
        let legacy: [u8; 32] = Sha256::new()
            .chain_update(LEGACY_KEY_LABEL)
            .chain_update(b"0123456789abcdef0123456789abcdef")
            .finalize()
            .into();
        assert_ne!(seal, legacy);
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let sealer = CredentialSealer::new(&secret("server secret"), None);
        let sealed = sealer.seal(b"sk_live_123", "tenant:1/store:a").expect("sealed");
        assert_eq!(sealed.algorithm, ALGORITHM);
        assert!(!sealed.ciphertext.contains("sk_live"));
        assert_eq!(sealer.open(&sealed, "tenant:1/store:a").as_deref(), Some(&b"sk_live_123"[..]));
        assert_eq!(sealer.open(&sealed, "tenant:2/store:a"), None, "bound to its record");
        assert_eq!(CredentialSealer::new(&secret("other secret"), None).open(&sealed, "tenant:1/store:a"), None);
        let again = sealer.seal(b"sk_live_123", "tenant:1/store:a").expect("sealed");
        assert_ne!(again.nonce, sealed.nonce, "a fresh nonce every time");
    }

    #[test]
    fn the_previous_secret_still_opens_what_it_sealed_until_it_is_resealed() {
        let old = CredentialSealer::new(&secret("old secret"), None);
        let sealed = old.seal(b"sk_live_123", "ctx").expect("sealed");
        let rotating = CredentialSealer::new(&secret("new secret"), Some(&secret("old secret")));
        assert_eq!(rotating.open_for_rotation(&sealed, "ctx"), Opened::Stale(b"sk_live_123".to_vec()));
        let resealed = rotating.seal(b"sk_live_123", "ctx").expect("sealed");
        assert_eq!(rotating.open_for_rotation(&resealed, "ctx"), Opened::Current(b"sk_live_123".to_vec()));
        let rotated = CredentialSealer::new(&secret("new secret"), None);
        assert_eq!(rotated.open(&resealed, "ctx").as_deref(), Some(&b"sk_live_123"[..]));
        assert_eq!(rotated.open_for_rotation(&sealed, "ctx"), Opened::Unreadable, "the old key is gone");
    }

    #[test]
    fn values_sealed_by_the_legacy_scheme_still_open_and_are_marked_for_resealing() {
        // Sealed as the pre-HKDF code did: the key is SHA-256 over the label and secret.
        let key: [u8; 32] =
            Sha256::new().chain_update(LEGACY_KEY_LABEL).chain_update(b"server secret").finalize().into();
        let nonce = Nonce::generate();
        let ciphertext = ChaCha20Poly1305::new(&key.into())
            .encrypt(&nonce, Payload { msg: b"sk_live_123", aad: b"ctx" })
            .expect("sealed");
        let legacy = Sealed {
            algorithm: LEGACY_ALGORITHM.to_owned(),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        };
        let sealer = CredentialSealer::new(&secret("server secret"), None);
        assert_eq!(sealer.open_for_rotation(&legacy, "ctx"), Opened::Stale(b"sk_live_123".to_vec()));
        let rotating = CredentialSealer::new(&secret("new secret"), Some(&secret("server secret")));
        assert_eq!(rotating.open(&legacy, "ctx").as_deref(), Some(&b"sk_live_123"[..]));
    }
}
