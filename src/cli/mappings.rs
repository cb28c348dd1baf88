//! `crmsync mappings list|check|setup`

use serde::Serialize;

use crate::error::Error;
use crate::mapping::{Direction, FieldMap};
use crate::model::{FieldType, ObjectKind};
use crate::output::table::table;
use crate::providers::{FieldSpec, Provider, RemoteField, RemoteFieldKind};
use crate::store::Store;

use super::{Context, Exit};

/// Field mappings: list them, check them against the CRM's fields, create missing fields
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  crmsync mappings list -c acme\n  crmsync mappings check -c acme\n  crmsync mappings setup -c acme"
)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List the resolved mappings of a connection
    List(Target),
    /// Check mappings against the CRM's field catalogue (missing fields, type mismatches)
    Check(Target),
    /// Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing
    Setup(Target),
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// The connection [default: the only one configured]
    #[arg(long, short = 'c', value_name = "NAME")]
    pub connection: Option<String>,
}

/// One mapped field (`--json` of `list` and `check`).
#[derive(Debug, Serialize)]
pub struct MappingRow {
    pub object: ObjectKind,
    pub field: String,
    pub remote: String,
    pub direction: Direction,
    pub policy: crate::mapping::ConflictPolicy,
    pub transform: Option<String>,
    /// `check`: `ok`, or what is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// `check`: this is a problem that stops or corrupts syncing (else a warning).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub problem: bool,
    /// `check`: the local records whose value of this field the CRM would refuse, taken
    /// with their other values (a deal's stage its pipeline does not have).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedRecord>,
}

/// A local record the CRM would refuse as it stands (`--json` of `check`).
#[derive(Debug, Clone, Serialize)]
pub struct RefusedRecord {
    pub id: String,
    /// What is wrong and what to do: the words a sync fails the record with.
    pub message: String,
}

