-- The audit trail's tables in the shared database (vigil.db). The store owns PRAGMA
-- user_version, govern its `govern_schema`; the audit keeps its version in `audit_schema`.

-- One row per audited event. `hash` = SHA-256(prev_hash ‖ canonical bytes of the row)
-- (see audit::chain::row_hash); `prev_hash` of seq 1 is 32 zero bytes. Rows are only ever
-- appended: the triggers below refuse UPDATE and DELETE, and `audit verify` finds an edit,
-- a removal or an insertion made by someone who drops the triggers.
CREATE TABLE audit_event (
    seq       INTEGER PRIMARY KEY,   -- 1, 2, 3… without gaps
    time      INTEGER NOT NULL,      -- Unix milliseconds (UTC)
    actor     TEXT,                  -- user name; NULL for the system itself
    action    TEXT NOT NULL,         -- e.g. 'login.ok', 'live.view', 'export.create'
    target    TEXT NOT NULL,         -- what it was done to, e.g. 'camera:3', 'user:anna'
    detail    TEXT NOT NULL,         -- JSON
    client    TEXT,                  -- client address, when the event came over the network
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_event_time ON audit_event(time);
CREATE INDEX audit_event_actor ON audit_event(actor, time);
CREATE INDEX audit_event_action ON audit_event(action, time);

-- Seals: the recorder's Ed25519 signature over (id, seq, hash, time) of the chain head,
-- made every few minutes and at shutdown.
CREATE TABLE audit_seal (
    id        INTEGER PRIMARY KEY,   -- 1, 2, 3… without gaps
    seq       INTEGER NOT NULL,      -- the sealed event
    hash      BLOB NOT NULL,         -- that event's hash (the chain head)
    time      INTEGER NOT NULL,      -- Unix milliseconds
    signature BLOB NOT NULL          -- 64 bytes
);

CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_seal_no_update BEFORE UPDATE ON audit_seal
BEGIN SELECT RAISE(ABORT, 'audit seals are append-only'); END;
CREATE TRIGGER audit_seal_no_delete BEFORE DELETE ON audit_seal
BEGIN SELECT RAISE(ABORT, 'audit seals are append-only'); END;
