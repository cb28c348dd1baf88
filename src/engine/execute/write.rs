//! Remote writes: a chunk of a plan's creates, updates or archives journalled, sent as one call,
//! and each answer committed with its link, base and failure.

use std::collections::{BTreeMap, HashMap};
#[cfg(feature = "test-seams")]
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::StepError;
use crate::engine::plan::Op;
use crate::model::{Millis, ObjectKind, RecordId};
use crate::providers::{RemoteRecord, RemoteWrite};
use crate::store::{JournalEntry, WriteFailure, WriteOp, WriteOutcome};

use super::Executor;
use super::ids::IdCache;
use super::outcome::{AfterWrites, ExecOutcome, Moved, Refused};
use super::remote::answered_base;

/// Remote write calls sent by this process, for the `CRMSYNC_TEST_KILL_AFTER_WRITES` knob.
#[cfg(feature = "test-seams")]
pub(super) static WRITE_CALLS: AtomicU64 = AtomicU64::new(0);

/// Test knob: the process kills itself (SIGKILL, no cleanup) right after the Nth remote write
/// call was answered and before its outcome is committed — the worst moment to die.
pub(super) fn maybe_die_after_write() {
    #[cfg(feature = "test-seams")]
    die_after_write();
}

#[cfg(feature = "test-seams")]
pub(super) fn die_after_write() {
    let n = WRITE_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    let Some(limit) = std::env::var(crate::env::TEST_KILL_AFTER_WRITES)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    if n >= limit {
        crate::env::die_at_once();
    }
}

/// The CRM's answer to one remote write: the record as it stands after the write (none for
/// an archive), or why it refused it.
type Answer = Result<Option<RemoteRecord>, crate::providers::RecordError>;

/// The failure a record keeps for the CRM's refusal `e` (or the provider's, before sending).
fn failure_of(e: &crate::providers::RecordError, at: Millis) -> WriteFailure {
    WriteFailure {
        message: e.message.clone(),
        code: e.failure_code(),
        at,
        permanent: e.permanent_reason(),
    }
}

/// A remote write of a sent chunk with its planned op, journal id and answer.
type Sent<'p> = ((RemoteWrite, &'p Op), i64, Answer);

