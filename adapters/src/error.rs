//! The one error type at this crate's edge.

use thiserror::Error;

use crate::Platform;

/// Why a platform call failed.
#[derive(Debug, Error)]
pub enum AdapterError {
    /// The platform asked us to slow down.
    #[error("{platform:?} rate limit; retry after {retry_after_secs} s")]
    RateLimited {
        /// Which platform.
        platform: Platform,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The platform refused the request as invalid; retrying will not help.
    #[error("{platform:?} rejected the request: {message}")]
    Rejected {
        /// Which platform.
        platform: Platform,
        /// The platform's message.
        message: String,
    },
    /// Our own throttle held the call back: the tenant's tier allows only so many
    /// platform calls at once. Retrying later is safe.
    #[error("{platform:?} call held back by the tenant's throttle ({reason}); retry after {retry_after_secs:.1} s")]
    Throttled {
        /// Which platform the call was for.
        platform: Platform,
        /// Which limit.
        reason: String,
        /// Seconds to wait.
        retry_after_secs: f64,
    },
    /// Network or server trouble; a retry with the same idempotency key is safe.
    #[error("{platform:?} unavailable: {message}")]
    Unavailable {
        /// Which platform.
        platform: Platform,
        /// What happened.
        message: String,
    },
}

impl AdapterError {
    /// A [`AdapterError::Rejected`] from `platform` saying `message`.
    pub fn rejected(platform: Platform, message: impl Into<String>) -> Self {
        Self::Rejected { platform, message: message.into() }
    }

    /// The platform that answered.
    pub fn platform(&self) -> Platform {
        match self {
            Self::RateLimited { platform, .. }
            | Self::Rejected { platform, .. }
            | Self::Throttled { platform, .. }
            | Self::Unavailable { platform, .. } => *platform,
        }
    }

    /// Whether the same call (with the same idempotency key) may succeed later:
    /// true for rate limits and outages, false for rejections.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Rejected { .. })
    }
}
