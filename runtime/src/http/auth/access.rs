//! A user's access controls (the spec's `access_controls` rows) read into rules:
//!
//! - `ip_whitelist`: comma-separated addresses and CIDR blocks (`203.0.113.7,
//!   10.0.0.0/8, 2001:db8::/32`). When set, requests authenticated as the user (and
//!   their logins) are refused unless the client address is in one of them. The address
//!   is the TCP peer, or, when that peer is one of `TRUSTED_PROXIES`, the address it
//!   forwards (see `http::client`); any other `X-Forwarded-For` is ignored.
//! - `session_timeout`: minutes of inactivity after which a session ends (default
//!   [`DEFAULT_SESSION_TIMEOUT`]).
//!
//! Controls are checked fail-closed: an allow-list none of whose entries parse refuses
//! every address, and an unknown peer address (no connection info) is refused when an
//! allow-list exists.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use boardroom_memory::AccessControl;
use ipnet::IpNet;

/// Idle time after which a session ends unless the user's `session_timeout` says
/// otherwise.
pub(crate) const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// Longest `session_timeout` honoured: 30 days.
const MAX_SESSION_TIMEOUT_MINUTES: u64 = 30 * 24 * 60;

/// The control type of the address allow-list.
pub(crate) const IP_WHITELIST: &str = "ip_whitelist";
/// The control type of the session time-out.
pub(crate) const SESSION_TIMEOUT: &str = "session_timeout";

/// What a user's controls allow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AccessRules {
    /// The allowed networks, `None` when any address is allowed.
    allowed: Option<Vec<IpNet>>,
    /// Idle time after which a session ends.
    pub(crate) session_timeout: Duration,
}

impl Default for AccessRules {
    fn default() -> Self {
        Self { allowed: None, session_timeout: DEFAULT_SESSION_TIMEOUT }
    }
}

impl AccessRules {
    /// Reads the active controls; unknown types are ignored, malformed values are
    /// logged (and, for the allow-list, fail closed).
    pub(crate) fn from_controls(controls: &[AccessControl]) -> Self {
        let mut rules = Self::default();
        for control in controls.iter().filter(|control| control.is_active) {
            match control.control_type.as_str() {
                IP_WHITELIST => rules.allowed = Some(parse_allow_list(control)),
                SESSION_TIMEOUT => match control.control_value.trim().parse::<u64>() {
                    Ok(minutes) if (1..=MAX_SESSION_TIMEOUT_MINUTES).contains(&minutes) => {
                        rules.session_timeout = Duration::from_secs(minutes * 60);
                    }
                    _ => tracing::warn!(
                        user = %control.user_id,
                        value = control.control_value,
                        "session_timeout is not a number of minutes in 1..=43200; using the default"
                    ),
                },
                _ => {}
            }
        }
        rules
    }

    /// Whether a request from `peer` may act as the user.
    pub(crate) fn allows(&self, peer: Option<IpAddr>) -> bool {
        match (&self.allowed, peer) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(networks), Some(peer)) => {
                // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
                let peer = peer.to_canonical();
                networks.iter().any(|network| network.contains(&peer))
            }
        }
    }
}

fn parse_allow_list(control: &AccessControl) -> Vec<IpNet> {
    let mut networks = Vec::new();
    for entry in control.control_value.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let parsed = IpNet::from_str(entry).or_else(|_| IpAddr::from_str(entry).map(IpNet::from));
        match parsed {
            Ok(network) => networks.push(network),
            Err(_) => {
                tracing::warn!(user = %control.user_id, entry, "ignoring an ip_whitelist entry that is neither an address nor a CIDR block")
            }
        }
    }
    networks
}

#[cfg(test)]
mod tests {
    use super::*;
    use boardroom_memory::UserId;

    fn control(control_type: &str, value: &str) -> AccessControl {
        AccessControl {
            id: 1,
            user_id: UserId(1),
            control_type: control_type.into(),
            control_value: value.into(),
            is_active: true,
            created_at: chrono::Utc::now(),
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("address"))
    }

    #[test]
    fn without_controls_everything_is_allowed_for_twelve_hours() {
        let rules = AccessRules::from_controls(&[]);
        assert!(rules.allows(ip("198.51.100.1")) && rules.allows(None));
        assert_eq!(rules.session_timeout, Duration::from_secs(43_200));
    }

    #[test]
    fn an_allow_list_admits_its_addresses_and_blocks_only() {
        let rules = AccessRules::from_controls(&[control(IP_WHITELIST, "203.0.113.7, 10.0.0.0/8,2001:db8::/32")]);
        assert!(rules.allows(ip("203.0.113.7")));
        assert!(rules.allows(ip("10.20.30.40")));
        assert!(rules.allows(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6 is the IPv4 address");
        assert!(rules.allows(ip("2001:db8::1")));
        assert!(!rules.allows(ip("203.0.113.8")));
        assert!(!rules.allows(None), "an unknown peer is refused");
    }

    #[test]
    fn a_malformed_allow_list_fails_closed() {
        let rules = AccessRules::from_controls(&[control(IP_WHITELIST, "not-an-address")]);
        assert!(!rules.allows(ip("127.0.0.1")));
    }

    #[test]
    fn a_session_timeout_is_read_in_minutes() {
        let rules = AccessRules::from_controls(&[control(SESSION_TIMEOUT, "15")]);
        assert_eq!(rules.session_timeout, Duration::from_secs(900));
        let bad = AccessRules::from_controls(&[control(SESSION_TIMEOUT, "soon")]);
        assert_eq!(bad.session_timeout, DEFAULT_SESSION_TIMEOUT);
    }
}
