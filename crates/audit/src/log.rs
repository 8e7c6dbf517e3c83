//! [`Audit`]: appending events, committing them in batches, sealing the chain's head.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tracing::{debug, error, info, warn};

use crate::chain::{self, blob32, GENESIS};
use crate::query::{query_conn, Filter, StoredEvent};
use crate::{now_ms, AuditError, DbContext, Event, RecorderKey};

/// The background thread commits queued events at least this often…
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// …or as soon as this many wait.
pub const FLUSH_BATCH: usize = 256;
/// The chain's head is sealed this often (when it moved) and at close.
pub const SEAL_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Queued events beyond which [`Audit::record`] refuses (the database is failing).
const MAX_BACKLOG: usize = 1 << 20;

/// The migrations of the audit's tables; migration `i` brings them to version `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/001_audit.sql")];

/// The chain's head: the last event's sequence number and hash (0 and zeros when empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// A seal as written to `audit_seal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    pub id: u64,
    pub seq: u64,
    pub hash: [u8; 32],
    pub time_ms: i64,
    pub signature: [u8; 64],
}

/// A row chained in memory, waiting for its commit.
#[derive(Clone, Debug)]
struct Row {
    seq: u64,
    time_ms: i64,
    actor: Option<String>,
    action: &'static str,
    target: String,
    detail: String,
    client: Option<String>,
    prev: [u8; 32],
    hash: [u8; 32],
}

impl Row {
    fn rehash(&mut self, seq: u64, prev: [u8; 32]) {
        self.seq = seq;
        self.prev = prev;
        let bytes = chain::row_bytes(
            seq,
            self.time_ms,
            self.actor.as_deref(),
            self.action,
            &self.target,
            &self.detail,
            self.client.as_deref(),
        );
        self.hash = chain::row_hash(&prev, &bytes);
    }
}

struct State {
    /// Head of the chain including queued rows.
    head: Head,
    pending: Vec<Row>,
    stop: bool,
    /// The last commit's error, while commits fail.
    failing: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    conn: Mutex<Connection>,
    key: RecorderKey,
}

struct Handle {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

/// The audit trail. Cheap to clone; share it between threads and tasks. The last handle
/// dropped (or [`Audit::close`]) commits what is queued and seals.
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves nothing half-done that matters (SQLite
    // transactions roll back on drop; the queue is a Vec), so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Opens `db_path` for the audit's use and brings its tables to the current version.
pub(crate) fn open_conn(db_path: &Path) -> Result<Connection, AuditError> {
    let mut conn = Connection::open(db_path).ctx("opening the database")?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .ctx("setting the busy timeout")?;
    set_wal(&conn)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")
        .ctx("configuring the database")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// How long a connection waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Puts the database in WAL mode (a no-op when it is). Switching a new database's journal
/// mode while another process opens it too can fail at once with `SQLITE_BUSY` (SQLite does
/// not call the busy handler there), so that is retried up to [`BUSY_TIMEOUT`].
fn set_wal(conn: &Connection) -> Result<(), AuditError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e).ctx("putting the database in WAL mode"),
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), AuditError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("starting the audit migration")?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS audit_schema (version INTEGER NOT NULL)")
        .ctx("creating audit_schema")?;
    let found: i64 = tx
        .query_row("SELECT version FROM audit_schema", [], |r| r.get(0))
        .optional()
        .ctx("reading the audit schema version")?
        .unwrap_or(0);
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(AuditError::SchemaTooNew { found, supported });
    }
    if found < supported {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql)
                .ctx(&format!("applying audit migration {}", i + 1))?;
        }
        tx.execute("DELETE FROM audit_schema", [])
            .ctx("updating the audit schema version")?;
        tx.execute(
            "INSERT INTO audit_schema (version) VALUES (?1)",
            [supported],
        )
        .ctx("updating the audit schema version")?;
    }
    tx.commit().ctx("committing the audit migration")?;
    Ok(())
}

fn read_tail(conn: &Connection) -> Result<Head, AuditError> {
    let row: Option<(i64, Option<Vec<u8>>)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx("reading the audit chain's head")?;
    Ok(match row {
        Some((seq, hash)) => Head {
            seq: seq.max(0) as u64,
            hash: blob32(hash),
        },
        None => Head {
            seq: 0,
            hash: GENESIS,
        },
    })
}

