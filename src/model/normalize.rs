//! Normalisation of canonical values, by field type.
//!
//! Every value that enters the store or is compared by the planner passes through
//! [`normalize`], so that `" Ann@Example.COM "` and `"ann@example.com"` are one value and a
//! CRM that reformats a value does not look like an edit. Normalising is idempotent.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

use super::FieldType;

/// Why a value does not fit its field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

/// Characters of a value that a message quotes; a longer value is cut, saying how long it was.
pub const QUOTED_CHARS: usize = 60;

/// `v` as a message quotes it: whole up to [`QUOTED_CHARS`] characters, else its beginning
/// and how many characters it has, so a 30 MB value never fills a terminal or a log.
pub fn excerpt(v: &str) -> Cow<'_, str> {
    match v.char_indices().nth(QUOTED_CHARS) {
        None => Cow::Borrowed(v),
        Some((end, _)) => Cow::Owned(format!("{}… ({} characters)", &v[..end], v.chars().count())),
    }
}

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
        FieldType::Instant => instant(v)?,
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
        Err(BadValue(format!(
            "`{}` is not an email address",
            excerpt(v)
        )))
    }
}

/// The form in which a value of match key `field` is compared: `email` and `domain` values
/// get [`email_key`] and [`domain_key`]; any other field is compared as stored. The record
/// keeps its value as written; only matching uses this form.
pub fn match_key<'a>(field: &str, value: &'a str) -> Cow<'a, str> {
    match field {
        "email" => email_key(value),
        "domain" => domain_key(value),
        _ => Cow::Borrowed(value),
    }
}

/// Characters that show as nothing: zero-width space, non-joiner and joiner, word joiner,
/// the byte-order mark (zero-width no-break space) and the soft hyphen. Two addresses that
/// differ only by these look identical, so match keys leave them out.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}'
    )
}

/// The match key of an email address: without invisible characters, lower case, Unicode NFC,
/// the domain in its ASCII (punycode) form, so `José@Bücher.example` written composed or
/// decomposed, and with `xn--bcher-kva.example`, is one key. A dotted capital `İ` lower-cases
/// to `i` with a combining dot above (U+0069 U+0307), so it never matches a plain `i`.
/// An already normalised ASCII address (the common case) is returned as it is.
pub fn email_key(value: &str) -> Cow<'_, str> {
    let v = value.trim();
    if v.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return Cow::Borrowed(v);
    }
    let folded = fold_text(v);
    match folded.rsplit_once('@') {
        Some((user, domain)) => Cow::Owned(format!("{user}@{}", ascii_domain(domain))),
        None => Cow::Owned(folded),
    }
}

/// The match key of a web domain: lower case, without a scheme (`https://`), user, port,
/// path, query or fragment, a leading `www.` or a trailing dot, in its ASCII (punycode) form:
/// `https://www.Acme.com/about` and `acme.com` are one key. A plain lower-case ASCII domain
/// is returned as it is.
pub fn domain_key(value: &str) -> Cow<'_, str> {
    let v = value.trim();
    if !v.starts_with("www.")
        && !v.ends_with('.')
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Cow::Borrowed(v);
    }
    let folded = fold_text(v);
    let mut d = folded.as_str();
    if let Some(i) = d.find("://") {
        d = &d[i + 3..];
    }
    if let Some(i) = d.find(['/', '?', '#']) {
        d = &d[..i];
    }
    if let Some(i) = d.rfind('@') {
        d = &d[i + 1..];
    }
    if let Some((host, port)) = d.rsplit_once(':')
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        d = host;
    }
    let d = d.trim_end_matches('.');
    let d = d.strip_prefix("www.").unwrap_or(d);
    Cow::Owned(ascii_domain(d).into_owned())
}

/// `v` without invisible characters, lower case, in Unicode NFC.
fn fold_text(v: &str) -> String {
    let visible: String = v.chars().filter(|&c| !is_invisible(c)).collect();
    visible.to_lowercase().nfc().collect()
}

/// A lower-case domain in its ASCII form (IDNA, punycode); one that IDNA refuses stays as
/// it is, so it still matches itself.
fn ascii_domain(domain: &str) -> Cow<'_, str> {
    if domain.is_ascii() {
        return Cow::Borrowed(domain);
    }
    match idna::domain_to_ascii(domain) {
        Ok(ascii) if !ascii.is_empty() => Cow::Owned(ascii),
        _ => Cow::Borrowed(domain),
    }
}

fn number(v: &str) -> Result<String, BadValue> {
    let n: f64 = v
        .replace(['_', ' '], "")
        .parse()
        .map_err(|_| BadValue(format!("`{}` is not a number", excerpt(v))))?;
    if !n.is_finite() {
        return Err(BadValue(format!("`{}` is not a finite number", excerpt(v))));
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
        _ => Err(BadValue(format!("`{}` is not true or false", excerpt(v)))),
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
        "`{}` is not a date (expected YYYY-MM-DD)",
        excerpt(v)
    )))
}

