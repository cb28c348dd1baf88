//! Resolved field maps and the conversion of records between remote properties and canonical
//! fields.
//!
//! A connection's map for one object is built from three layers, later ones winning:
//! the provider's built-in [`DefaultMapping`]s, the connection's `[[connections.NAME.fields]]`
//! entries, and for the conflict policy `[policies.OBJECT]` then `[sync] conflict_policy`.
//! A custom field (`custom.x`) with no `remote` maps to the property `x`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::transform::Transform;
use super::{ConflictPolicy, Direction};
use crate::config::{Config, FieldMappingConfig};
use crate::model::normalize::normalize;
use crate::model::{CUSTOM_PREFIX, FieldType, Fields, Millis, ObjectKind, RecordId};
use crate::providers::{DefaultMapping, FieldOption, RemoteRecord};

/// How one canonical field is synced with one remote property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRule {
    /// Canonical field name (`email`, `custom.tier`).
    pub field: String,
    /// The CRM property (or provider pseudo-property for references).
    pub remote: String,
    /// The canonical type: how values are normalised and compared.
    pub ty: FieldType,
    pub direction: Direction,
    pub policy: ConflictPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    /// The CRM's allowed values when the property is an enumeration (a dropdown), as its
    /// catalogue last listed them; empty when not known. A value that is no option's value
    /// but is one's label (case aside) stands for that option's value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FieldOption>,
    /// Local values the CRM keeps under another value (Pipedrive's activity types: a local
    /// `linkedin` is a `task` there): local value → the CRM's. See [`super::values`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

impl FieldRule {
    /// A rule with the default direction (`both`), policy (`newest-wins`) and no transform.
    pub fn new(field: &str, remote: &str, ty: FieldType) -> FieldRule {
        FieldRule {
            field: field.to_string(),
            remote: remote.to_string(),
            ty,
            direction: Direction::Both,
            policy: ConflictPolicy::default(),
            transform: None,
            options: Vec::new(),
            values: BTreeMap::new(),
        }
    }

    /// `value` as the planner compares it and the CRM is sent it: normalised for the type,
    /// transformed, and for a dropdown, an option's label taken for its value. `None` for an
    /// empty value; a value that does not normalise is kept as written.
    ///
    /// So a local value written as the label people see (`Marketing Qualified Lead`) is sent
    /// as the value the CRM takes (`marketingqualifiedlead`), and the value the CRM answers is
    /// the same value as the local one: nothing goes back and forth, and the local value is
    /// kept as written.
    pub fn canonical(&self, value: &str) -> Option<String> {
        let v = match normalize(self.ty, value) {
            Ok(v) => v?,
            Err(_) => value.trim().to_string(),
        };
        let v = match self.transform {
            Some(t) => t.apply(&v),
            None => v,
        };
        let v = self.option_value(v);
        let v = super::values::sent_as(&self.values, v);
        (!v.is_empty()).then_some(v)
    }

    /// `v`, or the value of the option whose label it is when it is no option's value.
    fn option_value(&self, v: String) -> String {
        if self.options.is_empty() || self.options.iter().any(|o| o.value == v) {
            return v;
        }
        let folded = v.to_lowercase();
        match self
            .options
            .iter()
            .find(|o| o.label.trim().to_lowercase() == folded)
        {
            Some(o) => o.value.clone(),
            None => v,
        }
    }

    /// Whether two values are the same for this field, after normalisation and transform.
    pub fn same(&self, a: Option<&str>, b: Option<&str>) -> bool {
        if a == b {
            return true;
        }
        let a = a.and_then(|v| self.canonical(v));
        let b = b.and_then(|v| self.canonical(v));
        a == b
    }
}

/// The resolved rules of one connection for one object, in canonical field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMap {
    pub connection: String,
    pub object: ObjectKind,
    pub rules: Vec<FieldRule>,
}

/// A mapping that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connection `{connection}`, {object} field `{field}`: {message}")]
pub struct MappingError {
    pub connection: String,
    pub object: ObjectKind,
    pub field: String,
    pub message: String,
}

/// A value that could not be carried across, reported instead of dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldWarning {
    pub field: String,
    pub remote: String,
    pub value: String,
    pub message: String,
}

