//! A run of the binary as a snapshot: exit code, stdout and stderr in one text, with what
//! changes from run to run (temporary paths, the CRM's address and port, record ids, elapsed
//! times) replaced by fixed words, so that `insta` compares only what a user reads.

use super::Run;

/// What changes between two runs of one command, and what stands for it in a snapshot.
pub struct Redactions {
    pairs: Vec<(String, String)>,
}

impl Redactions {
    pub fn new() -> Redactions {
        Redactions { pairs: Vec::new() }
    }

    /// Replaces each `text` by `[name]`; longer texts are replaced first.
    pub fn add(&mut self, text: impl Into<String>, name: &str) -> &mut Redactions {
        let text = text.into();
        if !text.is_empty() {
            self.pairs.push((text, format!("[{name}]")));
            self.pairs.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        }
        self
    }

    /// `run` as a snapshot: the exit code, then stdout and stderr, each redacted.
    pub fn render(&self, run: &Run) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            run.code,
            self.apply(&run.stdout),
            self.apply(&run.stderr)
        )
    }

    fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in &self.pairs {
            out = out.replace(from.as_str(), to);
        }
        // An id followed by a space is a table cell: it keeps its width, so that the columns
        // stay aligned.
        let out = redact_words(&out, is_ulid, ID_MARK)
            .replace(&format!("{ID_MARK} "), &format!("{:<27}", "[ID]"))
            .replace(ID_MARK, "[ID]");
        let out = redact_words(&out, is_duration, "[DURATION]");
        let out = redact_ports(&out);
        if out.is_empty() || out.ends_with('\n') {
            out
        } else {
            out + "\n[no newline at the end]\n"
        }
    }
}

/// What a record id is replaced by before its width is known.
const ID_MARK: &str = "\u{0}ID\u{0}";

/// Replaces each run of letters, digits, `.` and `_` for which `matches` holds.
fn redact_words(text: &str, matches: fn(&str) -> bool, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if matches(word) {
            out.push_str(with);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A ULID, as crmsync's record ids are: 26 characters of Crockford's base 32.
fn is_ulid(word: &str) -> bool {
    word.len() == 26
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
        && word.chars().any(|c| c.is_ascii_digit())
}

/// An elapsed time as the binary prints one: `0.42s`, `12ms`, `1.5s`.
fn is_duration(word: &str) -> bool {
    let number = word
        .strip_suffix("ms")
        .or_else(|| word.strip_suffix('s'))
        .unwrap_or("");
    !number.is_empty()
        && number.chars().next().is_some_and(|c| c.is_ascii_digit())
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.matches('.').count() <= 1
}

/// `127.0.0.1:PORT` with the port replaced.
fn redact_ports(text: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(HOST) {
        out.push_str(&rest[..at + HOST.len()]);
        rest = &rest[at + HOST.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("[PORT]");
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}
