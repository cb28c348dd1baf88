//! The `create_when` rule language: which local records a connection creates in its CRM.
//!
//! ```text
//! rule       := or
//! or         := and ("or" and)*
//! and        := not ("and" not)*
//! not        := "not" not | "(" rule ")" | comparison
//! comparison := operand (("==" | "!=" | ">=" | "<=" | ">" | "<") operand)?
//! operand    := field | "text" | 'text' | number | true | false
//! field      := letters, digits, `_` and `.` (`warmness`, `custom.tier`)
//! ```
//!
//! A field stands for its canonical value, `""` when absent. A lone operand is true when it is
//! not empty (`email` means "has an email"). `==`/`!=` compare numerically when both sides are
//! numbers (`4` equals `4.0`) and as exact text otherwise. The ordering operators compare
//! numerically when both sides are numbers and as text otherwise — except that an empty side
//! makes them false, so `warmness < 4` does not pick records with no warmness at all.
//! `true` and `false` alone are the rule that admits every record and the one that admits
//! none (`create_when = "false"`: no record of the object is created for itself); compared
//! with a field they are the text a yes/no field holds (`done == true`).
//! Keywords (`and`, `or`, `not`) are case-insensitive. Errors name the 1-based column.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::model::{FieldType, Fields, ObjectKind};

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    source: String,
    expr: Expr,
}

