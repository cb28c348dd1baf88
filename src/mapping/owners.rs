//! Owner aliases (`[connections.NAME.owners]`): a local owner whose email is not the one the
//! CRM knows the user by. A CRM's owners are the options of its owner property, the user's
//! email the label and the CRM's id the value ([`FieldRule::options`]); an alias is one more
//! option, labelled with the local email and valued with the user's id, put first so that
//! the owner read back from the CRM reads as the local email: nothing goes back and forth.

use std::collections::BTreeMap;

use super::fieldmap::{FieldMap, FieldRule};
use crate::providers::FieldOption;

/// The canonical field of a record's owner.
const OWNER: &str = "owner";

/// Adds `aliases` (local email → the CRM user's email) to the options of `map`'s owner rule.
/// An alias whose user the options do not list is left out: the owner is then sent as the
/// local email, and the CRM's refusal names it.
pub fn alias_owners(map: &mut FieldMap, aliases: &BTreeMap<String, String>) {
    if aliases.is_empty() {
        return;
    }
    if let Some(rule) = map.rules.iter_mut().find(|r| r.field == OWNER) {
        alias_rule(rule, aliases);
    }
}

fn alias_rule(rule: &mut FieldRule, aliases: &BTreeMap<String, String>) {
    let mut added = Vec::new();
    for (local, crm) in aliases {
        let crm = crm.trim().to_lowercase();
        let user = rule
            .options
            .iter()
            .find(|o| o.label.trim().to_lowercase() == crm);
        if let Some(user) = user {
            added.push(FieldOption {
                value: user.value.clone(),
                label: local.clone(),
            });
        }
    }
    rule.options
        .retain(|o| !added.iter().any(|a| a.label == o.label));
    added.append(&mut rule.options);
    rule.options = added;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::IdLookup;
    use crate::mapping::fieldmap::NoLinks;
    use crate::model::{FieldType, ObjectKind};
    use crate::providers::RemoteRecord;

    fn map() -> FieldMap {
        let mut rule = FieldRule::new(OWNER, "owner_id", FieldType::Text);
        rule.options = vec![
            FieldOption {
                value: "7".into(),
                label: "ana@company.example".into(),
            },
            FieldOption {
                value: "8".into(),
                label: "bo@company.example".into(),
            },
        ];
        FieldMap {
            connection: "pd".into(),
            object: ObjectKind::Contact,
            rules: vec![rule],
        }
    }

    #[test]
    fn an_alias_is_sent_as_its_users_id_and_reads_back_as_itself() {
        let mut m = map();
        let aliases: BTreeMap<String, String> = [
            (
                "ana@local.example".to_string(),
                "Ana@Company.example".to_string(),
            ),
            (
                "ghost@local.example".to_string(),
                "nobody@company.example".to_string(),
            ),
        ]
        .into_iter()
        .collect();
        alias_owners(&mut m, &aliases);
        let ids: &dyn IdLookup = &NoLinks;
        let out = m.to_remote([("owner", Some("ANA@local.example"))], ids);
        assert_eq!(out.props["owner_id"], "7");
        // A user's own email still works, and an alias with no user is sent as written.
        let out = m.to_remote([("owner", Some("bo@company.example"))], ids);
        assert_eq!(out.props["owner_id"], "8");
        let out = m.to_remote([("owner", Some("ghost@local.example"))], ids);
        assert_eq!(out.props["owner_id"], "ghost@local.example");
        let back = RemoteRecord {
            id: "1".into(),
            props: [("owner_id".to_string(), "7".to_string())]
                .into_iter()
                .collect(),
            ..RemoteRecord::default()
        };
        assert_eq!(
            m.from_remote(&back, ids).fields["owner"],
            "ana@local.example",
            "read back as the alias, so the local owner is unchanged"
        );
        let rule = m.rule("owner").unwrap();
        assert!(rule.same(Some("ana@local.example"), Some("ana@company.example")));
    }
}