/// An instant in UTC, to the second (`2026-03-01T14:30:00Z`), with milliseconds when it has
/// them; from RFC 3339 with any offset, epoch milliseconds, or a date (midnight UTC).
fn instant(v: &str) -> Result<String, BadValue> {
    let ms = chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_millis())
        .ok()
        .or_else(|| v.parse::<i64>().ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
        });
    let t = ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| {
            BadValue(format!(
                "`{}` is not a time (expected ISO 8601, 2026-03-01T14:30:00Z)",
                excerpt(v)
            ))
        })?;
    let format = if t.timestamp_subsec_millis() == 0 {
        "%Y-%m-%dT%H:%M:%SZ"
    } else {
        "%Y-%m-%dT%H:%M:%S%.3fZ"
    };
    Ok(t.format(format).to_string())
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
    fn messages_quote_a_long_value_cut() {
        let long = "x".repeat(1_000_000);
        let err = normalize(FieldType::Email, &long).unwrap_err().to_string();
        assert!(err.len() < 200, "{} bytes", err.len());
        assert!(err.contains("(1000000 characters)"), "{err}");
        assert_eq!(excerpt("short"), "short");
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
    fn instants_are_utc_to_the_second_unless_they_have_milliseconds() {
        let n = |v: &str| normalize(FieldType::Instant, v).unwrap().unwrap();
        assert_eq!(n("2026-03-01T15:30:00+01:00"), "2026-03-01T14:30:00Z");
        assert_eq!(n("2026-03-01T14:30:00.000Z"), "2026-03-01T14:30:00Z");
        assert_eq!(n("2026-03-01T14:30:00.250Z"), "2026-03-01T14:30:00.250Z");
        assert_eq!(n("2026-03-01"), "2026-03-01T00:00:00Z");
        assert_eq!(n("1772375400000"), "2026-03-01T14:30:00Z");
        assert!(normalize(FieldType::Instant, "half past two").is_err());
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
    fn email_keys_are_nfc_lower_case_with_an_ascii_domain() {
        let nfc = "jos\u{e9}@example.com";
        let nfd = "jose\u{301}@example.com";
        assert_ne!(nfc, nfd);
        assert_eq!(email_key(nfc), email_key(nfd));
        assert_eq!(email_key(nfc), "jos\u{e9}@example.com");
        assert_eq!(
            email_key("zo\u{eb}@b\u{fc}cher.example"),
            "zo\u{eb}@xn--bcher-kva.example"
        );
        assert_eq!(
            email_key("zo\u{eb}@b\u{fc}cher.example"),
            email_key("zo\u{eb}@xn--bcher-kva.example")
        );
        assert_eq!(
            email_key("Zo\u{cb}@B\u{dc}CHER.example"),
            "zo\u{eb}@xn--bcher-kva.example"
        );
        // The common case costs no copy.
        assert!(matches!(email_key("ann@example.com"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_dotted_capital_i_does_not_match_a_plain_i() {
        // `İ` lower-cases to `i` + U+0307 (combining dot above): it stays apart from `i`
        // and from the dotless `ı`, in the user part and in the domain.
        let dotted = email_key("\u{130}nci@example.com");
        assert_ne!(dotted, email_key("inci@example.com"));
        assert_ne!(dotted, email_key("\u{131}nci@example.com"));
        assert_eq!(dotted, "i\u{307}nci@example.com");
        assert_ne!(
            email_key("inci@\u{130}stanbul.example"),
            email_key("inci@istanbul.example")
        );
    }

    #[test]
    fn match_keys_leave_out_zero_width_characters() {
        for hidden in [
            "a\u{200b}nn@example.com",
            "ann@exa\u{200d}mple.com",
            "\u{feff}ann@example.com",
            "an\u{ad}n@example.com",
        ] {
            assert_eq!(email_key(hidden), "ann@example.com", "{hidden:?}");
        }
        assert_eq!(domain_key("ac\u{200b}me.com"), "acme.com");
    }

    #[test]
    fn domain_keys_drop_scheme_www_port_and_path() {
        for raw in [
            "acme.com",
            "ACME.com",
            "www.acme.com",
            "https://www.acme.com/about?x=1",
            "http://acme.com:8080/",
            "acme.com.",
            " Acme.COM ",
        ] {
            assert_eq!(domain_key(raw), "acme.com", "{raw:?}");
        }
        assert_eq!(domain_key("b\u{fc}cher.example"), "xn--bcher-kva.example");
        assert_eq!(
            domain_key("www.b\u{fc}cher.example"),
            domain_key("xn--bcher-kva.example")
        );
        assert!(matches!(domain_key("acme.com"), Cow::Borrowed(_)));
        assert_eq!(match_key("name", "Acme"), "Acme");
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
