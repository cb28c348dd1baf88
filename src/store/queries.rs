//! Read-only questions asked by the status commands.

use rusqlite::{OptionalExtension, params};

use super::links::set_base_field_in;
use super::open::Store;
use super::records::save_in;
use super::sql::{begin, commit, read_seq, sql_error, write_seq};
use super::types::{Conflict, RunOutcome, StoreError, WriteOrigin};
use crate::model::{Record, RecordId};

impl Store {
    /// How the latest `command` run that included `connection` ended: `None` when there was
    /// none, `Some(None)` when it has not finished (running, or the process died).
    pub fn last_run_outcome(
        &self,
        command: &str,
        connection: &str,
    ) -> Result<Option<Option<RunOutcome>>, StoreError> {
        let found: Option<Option<String>> = self
            .conn
            .prepare_cached(
                "SELECT outcome FROM runs
                 WHERE command = ?1
                   AND EXISTS (SELECT 1 FROM json_each(runs.connections) WHERE value = ?2)
                 ORDER BY id DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([command, connection], |r| r.get(0)).optional())
            .map_err(|e| self.sql("read runs", e))?;
        match found {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(s)) => RunOutcome::parse(&s)
                .map(|o| Some(Some(o)))
                .ok_or_else(|| self.corrupt(format!("unknown run outcome `{s}`"))),
        }
    }

    /// The local change number of record `id` (`None`: no such record); compared with a
    /// connection's local cursor it says whether the record waits to be pushed.
    pub fn record_seq(&self, id: &RecordId) -> Result<Option<i64>, StoreError> {
        self.conn
            .prepare_cached("SELECT seq FROM records WHERE id = ?1")
            .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)).optional())
            .map_err(|e| self.sql("read a record", e))
    }

    /// Resolves open conflict `id` with `value` chosen `how`, saving `record` (which carries
    /// the chosen value) in the same transaction. The record always gets a new local change
    /// number, even when its fields did not change (`--take local`): the sync that held the
    /// conflict has already moved its cursor past the record, so only a new change number
    /// makes the next sync push it.
    ///
    /// The connection's base of the field becomes the remote value the conflict was decided
    /// against: a resolution is a decision about those two values, so it stands until either
    /// side changes the field again. A later read of the same remote value (the change feed's
    /// overlap, another field edited in the CRM) is then no change on the remote side, and the
    /// chosen value is pushed; a remote value that moved since is a remote change, taken by
    /// the next sync (or met as a new conflict when the local side moved too), never
    /// overwritten with the value seen when the conflict was found.
    pub fn resolve_conflict_with(
        &mut self,
        id: i64,
        record: &Record,
        value: Option<&str>,
        how: &str,
        origin: &WriteOrigin,
    ) -> Result<Conflict, StoreError> {
        let at = self.clock.now();
        let path = self.path.clone();
        let decided = self.get_conflict(id)?;
        let tx = begin(&mut self.conn, &path)?;
        let n = tx
            .prepare_cached(
                "UPDATE conflicts SET resolved_at = ?2, resolution = ?3, resolved_by = ?4
                 WHERE id = ?1 AND resolved_at IS NULL",
            )
            .and_then(|mut s| s.execute(params![id, at, value, how]))
            .map_err(|e| sql_error(&path, "resolve a conflict", e))?;
        if n == 0 {
            drop(tx);
            return Err(match self.get_conflict(id)? {
                Some(c) => StoreError::Invalid {
                    message: format!(
                        "conflict {id} was already resolved (as `{}` by `{}`)",
                        c.resolution.unwrap_or_default(),
                        c.resolved_by.unwrap_or_default()
                    ),
                },
                None => StoreError::Invalid {
                    message: format!(
                        "there is no conflict {id}; run `crmsync conflicts list` to list them"
                    ),
                },
            });
        }
        if let Some(c) = &decided {
            set_base_field_in(
                &tx,
                &path,
                &c.connection,
                c.kind,
                c.local_id.as_str(),
                &c.field,
                c.remote.as_deref(),
            )?;
        }
        if save_in(&tx, &path, std::slice::from_ref(record), origin, at)? == 0 {
            let seq = read_seq(&tx, &path)? + 1;
            tx.prepare_cached("UPDATE records SET seq = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![record.id.as_str(), seq]))
                .map_err(|e| sql_error(&path, "re-queue a record", e))?;
            write_seq(&tx, &path, seq)?;
        }
        commit(tx, &path, "commit a resolution")?;
        self.get_conflict(id)?.ok_or_else(|| StoreError::Invalid {
            message: format!("conflict {id} vanished while being resolved"),
        })
    }

    /// The ids of records of `kind` changed after local change number `after_seq` (an index
    /// range, without reading the records). Taken under the run lock with `after_seq` read
    /// before a write, these are exactly the records that write created or changed.
    pub fn record_ids_changed_since(
        &self,
        kind: crate::model::ObjectKind,
        after_seq: i64,
    ) -> Result<std::collections::HashSet<RecordId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM records WHERE kind = ?1 AND seq > ?2")
            .map_err(|e| self.sql("prepare a change scan", e))?;
        let rows = stmt
            .query_map(params![kind.as_str(), after_seq], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql("read changed records", e))?;
        let mut out = std::collections::HashSet::new();
        for row in rows {
            out.insert(RecordId(
                row.map_err(|e| self.sql("read changed records", e))?,
            ));
        }
        Ok(out)
    }
}

