//! `[retry]`: how a record the CRM refused is tried again by later runs on their own, and
//! the spans of time written as `15m`, `2h` or `3d` (also taken by `records list
//! --changed-since`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Millis;

/// `[retry]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// How many times a failed record is tried again by later runs before it is parked for a
    /// person (`crmsync retry`); 0 parks every failure at once.
    pub attempts: u32,
    /// How long after a failure the first automatic try waits; each later one waits twice as
    /// long as the one before.
    #[serde(serialize_with = "write_span", deserialize_with = "read_span")]
    pub backoff: Millis,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            attempts: 3,
            backoff: 15 * MINUTE,
        }
    }
}

const SECOND: Millis = 1000;
const MINUTE: Millis = 60 * SECOND;
const HOUR: Millis = 60 * MINUTE;
const DAY: Millis = 24 * HOUR;

/// A span of time written as a whole number and a unit: `30s`, `15m`, `2h`, `3d`, `1w`.
pub fn parse_span(text: &str) -> Result<Millis, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let unit_ms = match unit.trim() {
        "s" => SECOND,
        "m" | "min" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        _ => return Err(span_error(text)),
    };
    let n: Millis = digits.parse().map_err(|_| span_error(text))?;
    n.checked_mul(unit_ms).ok_or_else(|| span_error(text))
}

fn span_error(text: &str) -> String {
    format!(
        "`{text}` is not a span of time: expected a whole number and a unit, like `30s`, `15m`, `2h`, `3d` or `1w`"
    )
}

/// A span as [`parse_span`] reads it, in the largest unit that divides it.
pub fn format_span(ms: Millis) -> String {
    for (unit, size) in [("w", 7 * DAY), ("d", DAY), ("h", HOUR), ("m", MINUTE)] {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms / SECOND)
}

fn read_span<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    let text = String::deserialize(d)?;
    parse_span(&text).map_err(serde::de::Error::custom)
}

fn write_span<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_span(*ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_each_unit_and_write_back_the_same() {
        assert_eq!(parse_span("15m"), Ok(15 * MINUTE));
        assert_eq!(parse_span("2h"), Ok(2 * HOUR));
        assert_eq!(parse_span(" 3d "), Ok(3 * DAY));
        assert_eq!(parse_span("1w"), Ok(7 * DAY));
        assert_eq!(parse_span("90s"), Ok(90 * SECOND));
        for text in ["15m", "2h", "3d", "1w", "90s"] {
            assert_eq!(format_span(parse_span(text).unwrap()), text);
        }
    }

    #[test]
    fn a_span_without_a_known_unit_or_number_is_refused_saying_what_is_expected() {
        for bad in ["", "15", "m", "2 hours", "-3d", "1.5h"] {
            let e = parse_span(bad).unwrap_err();
            assert!(e.contains("`15m`"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_retry_table_defaults_to_three_attempts_fifteen_minutes_apart() {
        let r: RetrySettings = toml::from_str("").unwrap();
        assert_eq!(r, RetrySettings::default());
        assert_eq!((r.attempts, r.backoff), (3, 15 * MINUTE));
        let r: RetrySettings = toml::from_str("attempts = 5\nbackoff = \"1h\"").unwrap();
        assert_eq!((r.attempts, r.backoff), (5, HOUR));
        assert!(toml::from_str::<RetrySettings>("backoff = \"soon\"").is_err());
    }
}