/// Translates record references between local ids and the CRM's ids (through links).
pub trait IdLookup {
    /// The local record linked to the CRM record `remote_id` of kind `kind`.
    fn local_id(&self, kind: ObjectKind, remote_id: &str) -> Option<RecordId>;
    /// The CRM id linked to the local record `local_id`.
    fn remote_id(&self, kind: ObjectKind, local_id: &RecordId) -> Option<String>;
}

/// A lookup that knows no links: every reference is reported as unresolved.
pub struct NoLinks;

impl IdLookup for NoLinks {
    fn local_id(&self, _: ObjectKind, _: &str) -> Option<RecordId> {
        None
    }
    fn remote_id(&self, _: ObjectKind, _: &RecordId) -> Option<String> {
        None
    }
}

/// A remote record in canonical terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub fields: Fields,
    /// Per canonical field, when the CRM last changed it (where the CRM says).
    pub field_updated_at: BTreeMap<String, Millis>,
    /// Fields whose remote value could not be read; the planner must treat them as unchanged,
    /// never as cleared.
    pub unreadable: BTreeSet<String>,
    pub warnings: Vec<FieldWarning>,
}

/// Remote properties to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    /// Property → value; `""` clears the property.
    pub props: BTreeMap<String, String>,
    /// Values that were left out of the write (an unlinked reference).
    pub warnings: Vec<FieldWarning>,
}

impl FieldMap {
    /// Resolves the map of `connection` for `object` from the config and the provider's
    /// built-in defaults.
    pub fn resolve(
        config: &Config,
        connection: &str,
        object: ObjectKind,
        defaults: &[DefaultMapping],
    ) -> Result<FieldMap, MappingError> {
        let overrides = config
            .connections
            .get(connection)
            .map_or(&[][..], |c| c.fields.as_slice());
        FieldMap::build(
            connection,
            object,
            defaults,
            overrides,
            config.policies.get(&object),
            config.sync.conflict_policy,
        )
    }

    /// Resolves a map from its layers; [`FieldMap::resolve`] reads them from the config.
    /// `overrides` may hold entries for other objects; they are skipped.
    pub fn build(
        connection: &str,
        object: ObjectKind,
        defaults: &[DefaultMapping],
        overrides: &[FieldMappingConfig],
        policies: Option<&BTreeMap<String, ConflictPolicy>>,
        default_policy: ConflictPolicy,
    ) -> Result<FieldMap, MappingError> {
        let err = |field: &str, message: String| MappingError {
            connection: connection.to_string(),
            object,
            field: field.to_string(),
            message,
        };
        let mut rules: BTreeMap<String, FieldRule> = BTreeMap::new();
        for d in defaults {
            let ty = object.field_type(d.local).ok_or_else(|| {
                err(
                    d.local,
                    format!(
                        "the built-in mapping to `{}` names a field {object} does not have",
                        d.remote
                    ),
                )
            })?;
            let mut rule = FieldRule::new(d.local, d.remote, ty);
            rule.direction = d.direction;
            rules.insert(d.local.to_string(), rule);
        }
        let mut seen = BTreeSet::new();
        let mut explicit_policy = BTreeSet::new();
        for o in overrides.iter().filter(|o| o.object == object) {
            let field = o.local.as_str();
            if !seen.insert(field) {
                return Err(err(
                    field,
                    "mapped twice: keep one `[[connections.NAME.fields]]` entry per field".into(),
                ));
            }
            let ty = object.field_type(field).ok_or_else(|| {
                err(
                    field,
                    format!("not a {object} field (custom fields are named `custom.<name>`)"),
                )
            })?;
            let transform = o
                .transform
                .as_deref()
                .map(Transform::parse)
                .transpose()
                .map_err(|m| err(field, m))?;
            if let Some(remote) = &o.remote
                && remote.trim().is_empty()
            {
                return Err(err(
                    field,
                    "`remote` is empty: name the CRM property, or leave `remote` out".into(),
                ));
            }
            let rule = match rules.get_mut(field) {
                Some(rule) => rule,
                None => {
                    let remote = match (&o.remote, field.strip_prefix(CUSTOM_PREFIX)) {
                        (Some(r), _) => r.clone(),
                        (None, Some(own)) => own.to_string(),
                        (None, None) => {
                            return Err(err(
                                field,
                                "this CRM has no built-in property for it: set `remote` to the CRM property to use".into(),
                            ));
                        }
                    };
                    rules
                        .entry(field.to_string())
                        .or_insert(FieldRule::new(field, &remote, ty))
                }
            };
            if let Some(r) = &o.remote {
                rule.remote = r.trim().to_string();
            }
            if let Some(d) = o.direction {
                rule.direction = d;
            }
            if transform.is_some() {
                rule.transform = transform;
            }
            if !o.values.is_empty() {
                rule.values = o.values.clone();
            }
            if let Some(p) = o.policy {
                rule.policy = p;
                explicit_policy.insert(field.to_string());
            }
        }
        for rule in rules.values_mut() {
            if !explicit_policy.contains(&rule.field) {
                rule.policy = policies
                    .and_then(|p| p.get(&rule.field))
                    .copied()
                    .unwrap_or(default_policy);
            }
        }
        Ok(FieldMap {
            connection: connection.to_string(),
            object,
            rules: rules.into_values().collect(),
        })
    }

