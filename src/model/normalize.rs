//! Normalisation of canonical values, by field type.
//!
//! Every value that enters the store or is compared by the planner passes through
//! [`normalize`], so that `" Ann@Example.COM "` and `"ann@example.com"` are one value and a
//! CRM that reformats a value does not look like an edit. Normalising is idempotent.

use super::FieldType;

/// Why a value does not fit its field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

/// Normalises `value` for a field of type `ty`. Returns `Ok(None)` for an empty value.
pub fn normalize(ty: FieldType, value: &str) -> Result<Option<String>, BadValue> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let out = match ty {
        FieldType::Text | FieldType::Ref(_) => collapse_ws(v),
        FieldType::Phone => collapse_ws(v),
        FieldType::Email => email(v)?,
        FieldType::EmailList => {
            let mut all = Vec::new();
            for part in v.split([';', ',']) {
                let part = part.trim();
                if !part.is_empty() {
                    let e = email(part)?;
                    if !all.contains(&e) {
                        all.push(e);
                    }
                }
            }
            if all.is_empty() {
                return Ok(None);
            }
            all.join(";")
        }
        FieldType::Number => number(v)?,
        FieldType::Bool => boolean(v)?,
        FieldType::Date => date(v)?,
    };
    Ok(Some(out))
}

/// `v` with every run of white space (line breaks included) folded to one space; `v` is
/// expected trimmed.
pub(crate) fn collapse_ws(v: &str) -> String {
    if needs_collapsing(v) {
        v.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        v.to_string()
    }
}

/// Whether `v` holds white space other than single spaces. One pass over the bytes (an
/// import asks this of every text value); text beyond ASCII is checked char by char.
fn needs_collapsing(v: &str) -> bool {
    let mut after_space = false;
    for &b in v.as_bytes() {
        match b {
            b' ' if after_space => return true,
            b' ' => after_space = true,
            b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => return true,
            0x80.. => {
                return v.contains(|c: char| c.is_whitespace() && c != ' ') || v.contains("  ");
            }
            _ => after_space = false,
        }
    }
    false
}

fn email(v: &str) -> Result<String, BadValue> {
    let e = v.trim().to_lowercase();
    let ok = match e.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !e.contains(char::is_whitespace)
        }
        None => false,
    };
    if ok {
        Ok(e)
    } else {
        Err(BadValue(format!("`{v}` is not an email address")))
    }
}

fn number(v: &str) -> Result<String, BadValue> {
    let n: f64 = v
        .replace(['_', ' '], "")
        .parse()
        .map_err(|_| BadValue(format!("`{v}` is not a number")))?;
    if !n.is_finite() {
        return Err(BadValue(format!("`{v}` is not a finite number")));
    }
    // Shortest text that reads back as the same number: `4`, `4.5`, `-0.25`.
    if n == n.trunc() && n.abs() < 1e15 {
        Ok(format!("{}", n as i64))
    } else {
        Ok(format!("{n}"))
    }
}

fn boolean(v: &str) -> Result<String, BadValue> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" | "x" => Ok("true".into()),
        "false" | "no" | "n" | "0" | "off" => Ok("false".into()),
        _ => Err(BadValue(format!("`{v}` is not true or false"))),
    }
}

fn date(v: &str) -> Result<String, BadValue> {
    // A date, a date-time (its date part, in UTC), or epoch milliseconds (HubSpot's date
    // properties are midnight-UTC epoch milliseconds).
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.format("%Y-%m-%d").to_string());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&chrono::Utc).format("%Y-%m-%d").to_string());
    }
    if let Ok(ms) = v.parse::<i64>()
        && let Some(t) = chrono::DateTime::from_timestamp_millis(ms)
    {
        return Ok(t.format("%Y-%m-%d").to_string());
    }
    Err(BadValue(format!(
        "`{v}` is not a date (expected YYYY-MM-DD)"
    )))
}

