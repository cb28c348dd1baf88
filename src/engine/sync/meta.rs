//! The `meta` keys under which a run caches what a connection's CRM said (its field catalogue and
//! dropdown options) and the property each field last synced with.

use std::collections::BTreeMap;

use crate::model::ObjectKind;

/// Each mapped dropdown property's options, by property.
pub(super) type DropdownOptions = BTreeMap<String, Vec<crate::providers::FieldOption>>;

/// The `meta` key of the dropdown options of `connection`'s mapped `object` properties: JSON,
/// property → its options, as the CRM's catalogue last listed them.
pub(crate) fn options_key(connection: &str, object: ObjectKind) -> String {
    format!("options:{connection}:{object}")
}

/// The `meta` key of when `connection`'s field catalogue of `object` was last read, and for
/// which mapped properties.
pub(super) fn catalogue_key(connection: &str, object: ObjectKind) -> String {
    format!("catalogue:{connection}:{object}")
}

/// The `meta` key of what the provider keeps of `connection`'s field catalogue of `object`
/// ([`crate::providers::Provider::kept_catalogue`]).
pub(super) fn kept_catalogue_key(connection: &str, object: ObjectKind) -> String {
    format!("kept-catalogue:{connection}:{object}")
}

/// The `meta` key of the CRM property each of `connection`'s `object` fields last synced
/// with: JSON, field → property.
pub(super) fn mapping_key(connection: &str, object: ObjectKind) -> String {
    format!("mapping:{connection}:{object}")
}

/// Every `meta` key that caches what `connection`'s CRM said (its catalogue and dropdown
/// options) or what its links were synced against (the property of each field): dropped when
/// the connection is renamed or its links are forgotten. A renamed connection's next run
/// records its mapping afresh.
pub(crate) fn cached_meta_keys(connection: &str) -> Vec<String> {
    ObjectKind::ALL
        .iter()
        .flat_map(|&o| {
            [
                options_key(connection, o),
                catalogue_key(connection, o),
                mapping_key(connection, o),
            ]
        })
        .collect()
}
