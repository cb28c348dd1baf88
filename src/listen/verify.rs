//! Checks that a webhook delivery comes from the CRM: HubSpot's v3 signature (HMAC-SHA256
//! over method, URI, body and timestamp with the app's client secret, base64) within a
//! 5-minute window, and Pipedrive's HTTP Basic credentials set at subscription.
//!
//! Only HubSpot's v3 signature is taken: HubSpot sends it with every webhook delivery of an
//! app created today (beside the older `X-HubSpot-Signature` v1/v2 header, which signs no
//! timestamp and so cannot refuse a replay). A refusal names what failed, never a secret.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::model::Millis;

/// How old a HubSpot timestamp may be (and how far ahead of this clock).
pub const HUBSPOT_WINDOW_MS: Millis = 5 * 60 * 1000;

/// Why a delivery was refused (answered 401, nothing queued).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no {0} header")]
    MissingHeader(&'static str),
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is not a number of milliseconds")]
    BadTimestamp,
    #[error("the timestamp is {0} s away from this clock (at most 300 s)")]
    Stale(i64),
    #[error("the credentials do not match")]
    BadCredentials,
    #[error("no secret is configured to check this connection's deliveries with")]
    NoSecret,
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Compares two byte strings in time that depends on their length only.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HubSpot's v3 signature of a request: base64 of HMAC-SHA256(secret, method + uri + body +
/// timestamp), `uri` as HubSpot called it (scheme, host, path and query).
pub fn hubspot_v3_signature(
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
) -> String {
    let mut source = Vec::with_capacity(method.len() + uri.len() + body.len() + timestamp.len());
    source.extend_from_slice(method.as_bytes());
    source.extend_from_slice(uri.as_bytes());
    source.extend_from_slice(body);
    source.extend_from_slice(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret.as_bytes(), &source))
}

/// A HubSpot delivery as received.
pub struct HubSpotRequest<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
    pub signature: Option<&'a str>,
    pub timestamp: Option<&'a str>,
}

/// Checks a HubSpot delivery's v3 signature and timestamp at `now`.
pub fn check_hubspot(req: &HubSpotRequest<'_>, secret: &str, now: Millis) -> Result<(), Refusal> {
    let signature = req
        .signature
        .ok_or(Refusal::MissingHeader("X-HubSpot-Signature-v3"))?;
    let timestamp = req
        .timestamp
        .ok_or(Refusal::MissingHeader("X-HubSpot-Request-Timestamp"))?;
    let at: Millis = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    let away = now.saturating_sub(at);
    if away.unsigned_abs() > HUBSPOT_WINDOW_MS as u64 {
        return Err(Refusal::Stale(away / 1000));
    }
    let expected = hubspot_v3_signature(secret, req.method, req.uri, req.body, timestamp);
    if same_bytes(expected.as_bytes(), signature.trim().as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::BadSignature)
    }
}

/// The `Authorization` header of HTTP Basic credentials.
pub fn basic_auth_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Checks a Pipedrive delivery's HTTP Basic credentials.
pub fn check_basic(authorization: Option<&str>, user: &str, password: &str) -> Result<(), Refusal> {
    let header = authorization.ok_or(Refusal::MissingHeader("Authorization"))?;
    let expected = basic_auth_header(user, password);
    if same_bytes(expected.as_bytes(), header.trim().as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::BadCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn request<'a>(sig: &'a str, ts: &'a str, body: &'a [u8]) -> HubSpotRequest<'a> {
        HubSpotRequest {
            method: "POST",
            uri: "https://example.com/hooks/hs",
            body,
            signature: Some(sig),
            timestamp: Some(ts),
        }
    }

    #[test]
    fn a_hubspot_signature_is_checked_with_its_timestamp() {
        let body = br#"[{"eventId":1}]"#;
        let now = 1_700_000_000_000;
        let ts = now.to_string();
        let sig = hubspot_v3_signature("s3cret", "POST", "https://example.com/hooks/hs", body, &ts);
        assert_eq!(
            check_hubspot(&request(&sig, &ts, body), "s3cret", now),
            Ok(())
        );
        assert_eq!(
            check_hubspot(&request(&sig, &ts, body), "other", now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check_hubspot(&request(&sig, &ts, br#"[{"eventId":2}]"#), "s3cret", now),
            Err(Refusal::BadSignature)
        );
        // The same request five minutes and a second later is a replay.
        assert_eq!(
            check_hubspot(&request(&sig, &ts, body), "s3cret", now + 301_000),
            Err(Refusal::Stale(301))
        );
        assert_eq!(
            check_hubspot(&request(&sig, "soon", body), "s3cret", now),
            Err(Refusal::BadTimestamp)
        );
        let mut missing = request(&sig, &ts, body);
        missing.signature = None;
        assert_eq!(
            check_hubspot(&missing, "s3cret", now),
            Err(Refusal::MissingHeader("X-HubSpot-Signature-v3"))
        );
    }

    #[test]
    fn basic_credentials_must_match_exactly() {
        let h = basic_auth_header("crmsync", "pw");
        assert_eq!(h, "Basic Y3Jtc3luYzpwdw==");
        assert_eq!(check_basic(Some(&h), "crmsync", "pw"), Ok(()));
        assert_eq!(
            check_basic(Some(&h), "crmsync", "pw2"),
            Err(Refusal::BadCredentials)
        );
        assert_eq!(
            check_basic(None, "crmsync", "pw"),
            Err(Refusal::MissingHeader("Authorization"))
        );
    }
}
