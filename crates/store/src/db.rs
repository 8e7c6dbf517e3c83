//! The database: opening, migrations, and the SQL shared by the writer, recovery and
//! retention (segment closing, chain values, the garbage protocol).
//!
//! Durability: the database runs in WAL mode with `synchronous=FULL`, so a committed
//! transaction survives power loss. The consistency protocol depends on that: a segment is
//! 'closed' in the index only after its file is fsynced, and a garbage row is committed
//! before its file is unlinked. Commits are rare (a few per segment, i.e. per minute and
//! stream), so FULL costs nothing measurable; NORMAL could lose the last commits at power
//! loss, which recovery would then redo from the files, but we prefer the simpler invariant.

use std::fs::File;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use crate::error::{DbContext, Error, IoContext};
use crate::StreamId;

/// The migrations, in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/001_init.sql")];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The chain value before a stream's first segment.
pub const GENESIS: [u8; 32] = [0; 32];

pub(crate) fn open(path: &Path) -> Result<Connection, Error> {
    let mut conn = Connection::open(path).ctx(|| format!("opening database {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .ctx(|| "setting busy timeout".into())?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .ctx(|| format!("configuring database {}", path.display()))?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(|| "reading schema version".into())?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        let tx = conn.transaction().ctx(|| "starting migration".into())?;
        tx.execute_batch(sql)
            .ctx(|| format!("applying migration to schema version {version}"))?;
        tx.pragma_update(None, "user_version", version)
            .ctx(|| "updating schema version".into())?;
        tx.commit()
            .ctx(|| format!("committing schema version {version}"))?;
        tracing::info!(version, db = %path.display(), "database schema migrated");
    }
    Ok(())
}

/// Unix seconds now, for `*_at` columns.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The chain value of a segment.
pub fn chain_value(
    prev: &[u8; 32],
    stream_id: StreamId,
    seq: i64,
    start: i64,
    end: i64,
    bytes: u64,
    file_sha256: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(stream_id.to_be_bytes());
    h.update(seq.to_be_bytes());
    h.update(start.to_be_bytes());
    h.update(end.to_be_bytes());
    h.update(bytes.to_be_bytes());
    h.update(file_sha256);
    h.finalize().into()
}

pub(crate) fn blob32(v: Option<Vec<u8>>) -> Option<[u8; 32]> {
    v.and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
}

/// The chain value that segment `seq` of a stream follows: that of segment `seq - 1`, or
/// the value recorded by the retention cut that deleted it, or [`GENESIS`] for the first.
/// `None` when seq − 1 vanished without a record (someone removed rows).
pub(crate) fn expected_prev_chain(
    conn: &Connection,
    stream_id: StreamId,
    seq: i64,
) -> Result<Option<[u8; 32]>, Error> {
    if seq <= 1 {
        return Ok(Some(GENESIS));
    }
    let row: Option<Option<Vec<u8>>> = conn
        .query_row(
            "SELECT chain FROM segment WHERE stream_id = ?1 AND seq = ?2",
            params![stream_id, seq - 1],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| format!("reading chain of stream {stream_id} segment {}", seq - 1))?;
    if let Some(chain) = row {
        return Ok(blob32(chain));
    }
    let cut: Option<Vec<u8>> = conn
        .query_row(
            "SELECT chain_at_cut FROM retention_cut WHERE stream_id = ?1 AND up_to_seq = ?2",
            params![stream_id, seq - 1],
            |r| r.get(0),
        )
        .optional()
        .ctx(|| format!("reading retention cut of stream {stream_id}"))?;
    Ok(blob32(cut))
}

/// What closing a segment writes into its row.
pub(crate) struct Closing<'a> {
    pub id: i64,
    pub stream_id: StreamId,
    pub seq: i64,
    pub start: i64,
    pub end: i64,
    pub bytes: u64,
    pub frames: u64,
    pub fragments: &'a [u8],
    pub file_sha256: [u8; 32],
}

