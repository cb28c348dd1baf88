//! What Pipedrive's error answers say: `{success:false, error, error_info}`.

use serde_json::Value;

/// The message of an error body: `error`, with `error_info` when it adds something.
pub(super) fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let error = match v.get("error")? {
        Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
        Value::Object(o) => o.get("message")?.as_str()?.to_string(),
        _ => return None,
    };
    Some(match v.get("error_info").and_then(Value::as_str) {
        Some(info) if !info.trim().is_empty() && !info.contains(&error) => {
            format!("{error} ({})", info.trim())
        }
        _ => error,
    })
}

/// A 429 without `Retry-After` waits out the two-second burst window.
pub(super) fn throttle_hint(_body: &str) -> Option<std::time::Duration> {
    Some(std::time::Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_reads_as_its_error_and_info() {
        let body = r#"{"success":false,"error":"Person not found","error_info":"Please check developers.pipedrive.com","data":null}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Person not found (Please check developers.pipedrive.com)")
        );
        assert_eq!(
            error_message(r#"{"success":false,"error":"Bad","error_info":"Bad"}"#).as_deref(),
            Some("Bad")
        );
        assert_eq!(error_message("<html>proxy</html>"), None);
        assert_eq!(error_message(r#"{"success":false}"#), None);
    }
}