    /// The rule for canonical field `field`.
    pub fn rule(&self, field: &str) -> Option<&FieldRule> {
        self.rules.iter().find(|r| r.field == field)
    }

    /// The remote properties to read (every property of a synced field), sorted, unique.
    pub fn remote_properties(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .rules
            .iter()
            .filter(|r| r.direction != Direction::None)
            .map(|r| r.remote.as_str())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// Converts a remote record to canonical fields: transform, then normalise by type;
    /// references are translated to local ids. Values that do not fit are reported in
    /// `warnings` and listed in `unreadable` rather than dropped silently.
    pub fn from_remote(&self, record: &RemoteRecord, ids: &dyn IdLookup) -> Inbound {
        let mut out = Inbound::default();
        for rule in self.rules.iter().filter(|r| r.direction != Direction::None) {
            if let Some(&at) = record.prop_updated_at.get(&rule.remote) {
                out.field_updated_at.insert(rule.field.clone(), at);
            }
            // A property the CRM no longer has is absent from its answer: unchanged, not
            // cleared (the engine drops it from the map once the catalogue confirms it).
            if record.returned.as_ref().is_some_and(|named| {
                !named.contains(&rule.remote) && !rule.remote.starts_with("associations.")
            }) {
                out.unreadable.insert(rule.field.clone());
                continue;
            }
            let Some(raw) = record.props.get(&rule.remote) else {
                continue;
            };
            let mut warn = |message: String| {
                out.warnings.push(FieldWarning {
                    field: rule.field.clone(),
                    remote: rule.remote.clone(),
                    value: raw.clone(),
                    message,
                });
            };
            let transformed = match rule.transform {
                Some(t) => t.apply(raw),
                None => raw.clone(),
            };
            let value = match normalize(rule.ty, &transformed) {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(bad) => {
                    warn(bad.0);
                    out.unreadable.insert(rule.field.clone());
                    continue;
                }
            };
            let value = if let FieldType::Ref(kind) = rule.ty {
                match ids.local_id(kind, &value) {
                    Some(local) => local.0,
                    None => {
                        warn(format!(
                            "refers to {kind} `{value}`, which is not linked to a local record yet"
                        ));
                        out.unreadable.insert(rule.field.clone());
                        continue;
                    }
                }
            } else if !rule.values.is_empty() {
                super::values::read_as(&rule.values, value)
            } else if rule.field == "owner" {
                // An owner reads as the user's email where the CRM lists it (the options of
                // an owner property are its owners by email), as a local owner is written.
                match rule.options.iter().find(|o| o.value == value) {
                    Some(o) => o.label.clone(),
                    None => value,
                }
            } else {
                value
            };
            out.fields.insert(rule.field.clone(), value);
        }
        out
    }

    /// Remote properties for a write of `values` (canonical field → value, `None` = clear).
    /// Only fields whose direction pushes are written; an absent value becomes `""`.
    /// References are translated to the CRM's ids; one that is not linked is left out and
    /// reported (never sent as a clear).
    pub fn to_remote<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        ids: &dyn IdLookup,
    ) -> Outbound {
        let mut out = Outbound::default();
        for (field, value) in values {
            let Some(rule) = self.rule(field).filter(|r| r.direction.pushes()) else {
                continue;
            };
            let value = value.and_then(|v| rule.canonical(v));
            let sent = match (rule.ty, value) {
                (_, None) => String::new(),
                (FieldType::Ref(kind), Some(local)) => {
                    match ids.remote_id(kind, &RecordId(local.clone())) {
                        Some(remote) => remote,
                        None => {
                            out.warnings.push(FieldWarning {
                                field: rule.field.clone(),
                                remote: rule.remote.clone(),
                                value: local.clone(),
                                message: format!(
                                    "refers to local {kind} `{local}`, which is not in this CRM yet"
                                ),
                            });
                            continue;
                        }
                    }
                }
                (_, Some(v)) => v,
            };
            out.props.insert(rule.remote.clone(), sent);
        }
        out
    }