/// The E.164 form of a phone number, where it parses: `+` and 8 to 15 digits. A number written
/// with `00` is international; a national number (leading `0` or none) needs
/// `default_calling_code` (`+44`), else it has no E.164 form.
pub fn phone_e164(value: &str, default_calling_code: Option<&str>) -> Option<String> {
    let v = value.trim();
    // Drop an extension: "x123", "ext. 123".
    let v = v
        .split(['x', 'X'])
        .next()
        .unwrap_or(v)
        .split("ext")
        .next()
        .unwrap_or(v);
    if v.chars().any(|c| {
        !(c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.' | '\u{a0}' | '/'))
    }) {
        return None;
    }
    let plus = v.trim_start().starts_with('+');
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    let full = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else {
        let code: String = default_calling_code?
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if code.is_empty() {
            return None;
        }
        let national = digits.strip_prefix('0').unwrap_or(&digits);
        format!("{code}{national}")
    };
    if (8..=15).contains(&full.len()) && !full.starts_with('0') {
        Some(format!("+{full}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectKind;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize(FieldType::Email, "  Ann@Example.COM ").unwrap(),
            Some("ann@example.com".into())
        );
        assert!(normalize(FieldType::Email, "not-an-email").is_err());
        assert!(normalize(FieldType::Email, "a@b@c").is_err());
    }

    #[test]
    fn white_space_inside_text_is_folded_to_single_spaces() {
        for (raw, want) in [
            ("Ann Lee", "Ann Lee"),
            ("Ann  Lee", "Ann Lee"),
            ("Ann\tLee", "Ann Lee"),
            ("Ann \r\n Lee", "Ann Lee"),
            ("Zoë  Ng", "Zoë Ng"),
            ("Zoë Ng", "Zoë Ng"),
            ("Ann\u{a0}Lee", "Ann Lee"),
            ("Ann\u{2003}\u{2003}Lee", "Ann Lee"),
            ("Café Lumière", "Café Lumière"),
        ] {
            assert_eq!(collapse_ws(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn empty_values_are_absent() {
        for ty in [
            FieldType::Text,
            FieldType::Email,
            FieldType::Number,
            FieldType::Bool,
        ] {
            assert_eq!(normalize(ty, "   ").unwrap(), None);
        }
        assert_eq!(normalize(FieldType::EmailList, " ; ").unwrap(), None);
    }

    #[test]
    fn email_lists_are_deduplicated_in_order() {
        assert_eq!(
            normalize(FieldType::EmailList, "B@x.com, a@x.com;b@X.com").unwrap(),
            Some("b@x.com;a@x.com".into())
        );
    }

    #[test]
    fn numbers_take_their_shortest_form() {
        assert_eq!(
            normalize(FieldType::Number, "4.0").unwrap(),
            Some("4".into())
        );
        assert_eq!(
            normalize(FieldType::Number, " 4.50 ").unwrap(),
            Some("4.5".into())
        );
        assert_eq!(
            normalize(FieldType::Number, "1_000").unwrap(),
            Some("1000".into())
        );
        assert!(normalize(FieldType::Number, "four").is_err());
        assert!(normalize(FieldType::Number, "inf").is_err());
    }

    #[test]
    fn booleans_and_dates() {
        assert_eq!(
            normalize(FieldType::Bool, "Yes").unwrap(),
            Some("true".into())
        );
        assert_eq!(
            normalize(FieldType::Bool, "0").unwrap(),
            Some("false".into())
        );
        assert!(normalize(FieldType::Bool, "maybe").is_err());
        assert_eq!(
            normalize(FieldType::Date, "2026-03-01").unwrap(),
            Some("2026-03-01".into())
        );
        assert_eq!(
            normalize(FieldType::Date, "2026-03-01T23:30:00-02:00").unwrap(),
            Some("2026-03-02".into())
        );
        assert_eq!(
            normalize(FieldType::Date, "1572480000000").unwrap(),
            Some("2019-10-31".into())
        );
        assert!(normalize(FieldType::Date, "31/02/2026").is_err());
    }

    #[test]
    fn normalising_is_idempotent() {
        for (ty, v) in [
            (FieldType::Text, "  Ann   Lee "),
            (FieldType::Email, "X@Y.Z"),
            (FieldType::Number, "007.50"),
            (FieldType::Date, "2026-01-05T00:00:00Z"),
            (FieldType::Ref(ObjectKind::Company), " 01H "),
        ] {
            let once = normalize(ty, v).unwrap().unwrap();
            assert_eq!(normalize(ty, &once).unwrap().unwrap(), once, "{ty:?} {v:?}");
        }
    }

    #[test]
    fn phones_get_e164_where_they_parse() {
        assert_eq!(
            phone_e164("+44 20 7946 0958", None),
            Some("+442079460958".into())
        );
        assert_eq!(
            phone_e164("0044 20 7946 0958", None),
            Some("+442079460958".into())
        );
        assert_eq!(
            phone_e164("020 7946 0958", Some("+44")),
            Some("+442079460958".into())
        );
        assert_eq!(phone_e164("020 7946 0958", None), None);
        assert_eq!(
            phone_e164("(555) 010-9999 x12", Some("1")),
            Some("+15550109999".into())
        );
        assert_eq!(phone_e164("call me", Some("1")), None);
        assert_eq!(phone_e164("+1 23", None), None);
    }
}
