//! What HubSpot's refusals say: the message of an error answer, how long a 429 asks to wait,
//! the duplicate an "already exists" names, and the per-record errors of a write, including
//! the values too long to send at all.

use serde_json::Value;

use super::catalogue::OWNER_PROPERTY;
use crate::providers::{
    ProviderError, RecordError, RecordErrorKind, RemoteRecord, RemoteWrite, WriteResults,
};

pub(super) fn error_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let msg = v.get("message")?.as_str()?.to_string();
    Some(match v.get("category").and_then(Value::as_str) {
        Some(cat) => format!("{msg} ({cat})"),
        None => msg,
    })
}

pub(super) fn throttle_hint(body: &str) -> Option<std::time::Duration> {
    let v: Value = serde_json::from_str(body).ok()?;
    let policy = v.get("policyName").and_then(Value::as_str).unwrap_or("");
    let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
    if policy == "SECONDLY" || msg.contains("secondly limit") {
        Some(std::time::Duration::from_secs(1))
    } else if policy == "TEN_SECONDLY_ROLLING" {
        Some(std::time::Duration::from_secs(10))
    } else {
        None
    }
}

/// The duplicate's id in HubSpot's "already exists" messages.
pub(super) fn existing_id(message: &str) -> Option<String> {
    let at = message.find("Existing ID:")?;
    let digits: String = message[at + "Existing ID:".len()..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// The most characters HubSpot takes in one property value; a write with a longer one is
/// refused with a validation error.
pub(super) const MAX_VALUE_CHARS: usize = 65_536;

/// The inputs with a property value longer than HubSpot takes, each with the error it gets
/// instead of being sent (the whole batch would otherwise be refused and split).
pub(super) fn too_long(inputs: &[RemoteWrite]) -> Vec<(usize, RecordError)> {
    let mut out = Vec::new();
    for (i, w) in inputs.iter().enumerate() {
        // Bytes bound characters from above: only a value with more bytes is counted.
        let long = w
            .props
            .iter()
            .find(|(_, v)| v.len() > MAX_VALUE_CHARS && v.chars().count() > MAX_VALUE_CHARS);
        if let Some((name, v)) = long {
            out.push((
                i,
                RecordError {
                    message: format!(
                        "HubSpot property `{name}` takes at most {MAX_VALUE_CHARS} characters and this value has {}; shorten it (not sent)",
                        v.chars().count()
                    ),
                    code: Some("too_long".into()),
                    retryable: false,
                    kind: RecordErrorKind::Refused,
                },
            ));
        }
    }
    out
}

/// The results of `n` inputs: `refused` where they were not sent, the `answered` results of
/// the others in order.
pub(super) fn with_refused<T>(
    n: usize,
    refused: Vec<(usize, RecordError)>,
    answered: WriteResults<T>,
) -> WriteResults<T> {
    let mut refused = refused.into_iter().peekable();
    let mut answered = answered.into_iter();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        match refused.next_if(|(j, _)| *j == i) {
            Some((_, e)) => out.push(Err(e)),
            None => out.extend(answered.next()),
        }
    }
    out
}

/// Where some inputs have a value longer than HubSpot takes: their errors, and what `send`
/// answers for the others (sent without them), in input order. `None` when every input fits.
pub(super) async fn refusing_too_long<F, Fut>(
    inputs: &[RemoteWrite],
    send: F,
) -> Option<Result<WriteResults<RemoteRecord>, ProviderError>>
where
    F: FnOnce(Vec<RemoteWrite>) -> Fut,
    Fut: std::future::Future<Output = Result<WriteResults<RemoteRecord>, ProviderError>>,
{
    let refused = too_long(inputs);
    if refused.is_empty() {
        return None;
    }
    let sent: Vec<RemoteWrite> = inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| !refused.iter().any(|(j, _)| j == i))
        .map(|(_, w)| w.clone())
        .collect();
    let answered = if sent.is_empty() {
        Vec::new()
    } else {
        match send(sent).await {
            Ok(answered) => answered,
            Err(e) => return Some(Err(e)),
        }
    };
    Some(Ok(with_refused(inputs.len(), refused, answered)))
}

pub(super) fn record_error(message: String, status: Option<String>) -> RecordError {
    let kind = match existing_id(&message) {
        Some(existing_id) => RecordErrorKind::Duplicate { existing_id },
        None => RecordErrorKind::Refused,
    };
    let retryable = matches!(status.as_deref(), Some(s) if s == "429" || s.starts_with('5'));
    RecordError {
        message,
        code: status,
        retryable,
        kind,
    }
}

/// What a write of one record was refused for. A validation error lists each bad property in
/// `errors` (its message embeds the same list as JSON); they are given one by one, by name,
/// and a value that is not one of a dropdown's options gets a hint, since HubSpot takes an
/// option's internal value (`marketingqualifiedlead`), not its label.
pub(super) fn refusal_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let raw = v.get("message").and_then(Value::as_str).map(str::to_string);
    // A message naming the record that holds a unique value is kept whole: it is parsed.
    if raw.as_deref().and_then(existing_id).is_some() {
        return raw;
    }
    let properties: Vec<(String, &str)> = v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let message = e.get("message")?.as_str()?;
            let text = match e.pointer("/context/propertyName/0").and_then(Value::as_str) {
                Some(name) => format!("`{name}`: {message}"),
                None => message.to_string(),
            };
            Some((text, e.get("code").and_then(Value::as_str).unwrap_or("")))
        })
        .collect();
    if properties.is_empty() {
        return raw;
    }
    let mut text = properties
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let invalid = |owner: bool| {
        properties.iter().any(|(t, code)| {
            *code == "INVALID_OPTION" && t.starts_with(&format!("`{OWNER_PROPERTY}`")) == owner
        })
    };
    if invalid(false) {
        text.push_str(
            " (a dropdown takes one of the values listed, which may differ from the labels HubSpot shows)",
        );
    }
    if invalid(true) {
        text.push_str(
            " (an owner is the email of one of the account's HubSpot users, or its owner id; no owner has this one)",
        );
    }
    Some(text)
}

/// The properties a validation error refuses because HubSpot does not have them
/// (`PROPERTY_DOESNT_EXIST`, each named in its context).
pub(super) fn unknown_properties(body: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    v.get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("code").and_then(Value::as_str) == Some("PROPERTY_DOESNT_EXIST"))
        .filter_map(|e| e.pointer("/context/propertyName/0").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}
