//! Salesforce record ids: a 3-character key prefix naming the object (`003` Contact, `001`
//! Account, `00T` Task, `00N` a custom field, `005` a user, `00D` the org, `750` a Bulk
//! job, `01g` a query locator), 12 case-sensitive base-62 characters, and a 3-character
//! suffix that makes the 18-character id case-insensitive.
//!
//! The sandbox writes the 12 middle characters as `Dn0` and a 9-digit base-62 counter, so
//! ids of one object sort (as strings) in the order they were made. The prefixes of
//! Account, Contact and Task are documented; the others are the well-known ones (the
//! DIGEST lists them as unconfirmed).

/// Base-62 digits in ASCII order, so that the string order of counters is their number order.
const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The suffix alphabet of the 18-character form.
const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 18-character id with key prefix `prefix` and counter `n`.
pub fn make(prefix: &str, n: u64) -> String {
    let mut digits = [b'0'; 9];
    let mut rest = n;
    for d in digits.iter_mut().rev() {
        *d = DIGITS[(rest % 62) as usize];
        rest /= 62;
    }
    let short = format!("{prefix}Dn0{}", String::from_utf8_lossy(&digits));
    with_suffix(&short)
}

/// The 18-character form of a 15-character id.
fn with_suffix(short: &str) -> String {
    let bytes = short.as_bytes();
    let mut out = short.to_string();
    for chunk in bytes.chunks(5) {
        let mut bits = 0usize;
        for (i, b) in chunk.iter().enumerate() {
            if b.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        out.push(SUFFIX[bits] as char);
    }
    out
}

/// The 18-character id `s` names (given in either form), if it is well formed. An 18-character
/// id is matched case-insensitively: its suffix restores the case of the first 15.
pub fn normalize(s: &str) -> Option<String> {
    if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match s.len() {
        15 => Some(with_suffix(s)),
        18 => {
            let (short, suffix) = s.split_at(15);
            let mut restored: Vec<u8> = short.to_ascii_lowercase().into_bytes();
            for (chunk, s) in restored.chunks_mut(5).zip(suffix.bytes()) {
                let bits = SUFFIX.iter().position(|c| *c == s.to_ascii_uppercase())?;
                for (i, b) in chunk.iter_mut().enumerate() {
                    if bits & (1 << i) != 0 {
                        *b = b.to_ascii_uppercase();
                    }
                }
            }
            let restored = String::from_utf8(restored).ok()?;
            Some(with_suffix(&restored))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_sort_in_creation_order_and_read_back_in_both_forms() {
        let a = make("003", 1);
        let b = make("003", 62);
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("003Dn0"));
        assert!(a < b);
        assert_eq!(normalize(&a[..15]).as_deref(), Some(a.as_str()));
        assert_eq!(
            normalize(&a.to_ascii_lowercase()).as_deref(),
            Some(a.as_str())
        );
        assert_eq!(normalize(&b).as_deref(), Some(b.as_str()));
        assert_eq!(normalize("003-bad"), None);
        // The documented example: the 15-character id 001A0000006Vm9r has the suffix IAC.
        assert_eq!(with_suffix("001A0000006Vm9r"), "001A0000006Vm9rIAC");
    }
}