/// What `setup` did (`--json`).
#[derive(Debug, Serialize)]
pub struct SetupReport {
    pub connection: String,
    pub created: Vec<String>,
    pub present: Vec<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<Exit> {
    let (target, action) = match &args.action {
        Action::List(t) => (t, "list"),
        Action::Check(t) => (t, "check"),
        Action::Setup(t) => (t, "setup"),
    };
    let name = match &target.connection {
        Some(n) => n.clone(),
        None => match ctx.config.connections.keys().collect::<Vec<_>>().as_slice() {
            [only] => (*only).clone(),
            [] => {
                return Err(Error::usage(
                    "no connections are configured: add one with `crmsync connect`".into(),
                )
                .into());
            }
            _ => {
                return Err(Error::usage(
                    "several connections are configured: name one with `--connection NAME`".into(),
                )
                .into());
            }
        },
    };
    let opened =
        crate::connection::open(&name, &ctx.config, &ctx.state_path, ctx.clock.clone(), None)?;
    let provider = opened.provider.as_ref();
    let objects: Vec<ObjectKind> = ObjectKind::ALL
        .into_iter()
        .filter(|o| provider.objects().contains(o))
        .filter(|o| opened.config.syncs(*o))
        .collect();
    let mut maps = Vec::new();
    for object in &objects {
        let map = FieldMap::resolve(
            &ctx.config,
            &name,
            *object,
            &provider.default_mappings(*object),
        )
        .map_err(|e| Error::usage(e.to_string()))?;
        maps.push(map);
    }
    match action {
        "list" => list(ctx, &maps, None),
        "check" => {
            let mut catalogue = Vec::new();
            for object in &objects {
                catalogue.push((*object, provider.fields(*object).await?));
            }
            let refused = refused_records(ctx, &maps, &catalogue, provider).await?;
            list(ctx, &maps, Some((&catalogue, provider, &refused)))
        }
        _ => setup(ctx, &name, provider, &maps).await,
    }
}

/// Each object's field catalogue, as the CRM lists it.
type Catalogue = [(ObjectKind, Vec<RemoteField>)];

/// The local records the CRM would refuse, each with the object and the remote property
/// whose value it refuses.
type Refused = [(ObjectKind, String, RefusedRecord)];

/// The live local records the CRM would refuse for values that are valid only together
/// ([`Provider::refusals`]), asked about as a push would send them: mapped with the
/// catalogue's dropdown options, a label standing for its option's value.
async fn refused_records(
    ctx: &Context,
    maps: &[FieldMap],
    catalogue: &Catalogue,
    provider: &dyn Provider,
) -> anyhow::Result<Vec<(ObjectKind, String, RefusedRecord)>> {
    if !ctx.state_path.exists() {
        return Ok(Vec::new());
    }
    let store = Store::open_read_only(&ctx.state_path)?;
    let mut out = Vec::new();
    for (map, (_, fields)) in maps.iter().zip(catalogue) {
        if !provider.refuses_together(map.object) {
            continue;
        }
        let mut map = map.clone();
        for rule in &mut map.rules {
            if let Some(f) = fields.iter().find(|f| f.name == rule.remote) {
                rule.options = f.options.clone();
            }
        }
        let mut ids = Vec::new();
        let mut props = Vec::new();
        store.for_each_record(map.object, false, &mut |r| {
            props.push(map.create_props(&r.fields, &crate::mapping::NoLinks).props);
            ids.push(r.id.0);
            Ok(())
        })?;
        for (id, verdict) in ids
            .into_iter()
            .zip(provider.refusals(map.object, &props).await?)
        {
            if let Some(v) = verdict {
                out.push((
                    map.object,
                    v.property,
                    RefusedRecord {
                        id,
                        message: v.message,
                    },
                ));
            }
        }
    }
    Ok(out)
}

fn rows(maps: &[FieldMap]) -> Vec<MappingRow> {
    maps.iter()
        .flat_map(|m| {
            m.rules.iter().map(move |r| MappingRow {
                object: m.object,
                field: r.field.clone(),
                remote: r.remote.clone(),
                direction: r.direction,
                policy: r.policy,
                transform: r.transform.map(|t| t.name().to_string()),
                check: None,
                problem: false,
                refused: Vec::new(),
            })
        })
        .collect()
}

fn list(
    ctx: &Context,
    maps: &[FieldMap],
    check: Option<(&Catalogue, &dyn Provider, &Refused)>,
) -> anyhow::Result<Exit> {
    let mut rows = rows(maps);
    // The local values a check tests against the CRM's fields, from the state file if any.
    let store = match check {
        Some(_) if ctx.state_path.exists() => Some(Store::open_read_only(&ctx.state_path)?),
        _ => None,
    };
    let store = store.as_ref();
    let mut missing_required = Vec::new();
    if let Some((catalogue, provider, refused)) = check {
        for row in &mut rows {
            let fields = &catalogue
                .iter()
                .find(|(o, _)| *o == row.object)
                .expect("every object")
                .1;
            let ty = row.object.field_type(&row.field).unwrap_or(FieldType::Text);
            let (mut msg, mut problem) = check_one(row, ty, fields);
            if let (Some(store), Some(f)) = (store, fields.iter().find(|f| f.name == row.remote))
                && row.direction.pushes()
                && let Some(refused) = refused_values(f, &sent_values(store, maps, row)?)
            {
                msg = refused;
                problem = true;
            }
            row.refused = refused
                .iter()
                .filter(|(o, property, _)| *o == row.object && *property == row.remote)
                .map(|(_, _, r)| r.clone())
                .collect();
            if !row.refused.is_empty() && row.direction.pushes() {
                msg = format!(
                    "{} local record(s) the CRM would refuse, listed below",
                    row.refused.len()
                );
                problem = true;
            }
            row.check = Some(msg);
            row.problem = problem;
        }
        for (object, fields) in catalogue {
            for spec in provider.required_fields(*object) {
                if !fields.iter().any(|f| f.name == spec.name) {
                    missing_required.push(format!("{object}: `{}`", spec.name));
                }
            }
        }
    }
    if ctx.out.json {
        ctx.out.json(&rows)?;
    } else {
        let mut header = vec!["object", "field", "crm field", "direction", "policy"];
        if check.is_some() {
            header.push("check");
        }
        let mut t = table(&ctx.out, &header);
        for r in &rows {
            let mut row = vec![
                r.object.to_string(),
                r.field.clone(),
                r.remote.clone(),
                r.direction.as_str().to_string(),
                r.policy.as_str().to_string(),
            ];
            if let Some(c) = &r.check {
                row.push(c.clone());
            }
            t.add_row(row);
        }
        ctx.out.data(t)?;
    }
    for r in rows.iter().filter(|r| r.problem) {
        for refused in &r.refused {
            ctx.out.warn(format!(
                "{} `{}`: {}",
                r.object, refused.id, refused.message
            ));
        }
    }
    for m in &missing_required {
        ctx.out.warn(format!(
            "the CRM lacks the field crmsync needs: {m}; run `crmsync mappings setup`"
        ));
    }
    let problems = rows.iter().filter(|r| r.problem).count();
    if problems > 0 || !missing_required.is_empty() {
        ctx.out.note(format!(
            "{} problem(s): fix the mapping in the config, or run `crmsync mappings setup` to create missing fields",
            problems + missing_required.len()
        ));
        return Ok(Exit::Error);
    }
    Ok(Exit::Ok)
}

/// The values live local records hold in `row`'s field, as a push sends them: through the
/// rule's value map (an activity type `linkedin` goes as the CRM's `task`, say).
fn sent_values(
    store: &Store,
    maps: &[FieldMap],
    row: &MappingRow,
) -> anyhow::Result<Vec<(String, u64)>> {
    let rule = maps
        .iter()
        .filter(|m| m.object == row.object)
        .flat_map(|m| &m.rules)
        .find(|r| r.field == row.field);
    let mapped = |v: String| {
        rule.and_then(|r| r.values.get(&v).or_else(|| r.values.get(&v.to_lowercase())))
            .cloned()
            .unwrap_or(v)
    };
    Ok(store
        .field_values(row.object, &row.field)?
        .into_iter()
        .map(|(v, n)| (mapped(v), n))
        .collect())
}

/// What the CRM field `f` would refuse of the local values (value, records holding it) a
/// push sends it: values outside a closed list of options (by value or label, as a local
/// value names one), or longer than the field takes. `None` when it takes them all.
fn refused_values(f: &RemoteField, values: &[(String, u64)]) -> Option<String> {
    const SHOWN: usize = 5;
    let list = |bad: &[&(String, u64)]| {
        let records: u64 = bad.iter().map(|(_, n)| n).sum();
        let shown = bad
            .iter()
            .take(SHOWN)
            .map(|(v, n)| format!("`{v}` ({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        let more = if bad.len() > SHOWN { ", …" } else { "" };
        (records, format!("{shown}{more}"))
    };
    if f.kind == RemoteFieldKind::Enumeration && !f.open_options && !f.options.is_empty() {
        let takes = |v: &str| {
            f.options
                .iter()
                .any(|o| o.value.eq_ignore_ascii_case(v) || o.label.eq_ignore_ascii_case(v))
        };
        let bad: Vec<&(String, u64)> = values.iter().filter(|(v, _)| !takes(v)).collect();
        if !bad.is_empty() {
            let (records, shown) = list(&bad);
            let options: Vec<&str> = f.options.iter().map(|o| o.label.as_str()).collect();
            return Some(format!(
                "{records} local record(s) hold values `{}` refuses: {shown}; it takes only {}. \
                 Change them (`crmsync records set`) or map them to an option",
                f.name,
                options.join(", ")
            ));
        }
    }
    if let Some(max) = f.max_length {
        let bad: Vec<&(String, u64)> = values
            .iter()
            .filter(|(v, _)| v.chars().count() > max)
            .collect();
        if !bad.is_empty() {
            let (records, shown) = list(&bad);
            return Some(format!(
                "{records} local record(s) hold values longer than the {max} characters `{}` \
                 takes: {shown}; shorten them or map the field to a longer one",
                f.name
            ));
        }
    }
    None
}

/// What is wrong with one mapping, and whether it is a problem or only a warning.
fn check_one(row: &MappingRow, ty: FieldType, fields: &[RemoteField]) -> (String, bool) {
    if row.direction == Direction::None {
        return ("not synced".into(), false);
    }
    let Some(f) = fields.iter().find(|f| f.name == row.remote) else {
        return (
            "missing in the CRM (`mappings setup` creates it)".into(),
            true,
        );
    };
    if f.read_only && row.direction.pushes() {
        return (
            format!(
                "read-only in the CRM but mapped `{}`: use `from-crm`",
                if row.direction == Direction::Both {
                    "both"
                } else {
                    "to-crm"
                }
            ),
            true,
        );
    }
    let fits = match (ty, f.kind) {
        (_, RemoteFieldKind::Other) => true,
        (FieldType::Ref(_), RemoteFieldKind::Reference) => true,
        (FieldType::Ref(_), _) | (_, RemoteFieldKind::Reference) => false,
        (FieldType::Number, RemoteFieldKind::Number | RemoteFieldKind::Text) => true,
        (
            FieldType::Bool,
            RemoteFieldKind::Bool | RemoteFieldKind::Enumeration | RemoteFieldKind::Text,
        ) => true,
        (
            FieldType::Date,
            RemoteFieldKind::Date | RemoteFieldKind::DateTime | RemoteFieldKind::Text,
        ) => true,
        (FieldType::Phone, RemoteFieldKind::Phone | RemoteFieldKind::Text) => true,
        (
            FieldType::Text | FieldType::Email | FieldType::EmailList,
            RemoteFieldKind::Text | RemoteFieldKind::Phone,
        ) => true,
        (FieldType::Text, RemoteFieldKind::Enumeration) => {
            // The options by label, which is how a local value names one (its id works too).
            return (
                format!(
                    "`{}` takes only its options ({}): other values are refused",
                    f.name,
                    f.options
                        .iter()
                        .map(|o| o.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                false,
            );
        }
        _ => false,
    };
    if fits {
        ("ok".into(), false)
    } else {
        (
            format!("type mismatch: {ty:?} here, `{}` in the CRM", f.remote_type),
            true,
        )
    }
}

async fn setup(
    ctx: &Context,
    name: &str,
    provider: &dyn Provider,
    maps: &[FieldMap],
) -> anyhow::Result<Exit> {
    let mut report = SetupReport {
        connection: name.to_string(),
        created: Vec::new(),
        present: Vec::new(),
    };
    for map in maps {
        let existing = provider.fields(map.object).await?;
        let mut wanted: Vec<FieldSpec> = provider.required_fields(map.object);
        // The tag of seeding imports (`import --to C --tag T`, `teardown`).
        wanted.extend(provider.tag_field(map.object));
        for rule in &map.rules {
            if rule.direction == Direction::None || matches!(rule.ty, FieldType::Ref(_)) {
                continue;
            }
            wanted.push(FieldSpec {
                name: rule.remote.clone(),
                label: rule
                    .field
                    .trim_start_matches(crate::model::CUSTOM_PREFIX)
                    .replace('_', " "),
                kind: match rule.ty {
                    FieldType::Number => RemoteFieldKind::Number,
                    FieldType::Bool => RemoteFieldKind::Bool,
                    FieldType::Date => RemoteFieldKind::Date,
                    FieldType::Phone => RemoteFieldKind::Phone,
                    _ => RemoteFieldKind::Text,
                },
                unique: false,
            });
        }
        for spec in wanted {
            let label = format!("{} `{}`", map.object, spec.name);
            if existing.iter().any(|f| f.name == spec.name)
                || report.present.contains(&label)
                || report.created.contains(&label)
            {
                if !report.created.contains(&label) && !report.present.contains(&label) {
                    report.present.push(label);
                }
                continue;
            }
            provider.create_field(map.object, &spec).await?;
            report.created.push(label);
        }
        for label in provider.setup_labels(map.object).await? {
            report
                .created
                .push(format!("{} label \"{label}\"", map.object));
        }
    }
    let note = (!report.created.is_empty())
        .then(|| provider.setup_note())
        .flatten();
    if ctx.out.json {
        ctx.out.json(&report)?;
    } else if report.created.is_empty() {
        ctx.out
            .data(format!("`{name}` has every field crmsync needs"))?;
    } else {
        ctx.out.data(format!(
            "created in `{name}`: {}",
            report.created.join(", ")
        ))?;
    }
    if let Some(note) = note {
        ctx.out.note(note);
    }
    Ok(Exit::Ok)
}
