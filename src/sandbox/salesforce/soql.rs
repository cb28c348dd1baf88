//! A parser for the SOQL a sync client sends, and nothing more:
//!
//! ```text
//! SELECT COUNT() | path {, path}  FROM Object
//!   [WHERE condition]  [ORDER BY path [ASC|DESC] {, path [ASC|DESC]}]  [LIMIT n]
//! condition := unit {AND unit} | unit {OR unit}        (AND and OR mixed need parentheses)
//! unit      := ( condition ) | path op value | path [NOT] IN ( value {, value} )
//! op        := = | != | <> | < | > | <= | >=
//! value     := 'string' | 2024-01-01T00:00:00Z | 2024-01-01 | null | true | false | number
//! path      := Field | Relationship.Field
//! ```
//!
//! Keywords are case-insensitive. Anything outside this grammar is refused with
//! `MALFORMED_QUERY` rather than read some way: a sandbox that guessed would hide a client's
//! malformed query. Salesforce refuses `a AND b OR c` without parentheses (unconfirmed; the
//! SOQL reference shows every mixed example parenthesised), and the sandbox does too.

use super::errors::{SfError, malformed_query};

/// A field, or a relationship and a field of the related record (`Account.Name`).
pub type Path = Vec<String>;

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `SELECT COUNT()`.
    pub count: bool,
    pub fields: Vec<Path>,
    pub object: String,
    pub filter: Option<Cond>,
    /// Paths and whether each sorts descending.
    pub order: Vec<(Path, bool)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    /// Epoch ms.
    DateTime(i64),
    /// `YYYY-MM-DD`.
    Date(String),
    Null,
    Bool(bool),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Cmp(Path, Op, Literal),
    /// The path, whether `NOT IN`, the values.
    In(Path, bool, Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(Op),
    Open,
    Close,
    Comma,
}

fn tokens(q: &str) -> Result<Vec<Tok>, SfError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(malformed_query("unterminated string literal")),
                        Some('\'') => break,
                        Some('\\') => {
                            let e = chars
                                .get(i + 1)
                                .copied()
                                .ok_or_else(|| malformed_query("unterminated string literal"))?;
                            s.push(match e {
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                '\'' | '"' | '\\' | '_' | '%' => e,
                                _ => return Err(malformed_query(format!("invalid escape \\{e}"))),
                            });
                            i += 2;
                        }
                        Some(c) => {
                            s.push(*c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            '=' => {
                out.push(Tok::Op(Op::Eq));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, n) = match (c, next) {
                    ('<', Some('=')) => (Op::Le, 2),
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('<', _) => (Op::Lt, 1),
                    _ => (Op::Gt, 1),
                };
                out.push(Tok::Op(op));
                i += n;
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == '+' || c == '.' => {
                let start = i;
                while i < chars.len() {
                    let d = chars[i];
                    // A datetime literal carries `:` and a sign; a word does not.
                    let in_time = chars[start].is_ascii_digit() && matches!(d, ':' | '+' | '-');
                    if d.is_alphanumeric() || d == '_' || d == '.' || in_time {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if i == start {
                    return Err(malformed_query(format!("unexpected token: '{c}'")));
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            _ => return Err(malformed_query(format!("unexpected token: '{c}'"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn kw(&mut self, kw: &str) -> Result<(), SfError> {
        if self.is_kw(kw) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("expecting '{kw}'")))
        }
    }

    fn unexpected(&self, wanted: &str) -> SfError {
        match self.peek() {
            Some(t) => malformed_query(format!("unexpected token: {t:?}, {wanted}")),
            None => malformed_query(format!("unexpected end of query, {wanted}")),
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), SfError> {
        if self.peek() == Some(&tok) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("expecting {tok:?}")))
        }
    }

    fn path(&mut self) -> Result<Path, SfError> {
        match self.next() {
            Some(Tok::Word(w)) if is_name(&w) => {
                let parts: Path = w.split('.').map(str::to_string).collect();
                if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
                    return Err(malformed_query(format!(
                        "the sandbox reads one relationship level, not '{w}'"
                    )));
                }
                Ok(parts)
            }
            _ => {
                self.at -= 1;
                Err(self.unexpected("expecting a field name"))
            }
        }
    }

    fn literal(&mut self) -> Result<Literal, SfError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Literal::Str(s)),
            Some(Tok::Word(w)) => word_literal(&w),
            _ => {
                self.at -= 1;
                Err(self.unexpected("expecting a value"))
            }
        }
    }

    fn condition(&mut self) -> Result<Cond, SfError> {
        let first = self.unit()?;
        let mut parts = vec![first];
        let mut joiner: Option<bool> = None; // Some(true) = AND
        loop {
            let and = if self.is_kw("AND") {
                true
            } else if self.is_kw("OR") {
                false
            } else {
                break;
            };
            if joiner.is_some_and(|j| j != and) {
                return Err(malformed_query(
                    "unexpected token: mixed AND and OR need parentheses",
                ));
            }
            joiner = Some(and);
            self.at += 1;
            parts.push(self.unit()?);
        }
        Ok(match (joiner, parts.len()) {
            (_, 1) => parts.pop().expect("one part"),
            (Some(true), _) => Cond::And(parts),
            _ => Cond::Or(parts),
        })
    }

    fn unit(&mut self) -> Result<Cond, SfError> {
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            let c = self.condition()?;
            self.expect(Tok::Close)?;
            return Ok(c);
        }
        let path = self.path()?;
        let not = self.is_kw("NOT");
        if not {
            self.at += 1;
        }
        if self.is_kw("IN") {
            self.at += 1;
            self.expect(Tok::Open)?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                values.push(self.literal()?);
            }
            self.expect(Tok::Close)?;
            return Ok(Cond::In(path, not, values));
        }
        if not {
            return Err(self.unexpected("expecting 'IN'"));
        }
        match self.next() {
            Some(Tok::Op(op)) => {
                let value = self.literal()?;
                if value == Literal::Null && !matches!(op, Op::Eq | Op::Ne) {
                    return Err(malformed_query("null can only be compared with = or !="));
                }
                Ok(Cond::Cmp(path, op, value))
            }
            _ => {
                self.at -= 1;
                Err(self.unexpected("expecting an operator"))
            }
        }
    }
}

