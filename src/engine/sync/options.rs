//! Which part of the state a run covers: its objects, flags and the records it is limited to.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::model::{ObjectKind, RecordId};

/// What a sync run does.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only these objects (empty: every object each connection syncs).
    pub objects: Vec<ObjectKind>,
    /// Read everything instead of the change feed since the cursor.
    pub full: bool,
    /// Plan only; nothing is written and no cursor moves.
    pub dry_run: bool,
    /// Go past the safety gates.
    pub force: bool,
    /// Only these records (`import --to`, `apply`, `sync --record`); `None` means every
    /// record.
    pub only: Option<Only>,
    /// Read the records of `only` from each CRM by id instead of through its change feed,
    /// and push them whether or not they changed since the connection's last push
    /// (`sync --record`).
    pub by_id: bool,
    /// Create at most this many records on each side of each connection (`sync --limit`):
    /// local records in its pull, CRM records in its push. The rest follow on later runs.
    pub create_limit: Option<usize>,
    /// Per object, remote properties every record this run creates in the CRM carries, and
    /// no update does (`import --to C --tag T`: the seed tag).
    pub stamp: Stamp,
    /// Pull only these CRM records, read by id instead of the change feed (`listen`); the
    /// push carries the local changes since each connection's cursor, as in any run.
    pub pull_ids: Option<ById>,
    /// CRM records their CRM said it deleted (HubSpot's `contact.deletion`) or erased for
    /// good (its `contact.privacyDeletion`, which leaves no trace in its API). A run reads
    /// them by id: one the CRM still has live is left as it is (the event is not trusted over
    /// the CRM); one it has archived is read as archived, with its values; one it has in
    /// neither is taken as archived with none changed. So an archive reaches the local record
    /// and every other CRM at once, where the change feed reads HubSpot's archives once a day.
    pub gone: ById,
    /// Of [`SyncOptions::gone`], the records their CRM said it erased for privacy (HubSpot's
    /// `contact.privacyDeletion`). One the CRM has neither live nor archived is archived as
    /// any record gone, and then its values are erased from the state file
    /// ([`crate::store::Store::erase_values`]): the CRM erased them for good, and a copy kept
    /// here would outlive that erasure.
    pub erase: ById,
    /// The accounts earlier runs of this process found (`listen`): a connection calling with
    /// the credentials of one of them is not asked again (see
    /// [`crate::engine::accounts::KnownAccounts`]).
    pub known_accounts: Option<std::sync::Arc<crate::engine::accounts::KnownAccounts>>,
}

/// CRM records named by id: connection → object → remote ids. A run pulling by id reads
/// them with [`crate::providers::Provider::read_by_ids`] (batched) and moves no remote cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ById(pub BTreeMap<String, BTreeMap<ObjectKind, BTreeSet<String>>>);

impl ById {
    /// Adds one record.
    pub fn add(&mut self, connection: &str, object: ObjectKind, remote_id: &str) {
        self.0
            .entry(connection.to_string())
            .or_default()
            .entry(object)
            .or_default()
            .insert(remote_id.to_string());
    }

    /// The ids of `connection`'s `object` records.
    pub fn ids(&self, connection: &str, object: ObjectKind) -> Vec<String> {
        self.0
            .get(connection)
            .and_then(|m| m.get(&object))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|m| m.values().all(BTreeSet::is_empty))
    }
}

impl SyncOptions {
    /// Whether the run reads CRM records by id instead of through the change feed
    /// (`sync --record`, `listen`).
    pub(super) fn reads_by_id(&self) -> bool {
        self.by_id || self.pull_ids.is_some()
    }

    /// Whether the run stores its cursors: not a dry run, nor one limited to some records
    /// or to a number of creates, which leaves other records of the feed and of the local
    /// changes for later runs (a cursor moved past them would skip them for good).
    pub(super) fn moves_cursors(&self) -> bool {
        !self.dry_run && self.only.is_none() && self.create_limit.is_none()
    }
}

/// Object → remote property → value, set on creates only (see [`SyncOptions::stamp`]).
pub type Stamp = std::collections::BTreeMap<ObjectKind, std::collections::BTreeMap<String, String>>;

/// A subset of records a run is limited to.
#[derive(Debug, Clone, Default)]
pub struct Only {
    pub local: HashSet<RecordId>,
    /// Connection → remote ids.
    pub remote: HashMap<String, HashSet<String>>,
}

impl Only {
    /// Just these local records.
    pub fn records(ids: HashSet<RecordId>) -> Only {
        Only {
            local: ids,
            remote: HashMap::new(),
        }
    }

    pub(super) fn has_local(&self, id: &RecordId) -> bool {
        self.local.contains(id)
    }

    pub(super) fn has_remote(&self, connection: &str, id: &str) -> bool {
        self.remote.get(connection).is_some_and(|s| s.contains(id))
    }

    /// The records named by CRM id for `connection`.
    pub(super) fn remote_ids(&self, connection: &str) -> impl Iterator<Item = &String> {
        self.remote.get(connection).into_iter().flatten()
    }
}
