//! What a file is before any row is read: CSV or JSONL by its first significant bytes, UTF-16 read
//! as UTF-8, and the refusal of a file that is neither.

use std::path::Path;

use crate::transfer::types::{Format, ImportError};

/// The bytes looked at to tell what a file is.
pub(super) const SNIFF: usize = 8192;

pub(super) fn first_significant(head: &[u8]) -> Option<u8> {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    head.iter().copied().find(|b| !b.is_ascii_whitespace())
}

pub(super) fn sniff_format(head: &[u8]) -> Format {
    match first_significant(head) {
        Some(b'{') => Format::Jsonl,
        _ => Format::Csv,
    }
}

/// Refuses a file that is plainly not `format`, from its first bytes.
pub(super) fn refuse_non_tabular(
    path: &Path,
    format: Format,
    head: &[u8],
) -> Result<(), ImportError> {
    let expected = match format {
        Format::Csv => "a CSV file with a header row",
        Format::Jsonl => "a JSONL file (one JSON object per line)",
    };
    let refuse = |why: String| {
        Err(ImportError::NotTabular {
            path: path.to_path_buf(),
            expected,
            why,
        })
    };
    if head.starts_with(b"PK\x03\x04") {
        return refuse(
            "it is a ZIP archive (an Excel or OpenDocument workbook is one); save the sheet as CSV first"
                .into(),
        );
    }
    if head.starts_with(b"%PDF") {
        return refuse("it is a PDF document".into());
    }
    if let Some(encoding) = utf16(head) {
        return Err(ImportError::NotTabular {
            path: path.to_path_buf(),
            expected: "a file in UTF-8",
            why: format!(
                "it is in {encoding}; save it as UTF-8 (in Excel \"CSV UTF-8\", in LibreOffice the character set \"Unicode (UTF-8)\"), or convert it with `iconv -f UTF-16 -t UTF-8 {} > utf8.{}`",
                path.display(),
                format.as_str()
            ),
        });
    }
    if let Some(at) = head.iter().position(|&b| b == 0) {
        let line = head[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - head[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return refuse(format!(
            "it holds binary data (a NUL byte on line {line}, byte {column} of the line)"
        ));
    }
    let Some(first) = first_significant(head) else {
        return refuse("the file is empty".into());
    };
    match (first, format) {
        (b'<', _) => refuse("it looks like HTML or XML (it starts with `<`)".into()),
        (b'[', Format::Jsonl) => refuse(
            "it is a JSON array; write one object per line instead (e.g. `jq -c '.[]'`)".into(),
        ),
        (b'[' | b'{', Format::Csv) => {
            refuse("it looks like JSON; for one object per line pass `--format jsonl`".into())
        }
        _ => Ok(()),
    }
}

/// The name of the UTF-16 encoding `head` is in, if it is: a byte-order mark, or (without
/// one) text whose every other byte is NUL, as ASCII text in UTF-16 is.
pub(super) fn utf16(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\xff\xfe") {
        return Some("UTF-16 (little-endian, with a byte-order mark)");
    }
    if head.starts_with(b"\xfe\xff") {
        return Some("UTF-16 (big-endian, with a byte-order mark)");
    }
    let pairs = &head[..head.len() & !1];
    if pairs.len() < 4 {
        return None;
    }
    let nul_at = |odd: usize| {
        pairs
            .iter()
            .skip(odd)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let half = pairs.len() / 2;
    // Nearly every high byte NUL, nearly no low byte: ASCII-range text in UTF-16.
    if nul_at(1) * 10 >= half * 9 && nul_at(0) * 10 < half {
        Some("UTF-16 (little-endian, without a byte-order mark)")
    } else if nul_at(0) * 10 >= half * 9 && nul_at(1) * 10 < half {
        Some("UTF-16 (big-endian, without a byte-order mark)")
    } else {
        None
    }
}