/// Why a rule does not parse, or names a field the object does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct RuleError {
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, CmpOp, Operand),
    Present(Operand),
    /// `true` or `false` alone.
    Const(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// A field name and the column it starts at.
    Field(String, usize),
    /// A value as written and the column it starts at.
    Literal(String, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    /// `true` or `false`.
    Bool(bool),
    Op(CmpOp),
    LParen,
    RParen,
    And,
    Or,
    Not,
}

impl Rule {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Rule, RuleError> {
        let toks = lex(source)?;
        if let Some((_, column)) = toks.get(MAX_TOKENS) {
            return Err(RuleError {
                column: *column,
                message: format!(
                    "the rule is too long: at most {MAX_TOKENS} fields, values, operators and parentheses"
                ),
            });
        }
        let end = source.chars().count() + 1;
        let mut p = Parser {
            toks,
            pos: 0,
            end,
            depth: 0,
        };
        let expr = p.or()?;
        if let Some((tok, col)) = p.toks.get(p.pos) {
            return Err(RuleError {
                column: *col,
                message: format!("unexpected {} after a complete rule", describe(tok)),
            });
        }
        Ok(Rule {
            source: source.to_string(),
            expr,
        })
    }

    /// Parses `source` and checks it against `object`: every field it names is a field of
    /// `object`, and every value compared with a field is one that field can hold.
    pub fn parse_for(source: &str, object: ObjectKind) -> Result<Rule, RuleError> {
        let rule = Rule::parse(source)?;
        let mut fields = Vec::new();
        collect_fields(&rule.expr, &mut fields);
        for (name, column) in fields {
            if object.field_type(&name).is_none() {
                return Err(RuleError {
                    column,
                    message: format!("`{name}` is not a {object} field"),
                });
            }
        }
        check_types(&rule.expr, object)?;
        Ok(rule)
    }

    /// The fields the rule names, in the order written.
    pub fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        collect_fields(&self.expr, &mut fields);
        fields.into_iter().map(|(name, _)| name).collect()
    }

    /// The rule as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a record with these canonical fields satisfies the rule.
    pub fn eval(&self, fields: &Fields) -> bool {
        eval(&self.expr, fields)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

fn collect_fields(e: &Expr, out: &mut Vec<(String, usize)>) {
    let mut operand = |o: &Operand| {
        if let Operand::Field(name, col) = o {
            out.push((name.clone(), *col));
        }
    };
    match e {
        Expr::Or(a, b) | Expr::And(a, b) => {
            collect_fields(a, out);
            collect_fields(b, out);
        }
        Expr::Not(a) => collect_fields(a, out),
        Expr::Cmp(a, _, b) => {
            operand(a);
            operand(b);
        }
        Expr::Present(a) => operand(a),
        Expr::Const(_) => {}
    }
}

/// Refuses a comparison between a field and a value the field cannot hold (`warmness >= "hot"`),
/// and an ordering of yes/no fields, which has no meaning.
fn check_types(e: &Expr, object: ObjectKind) -> Result<(), RuleError> {
    match e {
        Expr::Or(a, b) | Expr::And(a, b) => {
            check_types(a, object)?;
            check_types(b, object)
        }
        Expr::Not(a) => check_types(a, object),
        Expr::Present(_) | Expr::Const(_) => Ok(()),
        Expr::Cmp(a, op, b) => {
            let pair = match (a, b) {
                (Operand::Field(name, at), Operand::Literal(v, col))
                | (Operand::Literal(v, col), Operand::Field(name, at)) => {
                    Some((name, *at, v, *col))
                }
                _ => None,
            };
            let Some((name, field_column, v, column)) = pair else {
                return Ok(());
            };
            let Some(ty) = object.field_type(name) else {
                return Ok(());
            };
            let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
            // An empty value means "absent", which every field can be.
            if v.trim().is_empty() {
                return Ok(());
            }
            let expected = match ty {
                FieldType::Number if number(v).is_none() => Some("a number"),
                FieldType::Bool if ordering => {
                    return Err(RuleError {
                        column: field_column,
                        message: format!(
                            "`{name}` is yes/no: compare it with `==` or `!=`, not `{}`",
                            op_str(*op)
                        ),
                    });
                }
                FieldType::Bool if !matches!(v.as_str(), "true" | "false") => {
                    Some("`\"true\"` or `\"false\"`")
                }
                FieldType::Date if chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err() => {
                    Some("a date written YYYY-MM-DD")
                }
                _ => None,
            };
            match expected {
                Some(expected) => Err(RuleError {
                    column,
                    message: format!(
                        "`{name}` is {}: expected {expected}, found `{v}`",
                        type_name(ty)
                    ),
                }),
                None => Ok(()),
            }
        }
    }
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Number => "a number",
        FieldType::Bool => "yes/no (`true` or `false`)",
        FieldType::Date => "a date",
        _ => "text",
    }
}

fn value<'a>(o: &'a Operand, fields: &'a Fields) -> &'a str {
    match o {
        Operand::Field(name, _) => fields.get(name).map_or("", String::as_str),
        Operand::Literal(v, _) => v,
    }
}

fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn eval(e: &Expr, fields: &Fields) -> bool {
    match e {
        Expr::Or(a, b) => eval(a, fields) || eval(b, fields),
        Expr::And(a, b) => eval(a, fields) && eval(b, fields),
        Expr::Not(a) => !eval(a, fields),
        Expr::Present(a) => !value(a, fields).trim().is_empty(),
        Expr::Const(b) => *b,
        Expr::Cmp(a, op, b) => {
            let (a, b) = (value(a, fields), value(b, fields));
            let ord = match (number(a), number(b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => {
                    let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
                    if ordering && (a.trim().is_empty() || b.trim().is_empty()) {
                        return false;
                    }
                    Some(a.cmp(b))
                }
            };
            let Some(ord) = ord else { return false };
            match op {
                CmpOp::Eq => ord.is_eq(),
                CmpOp::Ne => ord.is_ne(),
                CmpOp::Ge => ord.is_ge(),
                CmpOp::Le => ord.is_le(),
                CmpOp::Gt => ord.is_gt(),
                CmpOp::Lt => ord.is_lt(),
            }
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Str(s) => format!("text \"{s}\""),
        Tok::Num(s) => format!("number `{s}`"),
        Tok::Bool(b) => format!("`{b}`"),
        Tok::Op(op) => format!("`{}`", op_str(*op)),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::And => "`and`".into(),
        Tok::Or => "`or`".into(),
        Tok::Not => "`not`".into(),
    }
}

fn op_str(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Ge => ">=",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Lt => "<",
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, RuleError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let op = match two.as_str() {
            "==" => Some((CmpOp::Eq, 2)),
            "!=" => Some((CmpOp::Ne, 2)),
            ">=" => Some((CmpOp::Ge, 2)),
            "<=" => Some((CmpOp::Le, 2)),
            _ if c == '>' => Some((CmpOp::Gt, 1)),
            _ if c == '<' => Some((CmpOp::Lt, 1)),
            _ => None,
        };
        if let Some((op, len)) = op {
            out.push((Tok::Op(op), col));
            i += len;
            continue;
        }
        match c {
            '(' => {
                out.push((Tok::LParen, col));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, col));
                i += 1;
            }
            '=' => {
                return Err(RuleError {
                    column: col,
                    message: "`=` is not an operator: write `==` to compare".into(),
                });
            }
            '"' | '\'' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => {
                            return Err(RuleError {
                                column: col,
                                message: format!("text starting here has no closing `{c}`"),
                            });
                        }
                        Some('\\') if matches!(chars.get(j + 1), Some(&n) if n == c || n == '\\') =>
                        {
                            text.push(chars[j + 1]);
                            j += 2;
                        }
                        Some(&q) if q == c => break,
                        Some(&other) => {
                            text.push(other);
                            j += 1;
                        }
                    }
                }
                out.push((Tok::Str(text), col));
                i = j + 1;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '.')) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                if number(&text).is_none() {
                    return Err(RuleError {
                        column: col,
                        message: format!("`{text}` is not a number"),
                    });
                }
                out.push((Tok::Num(text), col));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    _ => Tok::Ident(word),
                };
                out.push((tok, col));
            }
            other => {
                return Err(RuleError {
                    column: col,
                    message: format!(
                        "unexpected `{other}`: expected a field, a value, a comparison (`==`, `!=`, `>=`, `<=`, `>`, `<`), `and`, `or`, `not` or parentheses"
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// The most tokens a rule may have: the parser and the evaluator recurse once per `and`,
/// `or`, `not` and `(`, and a rule is a short condition, not a program.
const MAX_TOKENS: usize = 500;

/// How deep `(` and `not` may nest.
const MAX_DEPTH: usize = 32;

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    /// `(` and `not` open around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn column(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, c)| *c)
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, RuleError> {
        if matches!(self.peek(), Some(Tok::Not | Tok::LParen)) {
            if self.depth == MAX_DEPTH {
                return Err(RuleError {
                    column: self.column(),
                    message: format!(
                        "`(` and `not` nest more than {MAX_DEPTH} deep here: write the rule more simply"
                    ),
                });
            }
            self.depth += 1;
            let inner = self.nested();
            self.depth -= 1;
            return inner;
        }
        self.comparison()
    }

    /// `not …` or `( … )`.
    fn nested(&mut self) -> Result<Expr, RuleError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.not()?)))
            }
            Some(Tok::LParen) => {
                let open = self.column();
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(RuleError {
                        column: self.column(),
                        message: format!("expected `)` to close the `(` at column {open}"),
                    });
                }
                self.pos += 1;
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, RuleError> {
        let constant = match self.peek() {
            Some(Tok::Bool(b)) => Some(*b),
            _ => None,
        };
        let left = self.operand()?;
        if let Some(Tok::Op(op)) = self.peek() {
            let op = *op;
            self.pos += 1;
            let right = self.operand()?;
            Ok(Expr::Cmp(left, op, right))
        } else if let Some(b) = constant {
            Ok(Expr::Const(b))
        } else {
            Ok(Expr::Present(left))
        }
    }

    fn operand(&mut self) -> Result<Operand, RuleError> {
        let column = self.column();
        let Some((tok, _)) = self.toks.get(self.pos).cloned() else {
            return Err(RuleError {
                column,
                message: "the rule ends early: expected a field or a value".into(),
            });
        };
        self.pos += 1;
        match tok {
            Tok::Ident(name) => Ok(Operand::Field(name, column)),
            Tok::Str(v) | Tok::Num(v) => Ok(Operand::Literal(v, column)),
            Tok::Bool(b) => Ok(Operand::Literal(b.to_string(), column)),
            other => Err(RuleError {
                column,
                message: format!("expected a field or a value, found {}", describe(&other)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn evaluates_a_table_of_rules() {
        let rec = fields(&[
            ("warmness", "4"),
            ("lifecycle_stage", "customer"),
            ("email", "ann@example.com"),
            ("custom.tier", "gold"),
            ("custom.vip", "true"),
        ]);
        let cases: &[(&str, &str, bool)] = &[
            ("number at the bound", "warmness >= 4", true),
            (
                "number compared numerically, not as text",
                "warmness < 10",
                true,
            ),
            ("decimal equals integer", "warmness == 4.0", true),
            ("strictly greater fails at bound", "warmness > 4", false),
            (
                "text equality, double quotes",
                "lifecycle_stage == \"customer\"",
                true,
            ),
            (
                "text equality, single quotes",
                "lifecycle_stage == 'lead'",
                false,
            ),
            ("not empty", "email != \"\"", true),
            ("absent field is empty", "phone == \"\"", true),
            ("lone field means present", "email", true),
            ("lone absent field is false", "phone", false),
            (
                "and",
                "warmness >= 4 and lifecycle_stage == \"customer\"",
                true,
            ),
            ("or", "warmness >= 5 or custom.tier == \"gold\"", true),
            ("not", "not warmness >= 5", true),
            ("keywords are case-insensitive", "NOT phone AND email", true),
            (
                "and binds tighter than or",
                "email or phone and warmness > 9",
                true,
            ),
            (
                "parentheses override",
                "(email or phone) and warmness > 9",
                false,
            ),
            (
                "ordering against an absent field is false",
                "phone < 5",
                false,
            ),
            ("negative number literal", "warmness > -1", true),
            ("false alone admits nothing", "false", false),
            ("true alone admits everything", "TRUE", true),
            ("false in a rule", "email and not false", true),
            ("a yes/no value", "custom.vip == true", true),
        ];
        for (name, src, want) in cases {
            let rule = Rule::parse(src).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(rule.eval(&rec), *want, "{name}: `{src}`");
        }
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases: &[(&str, &str, usize, &str)] = &[
            ("single equals", "warmness = 4", 10, "`==`"),
            ("dangling operator", "warmness >=", 12, "ends early"),
            ("unclosed paren", "(email and phone", 17, "column 1"),
            ("unclosed text", "stage == \"cust", 10, "closing"),
            ("stray token", "email phone", 7, "unexpected `phone`"),
            ("bad character", "email & phone", 7, "unexpected `&`"),
            (
                "operator where operand expected",
                "== 4",
                1,
                "expected a field",
            ),
            ("bad number", "warmness > 4x", 12, "not a number"),
        ];
        for (name, src, col, needle) in cases {
            let err = Rule::parse(src).expect_err(name);
            assert_eq!(err.column, *col, "{name}: {err}");
            assert!(err.message.contains(needle), "{name}: {err}");
        }
    }

    #[test]
    fn parse_for_refuses_unknown_fields_at_their_column() {
        let err =
            Rule::parse_for("warmness >= 4 and colour == 'red'", ObjectKind::Contact).unwrap_err();
        assert_eq!(err.column, 19);
        assert!(
            err.message.contains("`colour` is not a contact field"),
            "{err}"
        );
        assert!(Rule::parse_for("custom.tier == 'gold'", ObjectKind::Contact).is_ok());
    }

    #[test]
    fn parse_for_refuses_values_the_field_cannot_hold() {
        let cases: &[(&str, ObjectKind, usize, &str)] = &[
            (
                "warmness >= 'hot'",
                ObjectKind::Contact,
                13,
                "`warmness` is a number: expected a number, found `hot`",
            ),
            (
                "'4x' == warmness",
                ObjectKind::Contact,
                1,
                "expected a number",
            ),
            (
                "done > 'true'",
                ObjectKind::Activity,
                1,
                "compare it with `==` or `!=`, not `>`",
            ),
            (
                "done == 'yes'",
                ObjectKind::Activity,
                9,
                "expected `\"true\"`",
            ),
            (
                "due_date < '1 May'",
                ObjectKind::Activity,
                12,
                "expected a date written YYYY-MM-DD",
            ),
        ];
        for (src, object, col, needle) in cases {
            let err = Rule::parse_for(src, *object).expect_err(src);
            assert_eq!(err.column, *col, "{src}: {err}");
            assert!(err.message.contains(needle), "{src}: {err}");
        }
        for ok in [
            "warmness >= 4",
            "warmness == ''",
            "done == 'true'",
            "due_date < '2026-05-01'",
            "warmness > first_name",
        ] {
            let object = if ok.contains("done") || ok.contains("due") {
                ObjectKind::Activity
            } else {
                ObjectKind::Contact
            };
            Rule::parse_for(ok, object).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn deep_nesting_and_long_rules_are_refused_with_a_column_not_a_crash() {
        let deep = format!("{}email{}", "(".repeat(50_000), ")".repeat(50_000));
        let err = Rule::parse(&deep).unwrap_err();
        assert_eq!(err.column, 1 + MAX_TOKENS, "{err}");
        let nots = format!("{}email", "not ".repeat(40));
        let err = Rule::parse(&nots).unwrap_err();
        assert_eq!(err.column, 1 + 4 * MAX_DEPTH, "{err}");
        assert!(err.message.contains("nest more than 32 deep"), "{err}");
        let fine = format!("{}email{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(
            Rule::parse(&fine)
                .unwrap()
                .eval(&fields(&[("email", "a@b.c")]))
        );
        let chain = vec!["warmness >= 4"; 120].join(" and ");
        assert!(
            Rule::parse(&chain)
                .unwrap()
                .eval(&fields(&[("warmness", "5")]))
        );
    }
}
