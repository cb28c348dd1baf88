//! The CRM account each connection's links belong to, and moving or forgetting a
//! connection's sync state as a whole (`crmsync connections rename` and `forget-links`).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::open::Store;
use super::sql::{begin, commit, sql_error};
use super::types::StoreError;
use crate::model::Millis;

/// The account a connection's links were made in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountBinding {
    pub connection: String,
    /// The provider as in the config (`hubspot`).
    pub provider: String,
    /// The account's id in its CRM (HubSpot's portal id).
    pub account: String,
    pub bound_at: Millis,
}

/// What forgetting a connection's sync state removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    pub links: u64,
    /// Journalled writes whose outcome was never recorded (they are not looked up again).
    pub pending_writes: u64,
    pub failures: u64,
    /// Open conflicts, closed with `resolved_by` = `forgotten`.
    pub conflicts: u64,
}

/// The tables whose rows belong to one connection's sync with its account (history, in
/// `runs` and `audit`, keeps the name it was made under).
const CONNECTION_TABLES: &[&str] = &[
    "links",
    "cursors",
    "journal",
    "failures",
    "conflicts",
    "webhook_events",
];

impl Store {
    /// The account `connection`'s links belong to, once a run has bound it.
    pub fn account_binding(&self, connection: &str) -> Result<Option<AccountBinding>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT connection, provider, account, bound_at FROM connection_accounts
                 WHERE connection = ?1",
            )
            .and_then(|mut s| {
                s.query_row([connection], |r| {
                    Ok(AccountBinding {
                        connection: r.get(0)?,
                        provider: r.get(1)?,
                        account: r.get(2)?,
                        bound_at: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.sql("read a connection's account", e))
    }

    /// The connection bound to `provider`'s account `account`, if any.
    pub fn account_holder(
        &self,
        provider: &str,
        account: &str,
    ) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT connection FROM connection_accounts WHERE provider = ?1 AND account = ?2",
            )
            .and_then(|mut s| s.query_row([provider, account], |r| r.get(0)).optional())
            .map_err(|e| self.sql("read a connection's account", e))
    }

    /// Binds `connection`'s links (those it has and those it will make) to an account.
    pub fn bind_account(
        &mut self,
        connection: &str,
        provider: &str,
        account: &str,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.conn
            .prepare_cached(
                "INSERT INTO connection_accounts(connection, provider, account, bound_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![connection, provider, account, now]))
            .map(drop)
            .map_err(|e| self.sql("bind a connection to its account", e))
    }

    /// How many links (retired ones included) `connection` has.
    pub fn connection_links(&self, connection: &str) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM links WHERE connection = ?1")
            .and_then(|mut s| s.query_row([connection], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(|e| self.sql("count links", e))
    }

    /// Connections with links but no bound account (links made before accounts were kept).
    pub fn unbound_linked_connections(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT connection FROM links
                 WHERE connection NOT IN (SELECT connection FROM connection_accounts)
                 ORDER BY connection",
            )
            .map_err(|e| self.sql("list connections", e))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| sql_error(&self.path, "list connections", e))?;
        Ok(rows)
    }

    /// Whether `connection` holds links, a bound account or journalled writes.
    pub fn connection_in_use(&self, connection: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM links WHERE connection = ?1)
                     OR EXISTS(SELECT 1 FROM connection_accounts WHERE connection = ?1)
                     OR EXISTS(SELECT 1 FROM journal WHERE connection = ?1)",
            )
            .and_then(|mut s| s.query_row([connection], |r| r.get(0)))
            .map_err(|e| self.sql("look up a connection", e))
    }

    /// Moves everything `old` holds (links and bases, cursors, journal, failures, conflicts,
    /// its account) to `new` in one transaction, and drops the `meta` entries `stale_meta`
    /// (caches kept under the old name). Whatever `new` held that [`Store::connection_in_use`]
    /// does not count (cursors, failures) is replaced. The caller checks that `new` is not in
    /// use.
    pub fn rename_connection(
        &mut self,
        old: &str,
        new: &str,
        stale_meta: &[String],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        for table in CONNECTION_TABLES {
            tx.execute(&format!("DELETE FROM {table} WHERE connection = ?1"), [new])
                .and_then(|_| {
                    tx.execute(
                        &format!("UPDATE {table} SET connection = ?2 WHERE connection = ?1"),
                        [old, new],
                    )
                })
                .map_err(|e| sql_error(&path, &format!("rename a connection in {table}"), e))?;
        }
        tx.execute(
            "DELETE FROM connection_accounts WHERE connection = ?2",
            [old, new],
        )
        .and_then(|_| {
            tx.execute(
                "UPDATE connection_accounts SET connection = ?2 WHERE connection = ?1",
                [old, new],
            )
        })
        .map_err(|e| sql_error(&path, "rename a connection's account", e))?;
        delete_meta(&tx, &path, stale_meta)?;
        commit(tx, &path, "rename a connection")
    }

    /// Forgets `connection`'s sync state in one transaction: its links and bases, cursors,
    /// journal, failures and account; open conflicts are closed (`forgotten`); the `meta`
    /// entries `stale_meta` go. Local records stay as they are; the next sync of the
    /// connection is a first one.
    pub fn forget_connection(
        &mut self,
        connection: &str,
        stale_meta: &[String],
    ) -> Result<Forgotten, StoreError> {
        let now = self.clock.now();
        let path = self.path.clone();
        let tx = begin(&mut self.conn, &path)?;
        let run = |sql: &str, what: &str| {
            tx.execute(sql, [connection])
                .map(|n| n as u64)
                .map_err(|e| sql_error(&path, what, e))
        };
        let forgotten = Forgotten {
            links: run("DELETE FROM links WHERE connection = ?1", "forget links")?,
            pending_writes: run(
                "DELETE FROM journal WHERE connection = ?1",
                "forget journalled writes",
            )?,
            failures: run(
                "DELETE FROM failures WHERE connection = ?1",
                "forget failures",
            )?,
            conflicts: tx
                .execute(
                    "UPDATE conflicts SET resolved_at = ?2, resolved_by = 'forgotten'
                     WHERE connection = ?1 AND resolved_at IS NULL",
                    params![connection, now],
                )
                .map(|n| n as u64)
                .map_err(|e| sql_error(&path, "close conflicts", e))?,
        };
        run(
            "DELETE FROM cursors WHERE connection = ?1",
            "forget cursors",
        )?;
        run(
            "DELETE FROM connection_accounts WHERE connection = ?1",
            "forget a connection's account",
        )?;
        run(
            "DELETE FROM webhook_events WHERE connection = ?1",
            "forget a connection's webhook events",
        )?;
        delete_meta(&tx, &path, stale_meta)?;
        commit(tx, &path, "forget a connection's links")?;
        Ok(forgotten)
    }
}

