//! The schema, as an append-only list of migrations. Never edit, reorder or drop a step that
//! has shipped: a state file records how many steps it has seen in `PRAGMA user_version`.
//!
//! `tests/fixtures/state-v1.db` is a file at version 1, made by the ignored test
//! `store::tests::generate_v1_fixture`; a test migrates a copy of it to the latest version.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::sql::sql_error;
use super::types::StoreError;

/// `PRAGMA application_id` of crmsync state files ("crms"), so another program's SQLite file
/// is recognised and left alone.
pub const APPLICATION_ID: i64 = 0x6372_6d73;

/// Migration `i` (0-based) takes a file from version `i` to version `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    V1_BASE,
    V2_LEASES_AND_QUEUE_INDEXES,
    V3_RETIRED_LINKS,
    V4_CONFLICT_DECISIONS,
    V5_JOURNAL_EXTERNAL_ID,
    V6_REQUEUED_FAILURES,
    V7_CONNECTION_ACCOUNTS,
    V8_STATE_ID,
    V9_MATCH_KEY_FORMS,
    V10_LOG_TIME_INDEXES,
    V11_PARKED_FAILURES,
    V12_WEBHOOK_QUEUE,
    V13_ACTIVITIES_BY_CONTACT,
];

/// The schema version this build writes.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 1: records, links, cursors, journal, failures, conflicts, runs, audit, meta.
const V1_BASE: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE records (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    archived_at INTEGER,
    seq         INTEGER NOT NULL,
    -- match keys copied out of `fields` so duplicate detection is an index lookup
    email       TEXT,
    domain      TEXT,
    -- who created the record: its creation's audit entry, kept on the row itself so that
    -- a million-row import writes no audit rows
    created_at         INTEGER NOT NULL,
    created_run        INTEGER,
    created_cause      TEXT NOT NULL,
    created_connection TEXT
) WITHOUT ROWID;
CREATE INDEX records_kind_seq ON records(kind, seq);
CREATE INDEX records_email ON records(kind, email) WHERE email IS NOT NULL;
CREATE INDEX records_domain ON records(kind, domain) WHERE domain IS NOT NULL;
CREATE INDEX records_archived ON records(kind) WHERE archived_at IS NOT NULL;

CREATE TABLE links (
    connection        TEXT NOT NULL,
    kind              TEXT NOT NULL,
    local_id          TEXT NOT NULL REFERENCES records(id),
    remote_id         TEXT NOT NULL,
    base              TEXT NOT NULL,
    remote_updated_at INTEGER,
    synced_at         INTEGER NOT NULL,
    PRIMARY KEY (connection, kind, local_id),
    UNIQUE (connection, kind, remote_id)
) WITHOUT ROWID;
CREATE INDEX links_local ON links(local_id);

CREATE TABLE cursors (
    connection    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    remote_cursor TEXT,
    local_seq     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (connection, kind)
) WITHOUT ROWID;

CREATE TABLE journal (
    id         INTEGER PRIMARY KEY,
    run        INTEGER NOT NULL,
    connection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    op         TEXT NOT NULL,
    local_id   TEXT NOT NULL,
    remote_id  TEXT,
    props      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE failures (
    connection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    local_id   TEXT NOT NULL,
    remote_id  TEXT,
    op         TEXT NOT NULL,
    message    TEXT NOT NULL,
    code       TEXT,
    attempts   INTEGER NOT NULL,
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (connection, kind, local_id)
) WITHOUT ROWID;

CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY,
    connection  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    local_id    TEXT NOT NULL REFERENCES records(id),
    field       TEXT NOT NULL,
    base        TEXT,
    local       TEXT,
    remote      TEXT,
    detected_at INTEGER NOT NULL,
    resolved_at INTEGER,
    resolution  TEXT,
    resolved_by TEXT
);
CREATE UNIQUE INDEX conflicts_open ON conflicts(connection, local_id, field)
    WHERE resolved_at IS NULL;
CREATE INDEX conflicts_open_kind ON conflicts(connection, kind) WHERE resolved_at IS NULL;

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    command     TEXT NOT NULL,
    connections TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    counts      TEXT NOT NULL DEFAULT '{}',
    error       TEXT
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    run        INTEGER,
    at         INTEGER NOT NULL,
    record_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    field      TEXT NOT NULL,
    old        TEXT,
    new        TEXT,
    side       TEXT NOT NULL,
    connection TEXT,
    cause      TEXT NOT NULL
);
CREATE INDEX audit_record_field ON audit(record_id, field, id);

INSERT INTO meta(key, value) VALUES ('seq', '0');
";