impl Executor<'_> {
    /// Journals, sends and commits one batch of remote writes of one kind.
    pub(super) async fn write_chunk(
        &mut self,
        object: ObjectKind,
        op: WriteOp,
        chunk: &[&Op],
        ids: &IdCache,
        after: &mut AfterWrites,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        let now = self.clock.now();
        let mut writes = self.outgoing(object, chunk, ids, out)?;
        self.refuse_before_sending(object, op, &mut writes, ids, out)
            .await?;
        if writes.is_empty() {
            return Ok(());
        }
        let journal_ids = self.journal_writes(object, op, &writes, now)?;
        let results = self.send(object, op, &writes).await?;
        maybe_die_after_write();
        let sent: Vec<Sent> = writes
            .into_iter()
            .zip(journal_ids)
            .zip(results)
            .map(|((w, jid), r)| (w, jid, r))
            .collect();
        self.commit_answers(object, op, sent, ids, after, out)
    }

    /// The remote writes of `chunk`'s ops, their fields mapped to the CRM's properties.
    fn outgoing<'p>(
        &self,
        object: ObjectKind,
        chunk: &[&'p Op],
        ids: &IdCache,
        out: &mut ExecOutcome,
    ) -> Result<Vec<(RemoteWrite, &'p Op)>, StepError> {
        let mut writes: Vec<(RemoteWrite, &Op)> = Vec::with_capacity(chunk.len());
        let mut twins = self.activity_twins(object, chunk)?;
        // Under `on_delete = "ignore"` a local record archived here leaves its CRM record
        // live behind a retired link, which the engine's check of an activity's content
        // (`linked_twins`, over live local activities) does not see: there the provider makes
        // its own.
        let checked = self.content_checked && self.on_delete != crate::mapping::OnDelete::Ignore;
        for o in chunk {
            let mut takes_over = Vec::new();
            let (local_id, remote_id, props, set_external_id) = match o {
                Op::RemoteCreate {
                    local_id, fields, ..
                } => {
                    let mut outbound = self.map.create_props(fields, ids);
                    self.note_warnings(object, local_id, &outbound.warnings, out);
                    takes_over = match twins.remove(local_id) {
                        Some(twins) => twins,
                        None => self.left_live(object, fields)?,
                    };
                    if let Some(stamp) = self.stamp {
                        outbound.props.extend(stamp.clone());
                    }
                    (local_id, None, outbound.props, false)
                }
                Op::RemoteUpdate {
                    local_id,
                    remote_id,
                    changes,
                    set_external_id,
                    ..
                } => {
                    let outbound = self.map.to_remote(
                        changes.iter().map(|c| (c.field.as_str(), c.new.as_deref())),
                        ids,
                    );
                    self.note_warnings(object, local_id, &outbound.warnings, out);
                    (
                        local_id,
                        Some(remote_id.clone()),
                        outbound.props,
                        *set_external_id,
                    )
                }
                Op::RemoteArchive {
                    local_id,
                    remote_id,
                    ..
                } => (local_id, Some(remote_id.clone()), BTreeMap::new(), false),
                _ => continue,
            };
            writes.push((
                RemoteWrite {
                    local_id: local_id.to_string(),
                    remote_id,
                    props,
                    set_external_id,
                    takes_over,
                    content_checked: checked && matches!(o, Op::RemoteCreate { .. }),
                },
                o,
            ));
        }
        Ok(writes)
    }

    /// Fails, instead of sending them, the creates and updates of `writes` whose values the
    /// CRM would refuse taken together ([`crate::providers::Provider::refusals`]: a deal's
    /// stage its pipeline does not have). Each is asked about as the record will stand once
    /// written: a create's properties, an update's whole base after it.
    async fn refuse_before_sending(
        &mut self,
        object: ObjectKind,
        op: WriteOp,
        writes: &mut Vec<(RemoteWrite, &Op)>,
        ids: &IdCache,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        if op == WriteOp::Archive || writes.is_empty() || !self.provider.refuses_together(object) {
            return Ok(());
        }
        let whole: Vec<BTreeMap<String, String>> = writes
            .iter()
            .map(|(w, planned)| match planned {
                Op::RemoteUpdate { base, .. } => self.map.create_props(base, ids).props,
                _ => w.props.clone(),
            })
            .collect();
        let verdicts = self.provider.refusals(object, &whole).await?;
        let at = self.clock.now();
        let mut kept = Vec::with_capacity(writes.len());
        for ((w, planned), verdict) in std::mem::take(writes).into_iter().zip(verdicts) {
            let Some(refusal) = verdict else {
                kept.push((w, planned));
                continue;
            };
            let e = crate::providers::RecordError {
                message: refusal.message,
                code: Some("VALIDATION_ERROR".into()),
                retryable: false,
                kind: crate::providers::RecordErrorKind::Refused,
            };
            out.failed_writes.add(op);
            self.store.record_failure(
                self.connection,
                object,
                &RecordId(w.local_id.clone()),
                w.remote_id.as_deref(),
                op,
                &failure_of(&e, at),
            )?;
            self.reporter.advance(1);
        }
        *writes = kept;
        Ok(())
    }

    /// For the activity creates of `chunk`: the CRM records linked to other local activities
    /// with their content key, by local id (see [`crate::engine::sync::linked_twins`]).
    fn activity_twins(
        &self,
        object: ObjectKind,
        chunk: &[&Op],
    ) -> Result<HashMap<RecordId, Vec<String>>, StepError> {
        if object != ObjectKind::Activity {
            return Ok(HashMap::new());
        }
        let creates: Vec<(&RecordId, &crate::model::Fields)> = chunk
            .iter()
            .filter_map(|o| match o {
                Op::RemoteCreate {
                    local_id, fields, ..
                } => Some((local_id, fields)),
                _ => None,
            })
            .collect();
        if creates.is_empty() {
            return Ok(HashMap::new());
        }
        crate::engine::sync::linked_twins(self.store, self.connection, &self.map.rules, &creates)
    }

    /// For a create: the CRM records that local records archived here with `on_delete =
    /// "ignore"` left live, whose match key (email, domain) the new record has
    /// ([`RemoteWrite::takes_over`]).
    fn left_live(
        &self,
        object: ObjectKind,
        fields: &crate::model::Fields,
    ) -> Result<Vec<String>, StepError> {
        if self.on_delete != crate::mapping::OnDelete::Ignore {
            return Ok(Vec::new());
        }
        let key = match object {
            ObjectKind::Contact => "email",
            ObjectKind::Company => "domain",
            ObjectKind::Activity | ObjectKind::Deal => return Ok(Vec::new()),
        };
        match fields.get(key).filter(|v| !v.is_empty()) {
            Some(value) => {
                Ok(self
                    .store
                    .retired_remote_ids_by_match_key(self.connection, object, value)?)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Journals `writes` before they are sent; returns their journal ids in order.
    fn journal_writes(
        &mut self,
        object: ObjectKind,
        op: WriteOp,
        writes: &[(RemoteWrite, &Op)],
        now: Millis,
    ) -> Result<Vec<i64>, StepError> {
        let entries: Vec<JournalEntry> = writes
            .iter()
            .map(|(w, _)| JournalEntry {
                run: self.run,
                connection: self.connection.to_string(),
                kind: object,
                op,
                local_id: RecordId(w.local_id.clone()),
                remote_id: w.remote_id.clone(),
                props: w.props.clone(),
                set_external_id: w.set_external_id,
                created_at: now,
            })
            .collect();
        Ok(self.store.journal_add(&entries)?)
    }

    /// Sends `writes` as one call; returns the CRM's answer for each, in order.
    async fn send(
        &self,
        object: ObjectKind,
        op: WriteOp,
        writes: &[(RemoteWrite, &Op)],
    ) -> Result<Vec<Answer>, StepError> {
        let inputs: Vec<RemoteWrite> = writes.iter().map(|(w, _)| w.clone()).collect();
        let results: Vec<Answer> = match op {
            WriteOp::Create => self
                .provider
                .create(object, &inputs)
                .await?
                .into_iter()
                .map(|r| r.map(Some))
                .collect(),
            WriteOp::Update => self
                .provider
                .update(object, &inputs)
                .await?
                .into_iter()
                .map(|r| r.map(Some))
                .collect(),
            WriteOp::Archive => {
                let ids: Vec<String> = inputs.iter().filter_map(|w| w.remote_id.clone()).collect();
                self.provider
                    .archive(object, &ids)
                    .await?
                    .into_iter()
                    .map(|r| r.map(|()| None))
                    .collect()
            }
        };
        Ok(results)
    }

    /// Commits each answer of a sent chunk with its journal entry: the link and base of a
    /// write done, the link moved to the record the CRM merged an updated one into, a
    /// refused create kept for the duplicates' follow-up, or a failure.
    fn commit_answers(
        &mut self,
        object: ObjectKind,
        op: WriteOp,
        sent: Vec<Sent>,
        ids: &IdCache,
        after: &mut AfterWrites,
        out: &mut ExecOutcome,
    ) -> Result<(), StepError> {
        let at = self.clock.now();
        // An update answered under another id was merged into that record by the CRM: who
        // holds a link to it already decides whether the link can follow.
        let merged = |w: &RemoteWrite, rec: &RemoteRecord| {
            op == WriteOp::Update && w.remote_id.as_deref() != Some(rec.id.as_str())
        };
        let mut holders = self.merge_holders(object, &sent, merged)?;
        for ((w, planned), jid, result) in sent {
            let w = &w;
            match result {
                Ok(Some(rec)) if merged(w, &rec) => {
                    let local_id = RecordId(w.local_id.clone());
                    let from = w.remote_id.clone().unwrap_or_default();
                    match holders.get(&rec.id).filter(|h| **h != local_id) {
                        Some(other) => {
                            out.failed_writes.update += 1;
                            let message =
                                self.merged_message(object, &local_id, &from, &rec.id, other);
                            self.store.fail_write(
                                jid,
                                &WriteFailure {
                                    message,
                                    code: None,
                                    at,
                                    permanent: None,
                                },
                            )?;
                        }
                        None => {
                            holders.insert(rec.id.clone(), local_id.clone());
                            self.store.commit_write(
                                jid,
                                &WriteOutcome {
                                    remote_id: rec.id.clone(),
                                    base: answered_base(self.map, planned, &rec, ids),
                                    remote_updated_at: Some(rec.updated_at),
                                    at,
                                    record: None,
                                    retired: false,
                                },
                            )?;
                            after.moved.push(Moved {
                                local_id,
                                from,
                                into: rec.id,
                            });
                        }
                    }
                }
                Ok(answer) => {
                    let (remote_id, base, remote_updated_at) = match answer {
                        Some(rec) => {
                            let base = answered_base(self.map, planned, &rec, ids);
                            (rec.id.clone(), base, Some(rec.updated_at))
                        }
                        None => (
                            w.remote_id.clone().unwrap_or_default(),
                            planned.base().clone(),
                            None,
                        ),
                    };
                    self.store.commit_write(
                        jid,
                        &WriteOutcome {
                            remote_id,
                            base,
                            remote_updated_at,
                            at,
                            record: None,
                            retired: op == WriteOp::Archive,
                        },
                    )?;
                }
                Err(e) if op == WriteOp::Create && e.duplicate_of().is_some() => {
                    // Settled once the plan's writes are done (see `pair_duplicates`).
                    let remote_id = e.duplicate_of().map(str::to_string).unwrap_or_default();
                    after.refused.push(Refused {
                        journal: jid,
                        local_id: RecordId(w.local_id.clone()),
                        remote_id,
                        error: e,
                    });
                }
                Err(e) => {
                    out.failed_writes.add(op);
                    if !e.unknown_properties().is_empty() {
                        out.unknown_properties
                            .push((RecordId(w.local_id.clone()), op));
                    }
                    self.store.fail_write(jid, &failure_of(&e, at))?;
                }
            }
            self.reporter.advance(1);
        }
        Ok(())
    }

    /// Who holds a link to each record an update of `sent` was merged into.
    fn merge_holders(
        &self,
        object: ObjectKind,
        sent: &[Sent],
        merged: impl Fn(&RemoteWrite, &RemoteRecord) -> bool,
    ) -> Result<HashMap<String, RecordId>, StepError> {
        let merged_into: Vec<String> = sent
            .iter()
            .filter_map(|((w, _), _, r)| match r {
                Ok(Some(rec)) if merged(w, rec) => Some(rec.id.clone()),
                _ => None,
            })
            .collect();
        let holders: HashMap<String, RecordId> = if merged_into.is_empty() {
            HashMap::new()
        } else {
            self.store
                .links_by_remote_ids(self.connection, object, &merged_into)?
                .into_iter()
                .map(|(rid, link)| (rid, link.local_id))
                .collect()
        };
        Ok(holders)
    }

    /// The failure kept when the CRM answered an update of `from` with `into`, the record it
    /// merged `from` into, and `into` is linked to another local record, `other`.
    pub(super) fn merged_message(
        &self,
        object: ObjectKind,
        local_id: &RecordId,
        from: &str,
        into: &str,
        other: &RecordId,
    ) -> String {
        let crm = self.provider.kind().display_name();
        format!(
            "{crm} merged {object} `{from}`, linked to local {object} `{local_id}`, into {crm} \
             {object} `{into}`, which is linked to local {object} `{other}`: the update went to \
             `{into}` (the next sync brings it into `{other}`), but `{local_id}` cannot follow \
             the merge while `{other}` is linked to it. The two local records are one {crm} \
             {object} now: merge them locally (keep what you want of `{local_id}` in `{other}`, \
             then archive `{local_id}`), then run `crmsync retry`"
        )
    }

    pub(super) fn note_warnings(
        &self,
        object: ObjectKind,
        local_id: &RecordId,
        warnings: &[crate::mapping::FieldWarning],
        out: &mut ExecOutcome,
    ) {
        for w in warnings {
            out.warnings.push(format!(
                "{} {object} `{local_id}`: field `{}` not sent: {}",
                self.connection, w.field, w.message
            ));
        }
    }
}