impl Audit {
    /// Opens the audit trail in the database `db_path` (creating its tables), signing seals
    /// with `key`, and starts the thread that commits queued events.
    pub fn open(db_path: &Path, key: RecorderKey) -> Result<Audit, AuditError> {
        let conn = open_conn(db_path)?;
        let head = read_tail(&conn)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                head,
                pending: Vec::with_capacity(FLUSH_BATCH),
                stop: false,
                failing: None,
            }),
            wake: Condvar::new(),
            conn: Mutex::new(conn),
            key,
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("audit".into())
            .spawn(move || committer(s))
            .map_err(|e| AuditError::Io {
                what: "start the audit thread for".into(),
                path: db_path.to_owned(),
                source: e,
            })?;
        debug!(seq = head.seq, "audit trail open");
        Ok(Audit {
            inner: Arc::new(Handle {
                shared,
                thread: Mutex::new(Some(thread)),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Appends an event; returns its sequence number. The row is chained at once and
    /// committed by the background thread within [`FLUSH_INTERVAL`]. (If another process
    /// appends to the same database in between, the commit renumbers the queued rows after
    /// its rows; the chain stays intact.)
    pub fn record(&self, e: Event) -> Result<u64, AuditError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(AuditError::Closed);
        }
        let time_ms = now_ms();
        let detail = serde_json::to_string(&e.detail).unwrap_or_else(|_| "{}".into());
        let mut row = Row {
            seq: 0,
            time_ms,
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail,
            client: e.client,
            prev: GENESIS,
            hash: GENESIS,
        };
        let sh = &self.inner.shared;
        let mut st = lock(&sh.state);
        if st.pending.len() >= MAX_BACKLOG {
            let why = st.failing.clone().unwrap_or_default();
            return Err(AuditError::Backlog(why, st.pending.len()));
        }
        row.rehash(st.head.seq + 1, st.head.hash);
        st.head = Head {
            seq: row.seq,
            hash: row.hash,
        };
        let seq = row.seq;
        st.pending.push(row);
        if st.pending.len() >= FLUSH_BATCH {
            sh.wake.notify_one();
        }
        Ok(seq)
    }

    /// [`Audit::record`] for hooks: an error is logged, not returned (auditing must not
    /// turn a viewer away; a failing audit database is logged loudly instead).
    pub fn note(&self, e: Event) {
        let action = e.action;
        if let Err(err) = self.record(e) {
            error!(action, error = %err, "could not record an audit event");
        }
    }

    /// The chain's head, including events not yet committed.
    pub fn head(&self) -> (u64, [u8; 32]) {
        let h = lock(&self.inner.shared.state).head;
        (h.seq, h.hash)
    }

    /// Commits every queued event now; returns the committed head.
    pub fn flush(&self) -> Result<Head, AuditError> {
        self.inner.shared.commit(SealMode::No).map(|(h, _)| h)
    }

    /// Commits every queued event and seals the head (even if it was sealed before).
    pub fn seal(&self) -> Result<Seal, AuditError> {
        let (_, seal) = self.inner.shared.commit(SealMode::Always)?;
        Ok(seal.expect("SealMode::Always seals"))
    }

    /// The recorder key that signs this trail's seals (evidence packages sign with it too).
    pub fn key(&self) -> RecorderKey {
        self.inner.shared.key.clone()
    }

    /// The public key that verifies this trail's seals (SPKI PEM).
    pub fn public_pem(&self) -> String {
        self.inner.shared.key.public_pem()
    }

    /// Events matching `filter`, newest first (committing the queue first).
    pub fn query(&self, filter: &Filter) -> Result<Vec<StoredEvent>, AuditError> {
        self.flush()?;
        let conn = lock(&self.inner.shared.conn);
        query_conn(&conn, filter)
    }

    /// Writes the events matching `filter` as CSV (oldest first); returns the row count.
    pub fn write_csv(
        &self,
        filter: &Filter,
        out: &mut impl std::io::Write,
    ) -> Result<u64, AuditError> {
        let mut rows = self.query(filter)?;
        rows.reverse();
        crate::query::csv_rows(&rows, out)
    }

    /// Commits everything, seals the head (when it moved since the last seal) and stops the
    /// background thread. Later [`Audit::record`]s fail with [`AuditError::Closed`].
    /// Calling it again does nothing.
    pub fn close(&self) -> Result<(), AuditError> {
        self.inner.close()
    }
}

impl Handle {
    fn close(&self) -> Result<(), AuditError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut st = lock(&self.shared.state);
            st.stop = true;
            self.shared.wake.notify_all();
        }
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
        let (head, seal) = self.shared.commit(SealMode::IfMoved)?;
        info!(
            seq = head.seq,
            sealed = seal.is_some(),
            "audit trail closed"
        );
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            error!(error = %e, "closing the audit trail failed");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SealMode {
    No,
    IfMoved,
    Always,
}

/// The background thread: commits every [`FLUSH_INTERVAL`] (sooner when a batch is full)
/// and seals every [`SEAL_INTERVAL`]; ends when the trail closes.
fn committer(sh: Arc<Shared>) {
    let mut last_seal = Instant::now();
    loop {
        {
            let st = lock(&sh.state);
            let (st, _) = sh
                .wake
                .wait_timeout_while(st, FLUSH_INTERVAL, |s| {
                    !s.stop && s.pending.len() < FLUSH_BATCH
                })
                .unwrap_or_else(|p| p.into_inner());
            if st.stop {
                return;
            }
        }
        let mode = if last_seal.elapsed() >= SEAL_INTERVAL {
            last_seal = Instant::now();
            SealMode::IfMoved
        } else {
            SealMode::No
        };
        if let Err(e) = sh.commit(mode) {
            // Logged once per failure streak; the rows stay queued and are retried.
            let mut st = lock(&sh.state);
            if st.failing.is_none() {
                error!(error = %e, "cannot commit audit events; retrying");
            }
            st.failing = Some(e.to_string());
            drop(st);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Shared {
    /// Commits the queue in one transaction (re-chaining it if another process appended
    /// meanwhile) and seals per `mode`. On failure the rows go back to the queue's front.
    fn commit(&self, mode: SealMode) -> Result<(Head, Option<Seal>), AuditError> {
        let mut conn = lock(&self.conn);
        let mut batch = std::mem::take(&mut lock(&self.state).pending);
        match write_batch(&mut conn, &mut batch, mode, &self.key) {
            Ok((head, seal, rechained)) => {
                let mut st = lock(&self.state);
                st.failing = None;
                if rechained {
                    // Rows queued meanwhile were chained on the old head: re-chain them.
                    let mut prev = head;
                    for r in st.pending.iter_mut() {
                        r.rehash(prev.seq + 1, prev.hash);
                        prev = Head {
                            seq: r.seq,
                            hash: r.hash,
                        };
                    }
                    st.head = prev;
                }
                Ok((head, seal))
            }
            Err(e) => {
                let mut st = lock(&self.state);
                batch.append(&mut st.pending);
                st.pending = batch;
                Err(e)
            }
        }
    }
}

/// One transaction: appends `batch` after the database's tail and optionally seals.
/// Returns the committed head, the seal, and whether the batch had to be re-chained.
fn write_batch(
    conn: &mut Connection,
    batch: &mut [Row],
    mode: SealMode,
    key: &RecorderKey,
) -> Result<(Head, Option<Seal>, bool), AuditError> {
    if batch.is_empty() && mode == SealMode::No {
        return Ok((read_tail(conn)?, None, false));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("starting an audit commit")?;
    let tail = read_tail(&tx)?;
    let mut rechained = false;
    if let Some(first) = batch.first() {
        if first.seq != tail.seq + 1 || first.prev != tail.hash {
            warn!(
                expected = first.seq,
                actual = tail.seq + 1,
                "another process appended audit events; re-chaining the queued ones"
            );
            let mut prev = tail;
            for r in batch.iter_mut() {
                r.rehash(prev.seq + 1, prev.hash);
                prev = Head {
                    seq: r.seq,
                    hash: r.hash,
                };
            }
            rechained = true;
        }
    }
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO audit_event (seq, time, actor, action, target, detail, client, \
                 prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .ctx("preparing the audit insert")?;
        for r in batch.iter() {
            stmt.execute(params![
                r.seq as i64,
                r.time_ms,
                r.actor,
                r.action,
                r.target,
                r.detail,
                r.client,
                &r.prev[..],
                &r.hash[..],
            ])
            .ctx("inserting an audit event")?;
        }
    }
    let head = batch.last().map_or(tail, |r| Head {
        seq: r.seq,
        hash: r.hash,
    });
    let mut seal = None;
    if mode != SealMode::No {
        let last: Option<(i64, i64)> = tx
            .query_row(
                "SELECT id, seq FROM audit_seal ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx("reading the last seal")?;
        let moved = last.is_none_or(|(_, s)| s as u64 != head.seq);
        if mode == SealMode::Always || (moved && head.seq > 0) {
            let id = last.map_or(1, |(id, _)| id as u64 + 1);
            let time_ms = now_ms();
            let signature = key.sign(&chain::seal_bytes(id, head.seq, &head.hash, time_ms));
            tx.execute(
                "INSERT INTO audit_seal (id, seq, hash, time, signature) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id as i64,
                    head.seq as i64,
                    &head.hash[..],
                    time_ms,
                    &signature[..]
                ],
            )
            .ctx("inserting a seal")?;
            debug!(id, seq = head.seq, "audit chain sealed");
            seal = Some(Seal {
                id,
                seq: head.seq,
                hash: head.hash,
                time_ms,
                signature,
            });
        }
    }
    tx.commit().ctx("committing audit events")?;
    Ok((head, seal, rechained))
}