fn delete_meta(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    keys: &[String],
) -> Result<(), StoreError> {
    for key in keys {
        tx.execute("DELETE FROM meta WHERE key = ?1", [key])
            .map_err(|e| sql_error(path, "drop a cached entry", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::{ObjectKind, Record, RecordId};
    use crate::store::{Link, WriteOrigin};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        (dir, store)
    }

    /// A table added later with a `connection` column is either part of a connection's sync
    /// state (renamed and forgotten with it: add it to `CONNECTION_TABLES`) or history.
    #[test]
    fn every_table_keyed_by_connection_is_renamed_and_forgotten_or_is_history() {
        let (_dir, store) = store();
        let tables: Vec<String> = store
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let keyed: BTreeSet<String> = tables
            .into_iter()
            .filter(|t| {
                store
                    .conn
                    .prepare(&format!("SELECT * FROM {t} LIMIT 0"))
                    .unwrap()
                    .column_names()
                    .any(|c| c == "connection")
            })
            .collect();
        let mut expected: BTreeSet<String> =
            CONNECTION_TABLES.iter().map(|t| t.to_string()).collect();
        expected.extend([
            "audit".to_string(),
            "connection_accounts".to_string(),
            "webhook_refusals".to_string(),
        ]);
        assert_eq!(keyed, expected);
    }

    fn linked(store: &mut Store, connection: &str, remote_id: &str) -> RecordId {
        let record = Record {
            id: RecordId::new(),
            kind: ObjectKind::Contact,
            fields: [("email".to_string(), format!("{remote_id}@example.org"))]
                .into_iter()
                .collect(),
            updated_at: 1,
            archived_at: None,
        };
        store
            .save_records(std::slice::from_ref(&record), &WriteOrigin::User)
            .unwrap();
        store
            .upsert_link(&Link {
                connection: connection.into(),
                kind: ObjectKind::Contact,
                local_id: record.id.clone(),
                remote_id: remote_id.into(),
                base: Default::default(),
                remote_updated_at: None,
                synced_at: 1,
                retired: false,
            })
            .unwrap();
        record.id
    }

    #[test]
    fn a_rename_moves_links_cursors_and_account_and_one_account_has_one_connection() {
        let (_dir, mut store) = store();
        linked(&mut store, "old", "1001");
        store
            .set_remote_cursor("old", ObjectKind::Contact, Some("c1"))
            .unwrap();
        store.bind_account("old", "hubspot", "111").unwrap();
        store.meta_set("options:old:contact", "{}").unwrap();
        assert!(store.bind_account("other", "hubspot", "111").is_err());

        store
            .rename_connection("old", "new", &["options:old:contact".to_string()])
            .unwrap();
        assert!(!store.connection_in_use("old").unwrap());
        assert_eq!(store.connection_links("new").unwrap(), 1);
        assert_eq!(
            store.remote_cursor("new", ObjectKind::Contact).unwrap(),
            Some("c1".to_string())
        );
        assert_eq!(
            store.account_holder("hubspot", "111").unwrap(),
            Some("new".to_string())
        );
        assert_eq!(store.meta_get("options:old:contact").unwrap(), None);
    }

    #[test]
    fn forgetting_a_connection_leaves_its_records_and_other_connections_alone() {
        let (_dir, mut store) = store();
        let mine = linked(&mut store, "hs", "1001");
        linked(&mut store, "other", "1001");
        store.bind_account("hs", "hubspot", "111").unwrap();
        store
            .set_local_cursor("hs", ObjectKind::Contact, 7)
            .unwrap();

        let forgotten = store.forget_connection("hs", &[]).unwrap();
        assert_eq!(forgotten.links, 1);
        assert!(!store.connection_in_use("hs").unwrap());
        assert_eq!(store.local_cursor("hs", ObjectKind::Contact).unwrap(), 0);
        assert!(store.get_record(&mine).unwrap().is_some());
        assert_eq!(store.connection_links("other").unwrap(), 1);
        assert_eq!(store.unbound_linked_connections().unwrap(), ["other"]);
    }
}
