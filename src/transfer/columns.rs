//! Which canonical field each column of a file fills.
//!
//! A column name is compared after *folding*: lower case, with spaces, `-`, `_` and `.` removed,
//! so `First Name`, `first-name`, `FIRST_NAME` and `firstname` are one name. The folded name is
//! looked up among the kind's canonical fields, then among common aliases (`E-mail`,
//! `Phone Number`, `Company Name`, `Title`, …). `custom.<name>` columns are custom fields.
//! Explicit `--map` entries win over all of this.

use std::collections::HashMap;

use crate::model::{CUSTOM_PREFIX, ObjectKind, is_custom_name};

/// What one column of a file becomes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MapTarget {
    /// A canonical field (standard or `custom.<name>`).
    Field(String),
    /// The record's id (a ULID).
    Id,
    UpdatedAt,
    ArchivedAt,
    /// Not imported.
    Drop,
}

impl MapTarget {
    fn parse(kind: ObjectKind, s: &str) -> Result<MapTarget, String> {
        let s = s.trim();
        match s {
            "-" => return Ok(MapTarget::Drop),
            "id" => return Ok(MapTarget::Id),
            "updated_at" => return Ok(MapTarget::UpdatedAt),
            "archived_at" => return Ok(MapTarget::ArchivedAt),
            _ => {}
        }
        if kind.field_type(s).is_some() {
            return Ok(MapTarget::Field(s.to_string()));
        }
        if let Some(custom) = s.strip_prefix(CUSTOM_PREFIX) {
            return Err(format!(
                "`{s}` is not a valid custom field: `{custom}` must start with a letter and hold only letters, digits and `_`"
            ));
        }
        let fields: Vec<&str> = kind.standard_fields().iter().map(|f| f.name).collect();
        Err(format!(
            "`{s}` is not a {kind} field; use one of {}, `custom.NAME`, `id`, `updated_at`, `archived_at` or `-` to drop the column",
            fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Parses one `--map COLUMN=FIELD` argument for `kind`. `FIELD` may be `-` (drop the column),
/// `custom.NAME`, `id`, `updated_at` or `archived_at`. The column is split at the last `=`, so
/// a column name may contain `=`.
pub fn parse_map_spec(kind: ObjectKind, spec: &str) -> Result<(String, MapTarget), String> {
    let Some((col, field)) = spec.rsplit_once('=') else {
        return Err(format!(
            "`--map {spec}` is not `COLUMN=FIELD`; e.g. `--map \"E-mail address=email\"`"
        ));
    };
    if col.trim().is_empty() {
        return Err(format!("`--map {spec}` names no column"));
    }
    let target = MapTarget::parse(kind, field).map_err(|m| format!("`--map {spec}`: {m}"))?;
    Ok((col.trim().to_string(), target))
}

/// Folds a column name for comparison: lower case without spaces, `-`, `_` and `.`.
pub(crate) fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.' | '\u{a0}' | '\t'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Common names of canonical fields, already folded.
fn aliases(kind: ObjectKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        ObjectKind::Contact => &[
            ("firstname", "first_name"),
            ("givenname", "first_name"),
            ("forename", "first_name"),
            ("first", "first_name"),
            ("lastname", "last_name"),
            ("surname", "last_name"),
            ("familyname", "last_name"),
            ("last", "last_name"),
            ("mail", "email"),
            ("emailaddress", "email"),
            ("primaryemail", "email"),
            ("workemail", "email"),
            ("otheremails", "emails"),
            ("additionalemails", "emails"),
            ("phonenumber", "phone"),
            ("telephone", "phone"),
            ("tel", "phone"),
            ("mobile", "phone"),
            ("mobilephone", "phone"),
            ("workphone", "phone"),
            ("companyname", "company"),
            ("organization", "company"),
            ("organisation", "company"),
            ("org", "company"),
            ("employer", "company"),
            ("account", "company"),
            ("accountname", "company"),
            ("title", "job_title"),
            ("jobtitle", "job_title"),
            ("position", "job_title"),
            ("role", "job_title"),
            ("contactowner", "owner"),
            ("lifecyclestage", "lifecycle_stage"),
            ("stage", "lifecycle_stage"),
            ("lifecycle", "lifecycle_stage"),
            ("score", "warmness"),
        ],
        ObjectKind::Company => &[
            ("companyname", "name"),
            ("company", "name"),
            ("organization", "name"),
            ("organisation", "name"),
            ("accountname", "name"),
            ("website", "domain"),
            ("companydomain", "domain"),
            ("domainname", "domain"),
            ("sector", "industry"),
        ],
        ObjectKind::Deal => &[
            ("dealname", "name"),
            ("title", "name"),
            ("dealstage", "stage"),
            ("value", "amount"),
            ("currencycode", "currency"),
            ("closedate", "close_date"),
            ("expectedclosedate", "close_date"),
            ("contact", "contact_id"),
            ("company", "company_id"),
        ],
        ObjectKind::Activity => &[
            ("activitytype", "type"),
            ("kind", "type"),
            ("title", "subject"),
            ("notes", "note"),
            ("body", "note"),
            ("description", "note"),
            ("due", "due_date"),
            ("duedate", "due_date"),
            ("date", "due_date"),
            ("completed", "done"),
            ("isdone", "done"),
            ("contact", "contact_id"),
            ("company", "company_id"),
            ("timestamp", "time"),
            ("occurredat", "time"),
            ("dueat", "time"),
            ("when", "time"),
            ("minutes", "duration"),
            ("durationminutes", "duration"),
            ("outcome", "status"),
            ("assignedto", "owner"),
            ("activityowner", "owner"),
        ],
    }
}

/// The built-in reading of a column name, without `--map`.
pub(crate) fn builtin_target(kind: ObjectKind, name: &str) -> Option<MapTarget> {
    let name = name.trim().trim_start_matches('\u{feff}');
    if let Some(custom) = name.strip_prefix(CUSTOM_PREFIX) {
        return is_custom_name(custom).then(|| MapTarget::Field(name.to_string()));
    }
    let folded = fold(name);
    match folded.as_str() {
        "id" | "crmsyncid" | "recordid" => return Some(MapTarget::Id),
        "updatedat" => return Some(MapTarget::UpdatedAt),
        "archivedat" => return Some(MapTarget::ArchivedAt),
        _ => {}
    }
    if let Some(f) = kind
        .standard_fields()
        .iter()
        .find(|f| fold(f.name) == folded)
    {
        return Some(MapTarget::Field(f.name.to_string()));
    }
    aliases(kind)
        .iter()
        .find(|(a, _)| *a == folded)
        .map(|(_, f)| MapTarget::Field((*f).to_string()))
}

/// Resolves column names to targets: explicit `map` entries (by exact name, then by folded
/// name), then the built-in names.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMapper {
    kind: ObjectKind,
    exact: HashMap<String, MapTarget>,
    folded: HashMap<String, MapTarget>,
}

impl ColumnMapper {
    pub(crate) fn new(kind: ObjectKind, map: &[(String, MapTarget)]) -> ColumnMapper {
        let mut exact = HashMap::new();
        let mut folded = HashMap::new();
        for (col, target) in map {
            exact.insert(col.clone(), target.clone());
            folded.insert(fold(col), target.clone());
        }
        ColumnMapper {
            kind,
            exact,
            folded,
        }
    }

    pub(crate) fn target(&self, column: &str) -> Option<MapTarget> {
        let trimmed = column.trim().trim_start_matches('\u{feff}');
        self.exact
            .get(trimmed)
            .or_else(|| self.folded.get(&fold(trimmed)))
            .cloned()
            .or_else(|| builtin_target(self.kind, trimmed))
    }
}

/// The targets of a whole header, or why the header is refused: the list of columns that are
/// not fields, or that no column is a field.
pub(crate) enum HeaderProblem {
    Unknown(Vec<String>),
    NoFields,
    /// Two columns fill the same field or metadata.
    Twice(String, String, String),
    /// A `--map` column that the header does not have.
    MissingMapped(String),
}

pub(crate) fn resolve_header(
    mapper: &ColumnMapper,
    header: &[String],
    map: &[(String, MapTarget)],
) -> Result<Vec<MapTarget>, HeaderProblem> {
    let mut targets = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    let mut seen: HashMap<MapTarget, &str> = HashMap::new();
    for col in header {
        // A column with no name (a trailing comma in the header) holds nothing to import; a
        // row that puts a value there is rejected when it is read.
        if col.trim().is_empty() {
            targets.push(MapTarget::Drop);
            continue;
        }
        match mapper.target(col) {
            Some(t) => {
                if t != MapTarget::Drop
                    && let Some(first) = seen.insert(t.clone(), col)
                {
                    let what = match &t {
                        MapTarget::Field(f) => f.clone(),
                        MapTarget::Id => "id".into(),
                        MapTarget::UpdatedAt => "updated_at".into(),
                        MapTarget::ArchivedAt => "archived_at".into(),
                        MapTarget::Drop => unreachable!("drops are not recorded"),
                    };
                    return Err(HeaderProblem::Twice(first.to_string(), col.clone(), what));
                }
                targets.push(t);
            }
            None => {
                unknown.push(col.clone());
                targets.push(MapTarget::Drop);
            }
        }
    }
    for (col, _) in map {
        let f = fold(col);
        if !header.iter().any(|h| h.trim() == col || fold(h) == f) {
            return Err(HeaderProblem::MissingMapped(col.clone()));
        }
    }
    if !targets.iter().any(|t| matches!(t, MapTarget::Field(_))) {
        return Err(HeaderProblem::NoFields);
    }
    if !unknown.is_empty() {
        return Err(HeaderProblem::Unknown(unknown));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(s: &str) -> Option<MapTarget> {
        Some(MapTarget::Field(s.to_string()))
    }

    #[test]
    fn names_match_forgivingly() {
        let k = ObjectKind::Contact;
        for name in [
            "first_name",
            "First Name",
            "FIRST-NAME",
            "firstname",
            " Given name ",
        ] {
            assert_eq!(builtin_target(k, name), field("first_name"), "{name}");
        }
        assert_eq!(builtin_target(k, "E-mail"), field("email"));
        assert_eq!(builtin_target(k, "Email Address"), field("email"));
        assert_eq!(builtin_target(k, "Phone Number"), field("phone"));
        assert_eq!(builtin_target(k, "Company Name"), field("company"));
        assert_eq!(builtin_target(k, "Title"), field("job_title"));
        assert_eq!(builtin_target(k, "phone_e164"), field("phone_e164"));
        assert_eq!(builtin_target(k, "\u{feff}id"), Some(MapTarget::Id));
        assert_eq!(builtin_target(k, "Updated At"), Some(MapTarget::UpdatedAt));
        assert_eq!(builtin_target(k, "shoe size"), None);
    }

    #[test]
    fn aliases_depend_on_the_kind() {
        assert_eq!(
            builtin_target(ObjectKind::Company, "Company Name"),
            field("name")
        );
        assert_eq!(
            builtin_target(ObjectKind::Company, "Website"),
            field("domain")
        );
        assert_eq!(
            builtin_target(ObjectKind::Activity, "Title"),
            field("subject")
        );
        assert_eq!(
            builtin_target(ObjectKind::Activity, "Due Date"),
            field("due_date")
        );
    }

    #[test]
    fn custom_columns_need_a_valid_name() {
        let k = ObjectKind::Contact;
        assert_eq!(
            builtin_target(k, "custom.shoe_size"),
            field("custom.shoe_size")
        );
        assert_eq!(builtin_target(k, "custom.shoe size"), None);
        assert_eq!(builtin_target(k, "custom."), None);
    }

    #[test]
    fn map_specs_parse_and_are_checked() {
        let k = ObjectKind::Contact;
        assert_eq!(
            parse_map_spec(k, "Shoe size=custom.shoe_size").unwrap(),
            (
                "Shoe size".into(),
                MapTarget::Field("custom.shoe_size".into())
            )
        );
        assert_eq!(
            parse_map_spec(k, "Notes=-").unwrap(),
            ("Notes".into(), MapTarget::Drop)
        );
        assert_eq!(
            parse_map_spec(k, "a=b=email").unwrap(),
            ("a=b".into(), MapTarget::Field("email".into()))
        );
        let err = parse_map_spec(k, "Notes=notes").unwrap_err();
        assert!(err.contains("`notes` is not a contact field"), "{err}");
        assert!(
            parse_map_spec(k, "Notes")
                .unwrap_err()
                .contains("COLUMN=FIELD")
        );
        assert!(
            parse_map_spec(k, "x=custom.bad name")
                .unwrap_err()
                .contains("not a valid custom field")
        );
    }

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn maps_win_over_builtin_names() {
        let k = ObjectKind::Contact;
        // "Title" is job_title by alias; a map sends it to a custom field instead, and `E-mail`
        // is matched by its folded name.
        let map = vec![
            parse_map_spec(k, "title=custom.honorific").unwrap(),
            parse_map_spec(k, "Shoe Size=-").unwrap(),
        ];
        let m = ColumnMapper::new(k, &map);
        let t = resolve_header(&m, &header(&["Title", "E-mail", "Shoe Size"]), &map).ok();
        assert_eq!(
            t,
            Some(vec![
                MapTarget::Field("custom.honorific".into()),
                MapTarget::Field("email".into()),
                MapTarget::Drop
            ])
        );
    }

    #[test]
    fn unknown_columns_are_listed() {
        let k = ObjectKind::Contact;
        let m = ColumnMapper::new(k, &[]);
        match resolve_header(&m, &header(&["email", "Shoe Size", "Pet"]), &[]) {
            Err(HeaderProblem::Unknown(cols)) => assert_eq!(cols, vec!["Shoe Size", "Pet"]),
            _ => panic!("expected unknown columns"),
        }
        assert!(matches!(
            resolve_header(&m, &header(&["ann@example.com", "Ann"]), &[]),
            Err(HeaderProblem::NoFields)
        ));
        assert_eq!(
            resolve_header(&m, &header(&["email", "", " "]), &[]).ok(),
            Some(vec![
                MapTarget::Field("email".into()),
                MapTarget::Drop,
                MapTarget::Drop
            ])
        );
        assert!(matches!(
            resolve_header(&m, &header(&["Email", "E-mail"]), &[]),
            Err(HeaderProblem::Twice(a, b, f)) if a == "Email" && b == "E-mail" && f == "email"
        ));
        let map = vec![parse_map_spec(k, "Missing=email").unwrap()];
        let m = ColumnMapper::new(k, &map);
        assert!(matches!(
            resolve_header(&m, &header(&["first_name"]), &map),
            Err(HeaderProblem::MissingMapped(c)) if c == "Missing"
        ));
    }
}