impl Store {
    /// The distinct values live `kind` records hold in `field` (as text), each with how many
    /// records hold it, most held first (`mappings check` tests them against a CRM field).
    pub fn field_values(
        &self,
        kind: crate::model::ObjectKind,
        field: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let path = format!("$.\"{}\"", field.replace('"', ""));
        self.conn
            .prepare_cached(
                "SELECT CAST(json_extract(fields, ?2) AS TEXT) AS v, COUNT(*) AS n FROM records
                 WHERE kind = ?1 AND archived_at IS NULL AND v IS NOT NULL AND v <> ''
                 GROUP BY v ORDER BY n DESC, v",
            )
            .and_then(|mut s| {
                s.query_map(params![kind.as_str(), path], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })?
                .collect()
            })
            .map_err(|e| self.sql("read the values of a field", e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::model::ObjectKind;
    use crate::store::{ConflictFilter, NewConflict};

    const T0: i64 = 1_700_000_000_000;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("state.db")).unwrap();
        s.set_clock(Arc::new(FixedClock::new(T0)));
        (dir, s)
    }

    fn ann() -> Record {
        Record {
            id: RecordId("01HZY000000000000000000001".into()),
            kind: ObjectKind::Contact,
            fields: [("email", "ann@example.com"), ("pronouns", "she/her")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            updated_at: T0,
            archived_at: None,
        }
    }

    fn conflict(s: &mut Store, local: &str) -> i64 {
        s.upsert_conflict(&NewConflict {
            connection: "acme".into(),
            kind: ObjectKind::Contact,
            local_id: ann().id,
            field: "pronouns".into(),
            base: None,
            local: Some(local.into()),
            remote: Some("they/them".into()),
            detected_at: T0,
            decision: crate::store::tests::held(T0),
        })
        .unwrap()
    }

    #[test]
    fn last_run_outcome_is_the_latest_run_of_that_command_and_connection() {
        let (_d, mut s) = store();
        assert_eq!(s.last_run_outcome("sync", "acme").unwrap(), None);
        let acme = vec!["acme".to_string()];
        let r1 = s.begin_run("sync", &acme, T0).unwrap();
        s.finish_run(r1, RunOutcome::Ok, &serde_json::json!({}), None, T0)
            .unwrap();
        let r2 = s.begin_run("sync", &["other".to_string()], T0).unwrap();
        s.finish_run(r2, RunOutcome::Failed, &serde_json::json!({}), None, T0)
            .unwrap();
        assert_eq!(
            s.last_run_outcome("sync", "acme").unwrap(),
            Some(Some(RunOutcome::Ok))
        );
        s.begin_run("sync", &acme, T0).unwrap();
        assert_eq!(s.last_run_outcome("sync", "acme").unwrap(), Some(None));
        assert_eq!(s.last_run_outcome("import", "acme").unwrap(), None);
    }

    #[test]
    fn resolving_with_an_unchanged_record_still_gives_it_a_new_change_number() {
        let (_d, mut s) = store();
        s.save_records(&[ann()], &WriteOrigin::User).unwrap();
        let before = s.record_seq(&ann().id).unwrap().unwrap();
        let id = conflict(&mut s, "she/her");
        let c = s
            .resolve_conflict_with(
                id,
                &ann(),
                Some("she/her"),
                "local",
                &WriteOrigin::ConflictResolved { run: None },
            )
            .unwrap();
        assert_eq!(c.resolved_by.as_deref(), Some("local"));
        assert_eq!(c.resolved_at, Some(T0));
        let after = s.record_seq(&ann().id).unwrap().unwrap();
        assert!(after > before, "{after} > {before}");
        assert_eq!(s.max_seq().unwrap(), after);
        assert!(
            s.list_open_conflicts(&ConflictFilter::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_refused_resolution_leaves_the_record_alone() {
        let (_d, mut s) = store();
        s.save_records(&[ann()], &WriteOrigin::User).unwrap();
        let id = conflict(&mut s, "she/her");
        let mut changed = ann();
        changed.fields.insert("pronouns".into(), "they/them".into());
        let origin = WriteOrigin::ConflictResolved { run: None };
        s.resolve_conflict_with(id, &changed, Some("they/them"), "remote", &origin)
            .unwrap();
        let seq = s.max_seq().unwrap();
        let mut again = ann();
        again.fields.insert("pronouns".into(), "xe/xem".into());
        let err = s
            .resolve_conflict_with(id, &again, Some("xe/xem"), "value", &origin)
            .unwrap_err();
        assert!(err.to_string().contains("already resolved"), "{err}");
        let err = s
            .resolve_conflict_with(99, &again, Some("xe/xem"), "value", &origin)
            .unwrap_err();
        assert!(err.to_string().contains("no conflict 99"), "{err}");
        assert_eq!(s.max_seq().unwrap(), seq);
        assert_eq!(
            s.get_record(&ann().id).unwrap().unwrap().get("pronouns"),
            Some("they/them")
        );
        assert_eq!(s.record_seq(&RecordId("nope".into())).unwrap(), None);
    }

    #[test]
    fn record_ids_changed_since_are_those_a_later_write_created_or_changed() {
        let (_d, mut s) = store();
        s.save_records(&[ann()], &WriteOrigin::Import { run: 1 })
            .unwrap();
        let before = s.max_seq().unwrap();
        let mut bob = ann();
        bob.id = RecordId("01HZY000000000000000000002".into());
        bob.fields.insert("email".into(), "bob@example.com".into());
        // Ann saved unchanged: not changed by this write.
        s.save_records(&[bob.clone(), ann()], &WriteOrigin::Import { run: 2 })
            .unwrap();
        assert_eq!(
            s.record_ids_changed_since(ObjectKind::Contact, before)
                .unwrap(),
            [bob.id].into_iter().collect()
        );
        assert!(
            s.record_ids_changed_since(ObjectKind::Company, 0)
                .unwrap()
                .is_empty()
        );
    }
}
