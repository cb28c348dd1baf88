//! The property catalogue: [`PropDef`], one property definition as
//! `GET /crm/v3/properties/{objectType}` shows it, and the built-in definitions every account
//! starts with, read once from `properties.toml` (embedded in the binary).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};

use super::store::ObjType;
use crate::sandbox::iso_ms;

/// One property definition, as `GET /crm/v3/properties/{objectType}` shows it.
#[derive(Debug, Clone)]
pub struct PropDef {
    pub name: String,
    pub label: String,
    pub ptype: String,
    pub field_type: String,
    pub group: String,
    pub description: String,
    pub options: Vec<(String, String)>,
    pub read_only_value: bool,
    pub read_only_definition: bool,
    pub has_unique_value: bool,
    pub hubspot_defined: bool,
    pub display_order: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl PropDef {
    pub fn to_json(&self) -> Value {
        let options: Vec<Value> = self
            .options
            .iter()
            .enumerate()
            .map(|(i, (label, value))| {
                json!({"label": label, "value": value, "displayOrder": i, "hidden": false,
                       "description": ""})
            })
            .collect();
        let mut v = json!({
            "name": self.name,
            "label": self.label,
            "type": self.ptype,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group,
            "options": options,
            "displayOrder": self.display_order,
            "calculated": false,
            "externalOptions": false,
            "hasUniqueValue": self.has_unique_value,
            "hidden": false,
            "formField": !self.read_only_value,
            "dataSensitivity": "non_sensitive",
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyOptions": self.read_only_definition,
                "readOnlyDefinition": self.read_only_definition,
                "readOnlyValue": self.read_only_value,
            },
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": false,
        });
        if self.hubspot_defined {
            v["hubspotDefined"] = json!(true);
        }
        v
    }
}

/// `properties.toml`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Builtins {
    /// Named option lists, `(label, value)`.
    options: BTreeMap<String, Vec<(String, String)>>,
    /// Per object type, by its plural name.
    objects: BTreeMap<String, TypeBuiltins>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeBuiltins {
    group: String,
    properties: Vec<Builtin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Builtin {
    name: String,
    label: String,
    #[serde(rename = "type")]
    ptype: String,
    field: String,
    order: i64,
    #[serde(default)]
    read_only: bool,
    group: Option<String>,
    options: Option<String>,
}

/// The option list `options` names for `owners` instead of a list in the file.
const OWNERS: &str = "owners";

static BUILTINS: LazyLock<Builtins> = LazyLock::new(|| {
    toml::from_str(include_str!("properties.toml"))
        .unwrap_or_else(|e| panic!("the embedded properties.toml does not parse: {e}"))
});

/// The built-in catalogue of type `t`, created at `now`; `owner_ids` are the options of the
/// owner properties.
pub fn builtin_properties(t: ObjType, owner_ids: &[String], now: i64) -> Vec<PropDef> {
    let Some(builtins) = BUILTINS.objects.get(t.plural()) else {
        return Vec::new();
    };
    builtins
        .properties
        .iter()
        .map(|b| PropDef {
            name: b.name.clone(),
            label: b.label.clone(),
            ptype: b.ptype.clone(),
            field_type: b.field.clone(),
            group: b.group.clone().unwrap_or_else(|| builtins.group.clone()),
            description: String::new(),
            options: match b.options.as_deref() {
                None => Vec::new(),
                Some(OWNERS) => owner_ids
                    .iter()
                    .map(|id| (format!("Owner {id}"), id.clone()))
                    .collect(),
                Some(list) => BUILTINS.options.get(list).cloned().unwrap_or_else(|| {
                    panic!(
                        "properties.toml: `{}` names no option list `{list}`",
                        b.name
                    )
                }),
            },
            read_only_value: b.read_only,
            read_only_definition: true,
            has_unique_value: false,
            hubspot_defined: true,
            display_order: b.order,
            created_ms: now,
            updated_ms: now,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_type_has_builtin_properties_with_their_option_lists() {
        let owners = ["71000001".to_string()];
        for t in ObjType::ALL.into_iter().filter(|t| t.is_engagement()) {
            let props = builtin_properties(t, &owners, 5);
            assert!(props.iter().any(|p| p.name == "hs_timestamp"), "{t:?}");
            assert!(props.iter().any(|p| p.name == t.modified_prop()), "{t:?}");
        }
        for t in [ObjType::Contacts, ObjType::Companies] {
            let props = builtin_properties(t, &owners, 5);
            assert!(props.iter().any(|p| p.name == t.modified_prop()), "{t:?}");
            let stage = props.iter().find(|p| p.name == "lifecyclestage").unwrap();
            assert_eq!(stage.options.len(), 8, "{t:?}");
            let owner = props.iter().find(|p| p.name == "hubspot_owner_id").unwrap();
            assert_eq!(
                owner.options,
                [("Owner 71000001".into(), "71000001".into())]
            );
        }
    }
}
