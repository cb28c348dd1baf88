//! What Salesforce's error answers say. A REST error is a JSON array of
//! `{message, errorCode, fields}` (DIGEST §3.9); a record refused within a collection call
//! has `errors: [{statusCode, message, fields}]` in its save result (DIGEST §3.6); the OAuth
//! endpoints answer `{error, error_description}`.

use serde_json::Value;

use crate::providers::{RecordError, RecordErrorKind, UNKNOWN_PROPERTIES_CODE_PREFIX};

/// The errors of an error array (or of a single error object).
fn errors(body: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// The code of one error: `errorCode` (REST) or `statusCode` (a save result).
fn code_of(e: &Value) -> Option<&str> {
    e["errorCode"].as_str().or(e["statusCode"].as_str())
}

/// The message of an error body: each error's message with its code, joined.
pub(super) fn error_message(body: &str) -> Option<String> {
    let parts: Vec<String> = errors(body)
        .iter()
        .filter_map(|e| {
            let message = e["message"]
                .as_str()
                .or(e["error_description"].as_str())?
                .trim();
            let code = code_of(e).or(e["error"].as_str());
            Some(match code {
                Some(c) if !message.contains(c) => format!("{message} ({c})"),
                _ => message.to_string(),
            })
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The error codes of an error body.
pub(super) fn codes(body: &str) -> Vec<String> {
    errors(body)
        .iter()
        .filter_map(|e| code_of(e).map(str::to_string))
        .collect()
}

/// Whether a `403 REQUEST_LIMIT_EXCEEDED` is the limit on long-running requests at once
/// (`ConcurrentPerOrgLongTxn Limit exceeded.`, DIGEST §3.10's concurrency limit), which
/// passes in seconds, and not the org's daily allocation spent (`TotalRequests Limit
/// exceeded.`). Both messages are as commonly reported (unconfirmed); an answer whose
/// `Sforce-Limit-Info` shows room left in the allocation is the former too.
pub(super) fn concurrent_limit(body: &str, usage: Option<(u64, u64)>) -> bool {
    let concurrent = errors(body).iter().any(|e| {
        code_of(e) == Some("REQUEST_LIMIT_EXCEEDED")
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("Concurrent"))
    });
    concurrent || usage.is_some_and(|(used, max)| used < max)
}

/// Salesforce does not throttle with 429 (DIGEST §3.9): nothing to wait for from a body.
pub(super) fn throttle_hint(_body: &str) -> Option<std::time::Duration> {
    None
}

/// Codes of a refusal worth trying again as it is: a row locked by another transaction.
const RETRYABLE: &[&str] = &["UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG"];

/// The refusal of one record from its save result's `errors`. A field the org does not have
/// (`INVALID_FIELD`, deleted there since `describe` was read) is named so the engine reads
/// the catalogue again and writes without it.
pub(super) fn record_error(errors: &Value) -> RecordError {
    let list: Vec<&Value> = errors.as_array().into_iter().flatten().collect();
    let message =
        error_message(&Value::Array(list.iter().map(|e| (*e).clone()).collect()).to_string())
            .unwrap_or_else(|| "Salesforce refused the record without saying why".into());
    let first = list.first().and_then(|e| code_of(e)).map(str::to_string);
    let unknown: Vec<String> = list
        .iter()
        .filter(|e| code_of(e) == Some("INVALID_FIELD"))
        .flat_map(|e| e["fields"].as_array().into_iter().flatten())
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    let code = if unknown.is_empty() {
        first.clone()
    } else {
        Some(format!(
            "{UNKNOWN_PROPERTIES_CODE_PREFIX}{}",
            unknown.join(",")
        ))
    };
    RecordError {
        message,
        retryable: first.as_deref().is_some_and(|c| RETRYABLE.contains(&c)),
        code,
        kind: RecordErrorKind::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_error_array_reads_as_its_messages_and_codes() {
        let body = r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Session expired or invalid (INVALID_SESSION_ID)")
        );
        assert_eq!(codes(body), ["INVALID_SESSION_ID"]);
        let oauth =
            r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#;
        assert_eq!(
            error_message(oauth).as_deref(),
            Some("expired access/refresh token (invalid_grant)")
        );
        assert_eq!(error_message("<html>proxy</html>"), None);
        assert_eq!(error_message("[]"), None);
    }

    #[test]
    fn a_refused_record_keeps_salesforces_message_and_code() {
        let e = record_error(&json!([{
            "statusCode": "STRING_TOO_LONG",
            "message": "Last Name: data value too large",
            "fields": ["LastName"]
        }]));
        assert_eq!(
            e.message,
            "Last Name: data value too large (STRING_TOO_LONG)"
        );
        assert_eq!(e.code.as_deref(), Some("STRING_TOO_LONG"));
        assert!(!e.retryable);
        let gone = record_error(&json!([{
            "statusCode": "INVALID_FIELD", "message": "No such column", "fields": ["Pronouns__c"]
        }]));
        assert_eq!(gone.unknown_properties(), ["Pronouns__c"]);
        let locked = record_error(&json!([{ "statusCode": "UNABLE_TO_LOCK_ROW", "message": "x" }]));
        assert!(locked.retryable);
    }

    #[test]
    fn the_concurrency_limit_is_told_from_the_daily_allocation() {
        let busy = r#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        let spent =
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(concurrent_limit(busy, None));
        assert!(!concurrent_limit(spent, None));
        assert!(!concurrent_limit(spent, Some((100, 100))));
        assert!(concurrent_limit(spent, Some((10, 100))));
    }
}
