-- govern's tables in the shared database (vigil.db). The store owns PRAGMA user_version;
-- govern keeps its own schema version in `govern_schema`.

CREATE TABLE user (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('administrator', 'leadership', 'guard', 'viewer')),
    -- PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash
    password_hash TEXT NOT NULL,
    lang          TEXT NOT NULL DEFAULT 'vi',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,   -- Unix seconds
    updated_at    INTEGER NOT NULL
);

CREATE TABLE session (
    -- SHA-256 (hex) of the 32-byte random token; the token itself is never stored.
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    -- Absolute end of the session (created_at + the maximum session length).
    expires_at  INTEGER NOT NULL
);
CREATE INDEX session_user ON session(user_id);

-- Failed logins, per typed user name (whether or not such a user exists) and client address.
CREATE TABLE login_failure (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL COLLATE NOCASE,
    client_addr TEXT NOT NULL,
    time        INTEGER NOT NULL
);
CREATE INDEX login_failure_user ON login_failure(username, time);
CREATE INDEX login_failure_addr ON login_failure(client_addr, time);

-- Who acknowledged which alarm, and when. Alarm keys are made by the health page and
-- identify one occurrence of a condition (e.g. one outage of one camera).
CREATE TABLE alarm_ack (
    alarm_key TEXT PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES user(id),
    acked_at  INTEGER NOT NULL
);
