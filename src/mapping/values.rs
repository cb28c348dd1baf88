//! Value maps: local values a CRM keeps under another value of its own
//! ([`FieldRule::values`](super::FieldRule::values)), such as Pipedrive's activity types
//! (`[connections.NAME.activity_types]`: a local `linkedin` is a `task` there).
//!
//! A map need not be one-to-one: several local values may go to one CRM value (`linkedin`,
//! `referral` and `note` are all `task`). So a value is compared as the CRM is sent it
//! ([`sent_as`], part of [`FieldRule::canonical`](super::FieldRule::canonical)): a local
//! `linkedin` and the `task` Pipedrive answers for it are the same value, and reading the
//! `task` back changes nothing locally (no echo overwrites the local type). A CRM value read
//! for a record crmsync has not synced yet comes in as the one local value that goes to it
//! ([`read_as`]), else (none does, or several do) under its own name.

use std::collections::BTreeMap;

use crate::config::ActivityTypes;
use crate::providers::ProviderKind;

/// The activity-type map of a connection to `provider` with `configured` as its
/// `[connections.NAME.activity_types]`: the CRM's built-in map
/// ([`crate::providers::default_activity_types`]), overridden entry by entry.
pub fn activity_types(
    provider: ProviderKind,
    configured: &ActivityTypes,
) -> BTreeMap<String, String> {
    crate::providers::default_activity_types(provider)
        .iter()
        .map(|(l, c)| (l.to_string(), c.to_string()))
        .chain(
            configured
                .entries()
                .map(|(l, c)| (l.to_string(), c.to_string())),
        )
        .collect()
}

/// The CRM value `local` is sent as: its entry in `map`, else itself.
pub fn sent_as(map: &BTreeMap<String, String>, local: String) -> String {
    match map.get(&local) {
        Some(crm) => crm.clone(),
        None => local,
    }
}

/// The local value a CRM value reads as (see the module docs).
pub fn read_as(map: &BTreeMap<String, String>, crm: String) -> String {
    let mut locals = map.iter().filter(|(_, c)| **c == crm).map(|(l, _)| l);
    match (locals.next(), locals.next()) {
        (Some(only), None) => only.clone(),
        _ => crm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::FieldRule;
    use crate::model::FieldType;

    fn pipedrive_types() -> BTreeMap<String, String> {
        [
            ("call", "call"),
            ("linkedin", "task"),
            ("referral", "task"),
            ("meeting", "meeting"),
            ("conference", "meeting"),
            ("demo", "lunch"),
        ]
        .iter()
        .map(|(l, c)| (l.to_string(), c.to_string()))
        .collect()
    }

    #[test]
    fn a_local_value_and_what_the_crm_keeps_for_it_are_the_same_value() {
        let mut rule = FieldRule::new("type", "type", FieldType::Text);
        rule.values = pipedrive_types();
        assert!(rule.same(Some("linkedin"), Some("task")));
        assert!(rule.same(Some("conference"), Some("meeting")));
        assert!(!rule.same(Some("linkedin"), Some("call")));
        assert_eq!(rule.canonical("linkedin").as_deref(), Some("task"));
        assert_eq!(rule.canonical("deadline").as_deref(), Some("deadline"));
    }

    #[test]
    fn a_crm_value_reads_as_its_one_local_value_else_as_itself() {
        let map = pipedrive_types();
        let read = |v: &str| read_as(&map, v.to_string());
        assert_eq!(read("lunch"), "demo");
        assert_eq!(read("call"), "call");
        assert_eq!(read("meeting"), "meeting");
        assert_eq!(read("task"), "task");
        assert_eq!(read("deadline"), "deadline");
    }
}