fn is_name(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

const RESERVED: [&str; 12] = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "ORDER", "BY", "LIMIT", "ASC", "DESC",
];

fn word_literal(w: &str) -> Result<Literal, SfError> {
    if w.eq_ignore_ascii_case("null") {
        return Ok(Literal::Null);
    }
    if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") {
        return Ok(Literal::Bool(w.eq_ignore_ascii_case("true")));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(w) {
        return Ok(Literal::DateTime(t.timestamp_millis()));
    }
    if let Ok(t) = chrono::DateTime::parse_from_str(w, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(Literal::DateTime(t.timestamp_millis()));
    }
    if chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").is_ok() && w.len() == 10 {
        return Ok(Literal::Date(w.to_string()));
    }
    if let Ok(n) = w.parse::<f64>()
        && w.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-')
    {
        return Ok(Literal::Number(n));
    }
    Err(malformed_query(format!(
        "unexpected token: '{w}', expecting a value (strings are quoted: 'text')"
    )))
}

/// Parses one query.
pub fn parse(q: &str) -> Result<Query, SfError> {
    let mut p = Parser {
        toks: tokens(q)?,
        at: 0,
    };
    p.kw("SELECT")?;
    let mut count = false;
    let mut fields = Vec::new();
    if p.is_kw("COUNT") && p.toks.get(p.at + 1) == Some(&Tok::Open) {
        p.at += 2;
        p.expect(Tok::Close)?;
        count = true;
    } else {
        loop {
            let path = p.path()?;
            if RESERVED.iter().any(|r| path[0].eq_ignore_ascii_case(r)) {
                p.at -= 1;
                return Err(p.unexpected("expecting a field name"));
            }
            let joined = path.join(".").to_ascii_lowercase();
            if fields
                .iter()
                .any(|f: &Path| f.join(".").to_ascii_lowercase() == joined)
            {
                return Err(SfError::new(
                    400,
                    "MALFORMED_QUERY",
                    format!("duplicate field selected: {}", path.join(".")),
                ));
            }
            fields.push(path);
            if p.peek() == Some(&Tok::Comma) {
                p.at += 1;
            } else {
                break;
            }
        }
    }
    p.kw("FROM")?;
    let object = match p.next() {
        Some(Tok::Word(w)) if is_name(&w) && !w.contains('.') => w,
        _ => {
            p.at -= 1;
            return Err(p.unexpected("expecting an object name"));
        }
    };
    let mut filter = None;
    if p.is_kw("WHERE") {
        p.at += 1;
        filter = Some(p.condition()?);
    }
    let mut order = Vec::new();
    if p.is_kw("ORDER") {
        p.at += 1;
        p.kw("BY")?;
        loop {
            let path = p.path()?;
            let desc = if p.is_kw("DESC") {
                p.at += 1;
                true
            } else {
                if p.is_kw("ASC") {
                    p.at += 1;
                }
                false
            };
            order.push((path, desc));
            if p.peek() == Some(&Tok::Comma) {
                p.at += 1;
            } else {
                break;
            }
        }
    }
    let mut limit = None;
    if p.is_kw("LIMIT") {
        p.at += 1;
        match p.next() {
            Some(Tok::Word(w)) if w.chars().all(|c| c.is_ascii_digit()) => {
                limit = Some(
                    w.parse()
                        .map_err(|_| malformed_query("LIMIT is too large"))?,
                );
            }
            _ => {
                p.at -= 1;
                return Err(p.unexpected("expecting a number after LIMIT"));
            }
        }
    }
    if p.peek().is_some() {
        return Err(p.unexpected("expecting the end of the query"));
    }
    Ok(Query {
        count,
        fields,
        object,
        filter,
        order,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn the_queries_a_sync_client_sends_parse() {
        let q = parse(
            "SELECT Id, FirstName, Account.Name FROM Contact WHERE (SystemModstamp > 2024-01-01T00:00:00Z) OR (SystemModstamp = 2024-01-01T00:00:00.000+0000 AND Id > '003Dn0000000001AAA') ORDER BY SystemModstamp ASC, Id LIMIT 500",
        )
        .unwrap();
        assert_eq!(q.fields, vec![p("Id"), p("FirstName"), p("Account.Name")]);
        assert_eq!(q.object, "Contact");
        assert_eq!(
            q.order,
            vec![(p("SystemModstamp"), false), (p("Id"), false)]
        );
        assert_eq!(q.limit, Some(500));
        let Some(Cond::Or(parts)) = q.filter else {
            panic!("an OR")
        };
        assert_eq!(
            parts[0],
            Cond::Cmp(
                p("SystemModstamp"),
                Op::Gt,
                Literal::DateTime(1_704_067_200_000)
            )
        );
        assert!(matches!(&parts[1], Cond::And(a) if a.len() == 2));

        let q = parse("select id from contact where crmsync_id__c in ('a', 'b\\'c') and IsDeleted = true and Email != null").unwrap();
        let Some(Cond::And(parts)) = q.filter else {
            panic!("an AND")
        };
        assert_eq!(
            parts[0],
            Cond::In(
                p("crmsync_id__c"),
                false,
                vec![Literal::Str("a".into()), Literal::Str("b'c".into())]
            )
        );
        assert_eq!(
            parts[1],
            Cond::Cmp(p("IsDeleted"), Op::Eq, Literal::Bool(true))
        );
        assert_eq!(parts[2], Cond::Cmp(p("Email"), Op::Ne, Literal::Null));
        assert!(parse("SELECT COUNT() FROM Account").unwrap().count);
        let q = parse("SELECT Id FROM Task WHERE ActivityDate <= 2024-05-01 AND Id NOT IN ('x') ORDER BY Id DESC").unwrap();
        assert_eq!(q.order, vec![(p("Id"), true)]);
    }

    #[test]
    fn anything_else_is_refused_as_malformed() {
        for q in [
            "",
            "SELECT FROM Contact",
            "SELECT Id Contact",
            "SELECT Id, FROM Contact",
            "SELECT Id FROM Contact WHERE",
            "SELECT Id FROM Contact WHERE a = 1 AND b = 2 OR c = 3",
            "SELECT Id FROM Contact WHERE Email LIKE 'a%'",
            "SELECT Id FROM Contact WHERE Email = unquoted",
            "SELECT Id FROM Contact WHERE Email > null",
            "SELECT Id FROM Contact WHERE Name = 'open",
            "SELECT Id FROM Contact ORDER BY Id NULLS LAST",
            "SELECT Id FROM Contact LIMIT ten",
            "SELECT Id FROM Contact OFFSET 10",
            "SELECT Id, id FROM Contact",
            "SELECT Account.Owner.Name FROM Contact",
            "SELECT COUNT(Id) FROM Contact",
            "SELECT Id FROM Contact GROUP BY Id",
            "SELECT Id FROM Contact WHERE SystemModstamp > LAST_N_DAYS:3",
            "SELECT Id FROM Contact WHERE (Id = 'a'",
        ] {
            let e = parse(q).expect_err(q);
            assert_eq!((e.status, e.code.as_str()), (400, "MALFORMED_QUERY"), "{q}");
        }
    }
}