/// Version 2: leases (short named locks inside the file) and the indexes that make queue
/// depth and journal recovery per connection index lookups.
const V2_LEASES_AND_QUEUE_INDEXES: &str = "
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX journal_connection ON journal(connection, kind, local_id);
CREATE INDEX runs_outcome ON runs(command, outcome, id);
";

/// Version 3: links retired by an archive stay in the file (for `explain` and `status`) but
/// are never planned again.
const V3_RETIRED_LINKS: &str = "
ALTER TABLE links ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
";

/// Version 4: how each conflict was decided, for `conflicts show`, `explain` and `log`: the
/// run, the field's policy, the outcome (`local`, `remote`, `held`), and the two times
/// `newest-wins` compares with where each came from (`field`: the field's own last change;
/// `record`: the record's `updated_at`, when no field time was known). Rows written before
/// version 4 keep NULL: not recorded. The index serves a record's conflict history.
const V4_CONFLICT_DECISIONS: &str = "
CREATE INDEX conflicts_record ON conflicts(local_id, field, id);
ALTER TABLE conflicts ADD COLUMN run INTEGER;
ALTER TABLE conflicts ADD COLUMN policy TEXT;
ALTER TABLE conflicts ADD COLUMN outcome TEXT;
ALTER TABLE conflicts ADD COLUMN local_updated_at INTEGER;
ALTER TABLE conflicts ADD COLUMN local_time_source TEXT;
ALTER TABLE conflicts ADD COLUMN remote_updated_at INTEGER;
ALTER TABLE conflicts ADD COLUMN remote_time_source TEXT;
";

/// Version 5: whether a journalled update also writes the local id into the CRM's external-id
/// field, so that a run killed before the CRM answered still owes it after a restart (a link
/// made by email is committed before that first write, and would never be stamped again).
const V5_JOURNAL_EXTERNAL_ID: &str = "
ALTER TABLE journal ADD COLUMN set_external_id INTEGER NOT NULL DEFAULT 0;
";

/// Version 6: `crmsync retry` marks failures re-queued instead of deleting them, so a record
/// that fails again keeps its first failure time and counts its attempts on.
const V6_REQUEUED_FAILURES: &str = "
ALTER TABLE failures ADD COLUMN requeued_at INTEGER;
";

/// Version 7: the CRM account each connection's links were made in (HubSpot's portal id),
/// bound at the connection's first run and checked at the start of every run, so that a
/// connection pointed at another account is stopped before it writes there. Every link of a
/// connection belongs to its one bound account; one account has at most one connection.
/// Connections whose links predate version 7 have no row until a run learns their account.
const V7_CONNECTION_ACCOUNTS: &str = "
CREATE TABLE connection_accounts (
    connection TEXT PRIMARY KEY,
    provider   TEXT NOT NULL,
    account    TEXT NOT NULL,
    bound_at   INTEGER NOT NULL,
    UNIQUE (provider, account)
) WITHOUT ROWID;
";

/// Version 8: a random identity of the state file (`meta` key `state_id`), which a saved plan
/// records so that `crmsync apply` refuses a plan made against another state file.
const V8_STATE_ID: &str = "
INSERT OR IGNORE INTO meta(key, value) VALUES ('state_id', lower(hex(randomblob(16))));
";

/// Version 9: the `email` and `domain` columns hold match keys (NFC, lower case, the domain
/// in punycode, no invisible characters; a domain without scheme, `www.` or path) rather
/// than the values as written. The rows whose value is not its own key are rewritten by
/// [`rekey_match_keys`], which runs with this step.
pub(super) const V9_MATCH_KEY_FORMS: &str = "
UPDATE meta SET value = value WHERE key = 'seq';
";

/// Version 10: runs and audit entries by time, so that pruning what is older than
/// `log.keep_days` at the end of every run reads only what it removes.
const V10_LOG_TIME_INDEXES: &str = "
CREATE INDEX runs_started ON runs(started_at);
CREATE INDEX audit_at ON audit(at);
";

/// Version 11: failures tried again by later runs on their own. `parked_reason` says, in
/// words, why a failure is not tried again until a person re-queues it (a refusal that trying
/// again cannot mend); `requeued_attempts` is the attempt count at a person's last re-queue,
/// from which the automatic tries count afresh.
const V11_PARKED_FAILURES: &str = "
ALTER TABLE failures ADD COLUMN parked_reason TEXT;
ALTER TABLE failures ADD COLUMN requeued_attempts INTEGER NOT NULL DEFAULT 0;
";

