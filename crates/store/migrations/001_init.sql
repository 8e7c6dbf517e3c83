-- store's schema, version 1. Applied by `db::migrate` inside one transaction; the schema
-- version is SQLite's `PRAGMA user_version`. Times: `*_at` columns are Unix seconds (UTC);
-- footage times (`start`, `end`, hold windows) are 90 kHz ticks since the Unix epoch.

-- A camera's configuration. "Removing" a camera only sets `removed_at` (its footage stays
-- until retention takes it), so names are unique among cameras that are not removed.
CREATE TABLE camera (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    main_url      TEXT    NOT NULL,
    sub_url       TEXT,
    username      TEXT,
    password      TEXT,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    zone          TEXT,
    department    TEXT,
    schedule_json TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    removed_at    INTEGER
) STRICT;
CREATE UNIQUE INDEX camera_name ON camera (name) WHERE removed_at IS NULL;

-- One row per recorded stream of a camera, with its retention plan.
-- `quota_bytes` = 0 means "no byte quota" (only max_days applies).
-- `next_seq` is the sequence number the next segment of this stream gets.
CREATE TABLE stream (
    id          INTEGER PRIMARY KEY,
    camera_id   INTEGER NOT NULL REFERENCES camera (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('main', 'sub')),
    record      INTEGER NOT NULL DEFAULT 1 CHECK (record IN (0, 1)),
    quota_bytes INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
    min_days    INTEGER NOT NULL DEFAULT 20 CHECK (min_days >= 1),
    max_days    INTEGER NOT NULL DEFAULT 30 CHECK (max_days >= min_days),
    next_seq    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (camera_id, kind)
) STRICT;

-- Distinct video parameters (the ISO BMFF sample entry box), stored once.
CREATE TABLE sample_entry (
    id      INTEGER PRIMARY KEY,
    codec   TEXT    NOT NULL,
    width   INTEGER NOT NULL,
    height  INTEGER NOT NULL,
    rfc6381 TEXT    NOT NULL,
    data    BLOB    NOT NULL UNIQUE
) STRICT;

-- One fMP4 file of about a minute. Written by the consistency protocol: the row is inserted
-- as 'writing' before the file exists, and becomes 'closed' (with its index, hash and chain
-- value) only after the file and its directory are fsynced.
-- chain = SHA-256(prev_chain || stream_id || seq || start || end || bytes || file_sha256).
CREATE TABLE segment (
    id              INTEGER PRIMARY KEY,
    stream_id       INTEGER NOT NULL REFERENCES stream (id),
    seq             INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('writing', 'closed')),
    path            TEXT    NOT NULL UNIQUE,
    start           INTEGER NOT NULL,
    "end"           INTEGER,
    bytes           INTEGER,
    frames          INTEGER,
    sample_entry_id INTEGER NOT NULL REFERENCES sample_entry (id),
    fragments       BLOB,
    file_sha256     BLOB,
    prev_chain      BLOB,
    chain           BLOB,
    UNIQUE (stream_id, seq)
) STRICT;
CREATE INDEX segment_stream_start ON segment (stream_id, start);

-- A deletion by retention: segments from_seq..=up_to_seq of a stream (those that were not
-- held) were deleted on purpose. `chain_at_cut` is the chain value of segment up_to_seq, so
-- the chain can still be verified across the cut.
CREATE TABLE retention_cut (
    id           INTEGER PRIMARY KEY,
    stream_id    INTEGER NOT NULL REFERENCES stream (id),
    from_seq     INTEGER NOT NULL,
    up_to_seq    INTEGER NOT NULL,
    chain_at_cut BLOB    NOT NULL,
    segments     INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    start        INTEGER NOT NULL,
    "end"        INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (stream_id, up_to_seq)
) STRICT;

-- Files to unlink: a row is committed before the unlink and removed after it.
CREATE TABLE garbage (
    path      TEXT    PRIMARY KEY,
    stream_id INTEGER
) STRICT;

-- Evidence holds: footage of a camera (all its streams) or of one stream in [start, end)
-- is kept past quota and max_days until the hold is released.
CREATE TABLE hold (
    id          INTEGER PRIMARY KEY,
    camera_id   INTEGER REFERENCES camera (id),
    stream_id   INTEGER REFERENCES stream (id),
    start       INTEGER NOT NULL,
    "end"       INTEGER NOT NULL CHECK ("end" > start),
    reason      TEXT    NOT NULL,
    request_ref TEXT,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    released_at INTEGER,
    released_by TEXT,
    CHECK ((camera_id IS NULL) <> (stream_id IS NULL))
) STRICT;

-- Server settings (e.g. the total storage quota), key/value.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
