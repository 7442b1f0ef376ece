//! Gumroad's webhook pings (resource subscriptions), which are unsigned: the only thing
//! taken from one is the id of the sale it names, to be re-fetched from the API.

use crate::{AdapterError, Platform};

/// The sale id a ping names (its `sale_id` field), from the ping's form fields as
/// decoded by the receiving route (`application/x-www-form-urlencoded`).
///
/// Gumroad signs nothing it pushes, so anyone who learns the URL could post a ping with
/// any price. Two defences, neither of them here alone: the route's URL carries a secret
/// of ours (checked by the route before this), and the sale is re-fetched from Gumroad's
/// API ([`GumroadClient::sale`](crate::GumroadClient::sale), or
/// [`GumroadClient::sale_from_ping`](crate::GumroadClient::sale_from_ping) which does
/// both) before anything is booked: only what the API says counts, and a made-up id is
/// refused by Gumroad as not found. A ping with no usable `sale_id` (one sent twice, or
/// a field that is not an id) is [`AdapterError::Rejected`].
pub fn sale_from_webhook(fields: &[(String, String)]) -> Result<String, AdapterError> {
    let refuse = |message: &str| AdapterError::rejected(Platform::Gumroad, format!("Gumroad ping: {message}"));
    let mut ids = fields.iter().filter(|(name, _)| name == "sale_id").map(|(_, value)| value.trim());
    let id = ids.next().ok_or_else(|| refuse("sale_id is missing"))?;
    if ids.next().is_some() {
        return Err(refuse("sale_id is given more than once"));
    }
    let plausible = !id.is_empty()
        && id.len() <= 100
        && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'=' | b'+' | b'/'));
    if plausible { Ok(id.to_owned()) } else { Err(refuse("sale_id is not a Gumroad id")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn the_sale_id_is_all_that_is_taken_from_a_ping() {
        let ping = fields(&[("seller_id", "s1"), ("sale_id", "FO8TXN-dbxYaBdahG97Y-Q=="), ("price", "1")]);
        assert_eq!(sale_from_webhook(&ping).expect("an id"), "FO8TXN-dbxYaBdahG97Y-Q==");
        sale_from_webhook(&fields(&[("price", "1")])).expect_err("no id");
        sale_from_webhook(&fields(&[("sale_id", "a"), ("sale_id", "b")])).expect_err("twice");
        sale_from_webhook(&fields(&[("sale_id", "../../user")])).expect_err("not an id");
        sale_from_webhook(&fields(&[("sale_id", " ")])).expect_err("blank");
    }
}