    /// Remote properties for creating a record with `fields`: every pushing field that has a
    /// value (absent fields are simply not sent).
    pub fn create_props(&self, fields: &Fields, ids: &dyn IdLookup) -> Outbound {
        let mut out = self.to_remote(
            fields.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))),
            ids,
        );
        out.props.retain(|_, v| !v.is_empty());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FieldMappingConfig;

    fn defaults() -> Vec<DefaultMapping> {
        vec![
            DefaultMapping {
                local: "email",
                remote: "email",
                direction: Direction::Both,
            },
            DefaultMapping {
                local: "first_name",
                remote: "firstname",
                direction: Direction::Both,
            },
            DefaultMapping {
                local: "warmness",
                remote: "hs_warmness",
                direction: Direction::Both,
            },
            DefaultMapping {
                local: "company_id",
                remote: "associations.companies",
                direction: Direction::Both,
            },
            DefaultMapping {
                local: "owner",
                remote: "hubspot_owner_id",
                direction: Direction::FromCrm,
            },
        ]
    }

    fn over(local: &str) -> FieldMappingConfig {
        FieldMappingConfig {
            object: ObjectKind::Contact,
            local: local.into(),
            remote: None,
            direction: None,
            policy: None,
            transform: None,
            values: BTreeMap::new(),
        }
    }

    fn build(overrides: &[FieldMappingConfig]) -> Result<FieldMap, MappingError> {
        let mut policies = BTreeMap::new();
        policies.insert("first_name".to_string(), ConflictPolicy::LocalWins);
        FieldMap::build(
            "hs",
            ObjectKind::Contact,
            &defaults(),
            overrides,
            Some(&policies),
            ConflictPolicy::RemoteWins,
        )
    }

    struct Links;
    impl IdLookup for Links {
        fn local_id(&self, kind: ObjectKind, remote_id: &str) -> Option<RecordId> {
            (kind == ObjectKind::Company && remote_id == "77").then(|| RecordId("LOCALCO".into()))
        }
        fn remote_id(&self, kind: ObjectKind, local_id: &RecordId) -> Option<String> {
            (kind == ObjectKind::Company && local_id.0 == "LOCALCO").then(|| "77".into())
        }
    }

    #[test]
    fn a_property_the_crm_no_longer_names_is_unreadable_not_cleared() {
        let map = build(&[]).unwrap();
        let rec = RemoteRecord {
            id: "1".into(),
            props: [("firstname".to_string(), "Ann".to_string())].into(),
            // `lastname` named (empty), `email` not named at all: deleted in the CRM.
            returned: Some(["firstname", "lastname"].map(String::from).into()),
            ..RemoteRecord::default()
        };
        let got = map.from_remote(&rec, &Links);
        assert_eq!(got.fields.get("first_name").unwrap(), "Ann");
        assert!(!got.fields.contains_key("last_name"));
        assert!(
            !got.unreadable.contains("last_name"),
            "an empty value is a clear"
        );
        assert!(got.unreadable.contains("email"), "{:?}", got.unreadable);
        // Without the list every property asked for counts as named.
        let all = map.from_remote(
            &RemoteRecord {
                returned: None,
                ..rec
            },
            &Links,
        );
        assert!(all.unreadable.is_empty());
    }

    #[test]
    fn layers_resolve_in_order() {
        let mut pronouns = over("pronouns");
        pronouns.remote = Some("pronouns_prop".into());
        let mut email = over("email");
        email.policy = Some(ConflictPolicy::Manual);
        email.transform = Some("lowercase".into());
        let mut owner = over("owner");
        owner.direction = Some(Direction::None);
        let map = build(&[pronouns, email, over("custom.tier"), owner]).unwrap();
        let r = |f: &str| map.rule(f).unwrap().clone();
        assert_eq!(
            r("email").policy,
            ConflictPolicy::Manual,
            "override policy wins"
        );
        assert_eq!(r("email").transform, Some(Transform::Lowercase));
        assert_eq!(
            r("first_name").policy,
            ConflictPolicy::LocalWins,
            "[policies] next"
        );
        assert_eq!(
            r("warmness").policy,
            ConflictPolicy::RemoteWins,
            "[sync] default last"
        );
        assert_eq!(r("pronouns").remote, "pronouns_prop");
        assert_eq!(
            r("custom.tier").remote,
            "tier",
            "custom field maps to its own name"
        );
        assert_eq!(r("owner").direction, Direction::None);
        assert_eq!(r("company_id").ty, FieldType::Ref(ObjectKind::Company));
        assert!(
            !map.remote_properties()
                .contains(&"hubspot_owner_id".to_string())
        );
    }

    #[test]
    fn bad_mappings_name_connection_and_field() {
        let mut t = over("email");
        t.transform = Some("reverse".into());
        let e = build(&[t]).unwrap_err().to_string();
        assert!(
            e.starts_with("connection `hs`, contact field `email`: unknown transform `reverse`"),
            "{e}"
        );

        let e = build(&[over("pronouns")]).unwrap_err().to_string();
        assert!(
            e.contains("field `pronouns`") && e.contains("set `remote`"),
            "{e}"
        );

        let e = build(&[over("email"), over("email")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("mapped twice"), "{e}");

        let e = build(&[over("colour")]).unwrap_err().to_string();
        assert!(e.contains("not a contact field"), "{e}");
    }

    #[test]
    fn inbound_normalises_translates_and_reports() {
        let mut email = over("email");
        email.transform = Some("trim".into());
        let map = build(&[email]).unwrap();
        let rec = RemoteRecord {
            id: "1".into(),
            props: [
                ("email", " Ann@Example.COM "),
                ("firstname", "  Ann   Lee "),
                ("hs_warmness", "four"),
                ("associations.companies", "77"),
                ("hubspot_owner_id", "9"),
                ("unmapped", "x"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            updated_at: 10,
            prop_updated_at: [("firstname".to_string(), 5)].into_iter().collect(),
            archived: false,
            external_id: None,
            returned: None,
        };
        let got = map.from_remote(&rec, &Links);
        assert_eq!(got.fields.get("email").unwrap(), "ann@example.com");
        assert_eq!(got.fields.get("first_name").unwrap(), "Ann Lee");
        assert_eq!(got.fields.get("company_id").unwrap(), "LOCALCO");
        assert_eq!(got.fields.get("owner").unwrap(), "9");
        assert!(!got.fields.contains_key("warmness"));
        assert!(got.unreadable.contains("warmness"));
        assert_eq!(got.warnings.len(), 1);
        assert_eq!(got.warnings[0].field, "warmness");
        assert_eq!(got.warnings[0].value, "four");
        assert_eq!(got.field_updated_at.get("first_name"), Some(&5));

        let unlinked = map.from_remote(&rec, &NoLinks);
        assert!(unlinked.unreadable.contains("company_id"));
        assert!(unlinked.warnings.iter().any(|w| w.field == "company_id"));
    }

    #[test]
    fn outbound_writes_pushing_fields_and_clears_absent_ones() {
        let map = build(&[]).unwrap();
        let out = map.to_remote(
            [
                ("email", Some("a@b.co")),
                ("first_name", None),
                ("owner", Some("7")),
                ("company_id", Some("LOCALCO")),
            ],
            &Links,
        );
        assert_eq!(out.props.get("email").unwrap(), "a@b.co");
        assert_eq!(out.props.get("firstname").unwrap(), "", "absent clears");
        assert!(
            !out.props.contains_key("hubspot_owner_id"),
            "from-crm is not pushed"
        );
        assert_eq!(out.props.get("associations.companies").unwrap(), "77");

        let out = map.to_remote([("company_id", Some("NOPE"))], &Links);
        assert!(
            out.props.is_empty(),
            "an unlinked reference is never sent as a clear"
        );
        assert_eq!(out.warnings.len(), 1);

        let fields: Fields = [("email".to_string(), "a@b.co".to_string())].into();
        let create = map.create_props(&fields, &Links);
        assert_eq!(create.props.len(), 1);
    }

    #[test]
    fn resolve_reads_the_config_file_layers() {
        let text = r#"
[sync]
conflict_policy = "remote-wins"

[policies.contact]
warmness = "local-wins"

[connections.hs]
provider = "hubspot"

[[connections.hs.fields]]
object = "contact"
local = "custom.favourite_colour"
direction = "to-crm"

[[connections.hs.fields]]
object = "company"
local = "industry"
remote = "sector"
"#;
        let config = Config::parse(text, std::path::Path::new("test.toml")).unwrap();
        let map = FieldMap::resolve(&config, "hs", ObjectKind::Contact, &defaults()).unwrap();
        let colour = map.rule("custom.favourite_colour").unwrap();
        assert_eq!(colour.remote, "favourite_colour");
        assert_eq!(colour.direction, Direction::ToCrm);
        assert_eq!(colour.policy, ConflictPolicy::RemoteWins);
        assert_eq!(
            map.rule("warmness").unwrap().policy,
            ConflictPolicy::LocalWins
        );
        assert!(
            map.rule("industry").is_none(),
            "company entries stay with companies"
        );
        let companies = FieldMap::resolve(&config, "hs", ObjectKind::Company, &[]).unwrap();
        assert_eq!(companies.rule("industry").unwrap().remote, "sector");
    }

    #[test]
    fn transform_makes_case_only_differences_equal() {
        let mut rule = FieldRule::new("first_name", "firstname", FieldType::Text);
        rule.transform = Some(Transform::Lowercase);
        assert!(rule.same(Some("Ann"), Some("ann")));
        assert!(!rule.same(Some("Ann"), Some("bob")));
        assert!(rule.same(Some("  "), None));
    }

    #[test]
    fn a_dropdown_label_stands_for_its_value_when_it_is_no_value() {
        let mut rule = FieldRule::new("lifecycle_stage", "lifecyclestage", FieldType::Text);
        let option = |value: &str, label: &str| FieldOption {
            value: value.into(),
            label: label.into(),
        };
        rule.options = vec![
            option("marketingqualifiedlead", "Marketing Qualified Lead"),
            option("lead", "Lead"),
            // A label that is another option's value: values come first.
            option("other", "lead"),
        ];
        assert_eq!(
            rule.canonical(" marketing  QUALIFIED lead ").as_deref(),
            Some("marketingqualifiedlead")
        );
        assert_eq!(rule.canonical("Lead").as_deref(), Some("lead"));
        assert_eq!(rule.canonical("lead").as_deref(), Some("lead"));
        assert_eq!(rule.canonical("champion").as_deref(), Some("champion"));
        // The label kept locally and the value the CRM answers are the same value.
        assert!(rule.same(
            Some("Marketing Qualified Lead"),
            Some("marketingqualifiedlead")
        ));
        assert!(!rule.same(Some("Marketing Qualified Lead"), Some("lead")));
        // Without options (not known yet), values are compared as they are.
        rule.options.clear();
        assert!(!rule.same(
            Some("Marketing Qualified Lead"),
            Some("marketingqualifiedlead")
        ));
    }

    #[test]
    fn a_configured_value_map_is_the_rules_and_a_crm_value_reads_back_as_the_local_one() {
        let mut o = over("lifecycle_stage");
        o.remote = Some("lifecyclestage".into());
        o.values = BTreeMap::from([("closedwon".to_string(), "Closed Won".to_string())]);
        let map = build(&[o]).unwrap();
        let rule = map.rule("lifecycle_stage").unwrap();
        assert_eq!(rule.canonical("closedwon").as_deref(), Some("Closed Won"));
        assert!(rule.same(Some("closedwon"), Some("Closed Won")));
        assert_eq!(
            super::super::values::read_as(&rule.values, "Closed Won".into()),
            "closedwon"
        );
    }
}