/// Marks a 'writing' segment 'closed' with its index, hash and chain value, in one
/// transaction. The file must already be fsynced.
pub(crate) fn close_segment(conn: &mut Connection, c: &Closing<'_>) -> Result<[u8; 32], Error> {
    let tx = conn
        .transaction()
        .ctx(|| format!("closing segment {} of stream {}", c.seq, c.stream_id))?;
    let prev = match expected_prev_chain(&tx, c.stream_id, c.seq)? {
        Some(p) => p,
        None => {
            // The previous segment's row is gone without a retention record. Chain on the
            // newest closed segment before this one, so the gap shows up in verification
            // (as ChainBroken at that place), and keep recording.
            tracing::warn!(
                stream = c.stream_id,
                seq = c.seq,
                "segment {} has no index row and no retention record; the chain will show the gap",
                c.seq - 1
            );
            let v: Option<Option<Vec<u8>>> = tx
                .query_row(
                    "SELECT chain FROM segment WHERE stream_id = ?1 AND seq < ?2 \
                     AND state = 'closed' ORDER BY seq DESC LIMIT 1",
                    params![c.stream_id, c.seq],
                    |r| r.get(0),
                )
                .optional()
                .ctx(|| "reading previous chain value".into())?;
            blob32(v.flatten()).unwrap_or(GENESIS)
        }
    };
    let chain = chain_value(
        &prev,
        c.stream_id,
        c.seq,
        c.start,
        c.end,
        c.bytes,
        &c.file_sha256,
    );
    let n = tx
        .execute(
            "UPDATE segment SET state = 'closed', \"end\" = ?2, bytes = ?3, frames = ?4, \
             fragments = ?5, file_sha256 = ?6, prev_chain = ?7, chain = ?8 \
             WHERE id = ?1 AND state = 'writing'",
            params![
                c.id,
                c.end,
                c.bytes as i64,
                c.frames as i64,
                c.fragments,
                &c.file_sha256[..],
                &prev[..],
                &chain[..],
            ],
        )
        .ctx(|| format!("closing segment {} of stream {}", c.seq, c.stream_id))?;
    if n != 1 {
        tracing::warn!(
            stream = c.stream_id,
            seq = c.seq,
            "segment row was not 'writing' when closing it"
        );
    }
    tx.commit()
        .ctx(|| format!("committing segment {} of stream {}", c.seq, c.stream_id))?;
    Ok(chain)
}

/// Garbage protocol, step 1 (inside the caller's transaction): records the file for
/// unlinking. The caller deletes the row it belonged to in the same transaction.
pub(crate) fn add_garbage(
    tx: &Transaction<'_>,
    rel_path: &str,
    stream_id: StreamId,
) -> Result<(), Error> {
    tx.execute(
        "INSERT OR IGNORE INTO garbage (path, stream_id) VALUES (?1, ?2)",
        params![rel_path, stream_id],
    )
    .ctx(|| format!("recording {rel_path} as garbage"))?;
    Ok(())
}

/// Garbage protocol, step 2 (after the commit): unlinks every file in `garbage`, fsyncs
/// their directories, then deletes the rows. Returns the number of files handled. Files
/// that cannot be unlinked (other than already missing) stay listed for the next try.
pub(crate) fn collect_garbage(conn: &Connection, root: &Path) -> Result<usize, Error> {
    let rows: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT path FROM garbage")
            .ctx(|| "listing garbage".into())?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .ctx(|| "listing garbage".into())?;
        rows.collect::<Result<_, _>>()
            .ctx(|| "listing garbage".into())?
    };
    let mut dirs = std::collections::BTreeSet::new();
    let mut done = Vec::with_capacity(rows.len());
    for rel in rows {
        let p = root.join(&rel);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(path = %p.display(), error = %e, "cannot delete file; will retry");
                continue;
            }
        }
        if let Some(d) = p.parent() {
            dirs.insert(d.to_owned());
        }
        done.push(rel);
    }
    for d in &dirs {
        if d.exists() {
            fsync_dir(d)?;
        }
    }
    let mut stmt = conn
        .prepare_cached("DELETE FROM garbage WHERE path = ?1")
        .ctx(|| "deleting garbage rows".into())?;
    for rel in &done {
        stmt.execute([rel])
            .ctx(|| format!("deleting garbage row {rel}"))?;
    }
    Ok(done.len())
}

/// fsyncs a directory so that entries created or removed in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .io_ctx("fsync directory", dir)
}

/// Finds or inserts the sample entry of `params`, returning its id.
pub(crate) fn sample_entry_id(
    conn: &Connection,
    params: &media::VideoParams,
) -> Result<i64, Error> {
    conn.execute(
        "INSERT OR IGNORE INTO sample_entry (codec, width, height, rfc6381, data) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            params.codec.as_str(),
            params.width,
            params.height,
            params.rfc6381,
            params.sample_entry
        ],
    )
    .ctx(|| format!("storing video parameters {}", params.rfc6381))?;
    conn.query_row(
        "SELECT id FROM sample_entry WHERE data = ?1",
        [&params.sample_entry],
        |r| r.get(0),
    )
    .ctx(|| format!("looking up video parameters {}", params.rfc6381))
}

/// Loads a sample entry as [`media::VideoParams`].
pub(crate) fn load_params(conn: &Connection, id: i64) -> Result<media::VideoParams, Error> {
    conn.query_row(
        "SELECT codec, width, height, rfc6381, data FROM sample_entry WHERE id = ?1",
        [id],
        |r| {
            let codec: String = r.get(0)?;
            Ok(media::VideoParams {
                codec: if codec == "h265" {
                    media::Codec::H265
                } else {
                    media::Codec::H264
                },
                width: r.get(1)?,
                height: r.get(2)?,
                rfc6381: r.get(3)?,
                sample_entry: r.get(4)?,
            })
        },
    )
    .ctx(|| format!("loading video parameters {id}"))
}