/// Version 12: `crmsync listen`'s durable queue of webhook events (one row per event a CRM
/// delivered, unique on the CRM's event id so a redelivery is not queued twice; `state` is
/// `queued`, `applied` or `dropped`), the deliveries it refused (bad signature, stale
/// timestamp, wrong credentials; the reason without any secret), and the listener running on
/// the file (one row, its process id and last sign of life).
const V12_WEBHOOK_QUEUE: &str = "
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY,
    connection  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    remote_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    summary     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'queued',
    done_at     INTEGER,
    note        TEXT,
    UNIQUE (connection, event_id)
);
CREATE INDEX webhook_events_queued ON webhook_events(id) WHERE state = 'queued';
CREATE INDEX webhook_events_received ON webhook_events(received_at);
CREATE TABLE webhook_refusals (
    id         INTEGER PRIMARY KEY,
    connection TEXT NOT NULL,
    at         INTEGER NOT NULL,
    reason     TEXT NOT NULL
);
CREATE TABLE listener (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    pid          INTEGER NOT NULL,
    address      TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
);
";

/// Version 13: activities found by their contact, as an index lookup: the content key an
/// unlinked CRM activity is paired by, and a create's check for the same activity, list the
/// activities of one contact. (An activity's new fields, `time`, `duration`, `status`,
/// `direction` and `owner`, live in `fields` like every field and need no column.)
const V13_ACTIVITIES_BY_CONTACT: &str = "
CREATE INDEX records_activity_contact ON records(json_extract(fields, '$.contact_id'))
    WHERE kind = 'activity';
";

/// Rewrites the match-key columns whose value is not its own [`match_key`]: contacts'
/// emails beyond lower-case ASCII, and every company's domain (companies are few).
fn rekey_match_keys(tx: &rusqlite::Transaction<'_>, path: &Path) -> Result<(), StoreError> {
    use crate::model::normalize::match_key;
    let queries = [
        (
            "email",
            "SELECT id, email FROM records WHERE kind = 'contact' AND email IS NOT NULL
             AND (email GLOB '*[^ -~]*' OR email GLOB '*[A-Z]*')",
        ),
        (
            "domain",
            "SELECT id, domain FROM records WHERE kind = 'company' AND domain IS NOT NULL",
        ),
    ];
    for (column, select) in queries {
        let mut stale: Vec<(String, String)> = Vec::new();
        let read = |e| sql_error(path, "read the match keys", e);
        let mut stmt = tx.prepare(select).map_err(read)?;
        let mut rows = stmt.query([]).map_err(read)?;
        while let Some(row) = rows.next().map_err(read)? {
            let (id, value): (String, String) =
                (row.get(0).map_err(read)?, row.get(1).map_err(read)?);
            let key = match_key(column, &value);
            if key != value.as_str() {
                stale.push((id, key.into_owned()));
            }
        }
        let mut update = tx
            .prepare(&format!("UPDATE records SET {column} = ?2 WHERE id = ?1"))
            .map_err(|e| sql_error(path, "prepare a match key update", e))?;
        for (id, key) in stale {
            update
                .execute([id, key])
                .map_err(|e| sql_error(path, "rewrite a match key", e))?;
        }
    }
    Ok(())
}

/// The secondary indexes of `records` that a bulk load sets aside and builds again when it
/// ends ([`super::Store::begin_bulk_load`]), by name, each as the latest migration that
/// touched it left it. Built with `IF NOT EXISTS` at every open, so a load killed before its
/// end leaves a file whose next open builds them; a test checks that the text matches what
/// the migrations made.
pub(super) const DEFERRABLE_RECORD_INDEXES: &[(&str, &str)] = &[
    (
        "records_email",
        "CREATE INDEX records_email ON records(kind, email) WHERE email IS NOT NULL",
    ),
    (
        "records_domain",
        "CREATE INDEX records_domain ON records(kind, domain) WHERE domain IS NOT NULL",
    ),
];

/// Brings the file up to [`LATEST_VERSION`] in one exclusive transaction: a crash half-way
/// leaves the file at its old version, and no other process sees a half-migrated schema.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    migrate_to(conn, path, LATEST_VERSION)
}

/// Applies migrations up to `target` (tests use it to build old-version fixtures).
pub(super) fn migrate_to(
    conn: &mut Connection,
    path: &Path,
    target: i64,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(|e| sql_error(path, "start the migration", e))?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| sql_error(path, "read the schema version", e))?;
    if current > LATEST_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            supported: LATEST_VERSION,
        });
    }
    if current >= target {
        return Ok(());
    }
    for (i, step) in MIGRATIONS.iter().enumerate().take(target as usize) {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        tx.execute_batch(step)
            .map_err(|e| sql_error(path, &format!("apply schema migration {version}"), e))?;
        if *step == V9_MATCH_KEY_FORMS {
            rekey_match_keys(&tx, path)?;
        }
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .and_then(|_| tx.pragma_update(None, "user_version", target))
        .and_then(|_| tx.commit())
        .map_err(|e| sql_error(path, "finish the migration", e))
}
