-- The rights model: roles are named sets of scoped rights (rows, editable in the UI), users
-- hold any number of roles; requests for footage, their decisions, the grants an approval
-- creates, and the exports performed. Preset roles are inserted by the program (govern's
-- `rights::PRESETS`) when this migration runs, and existing users get the preset matching
-- their former single role (administrator → it, leadership, guard, viewer).

-- The zone (department, area) a user belongs to: the scope "own_zone" means cameras whose
-- zone equals it (a department head sees their own zone).
ALTER TABLE user ADD COLUMN zone TEXT;

CREATE TABLE role (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    -- The preset it was created from ('leadership', 'guard', …), NULL for a custom role.
    preset      TEXT,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE role_right (
    id          INTEGER PRIMARY KEY,
    role_id     INTEGER NOT NULL REFERENCES role(id) ON DELETE CASCADE,
    right_name  TEXT NOT NULL,
    -- 'all' | 'own_zone' | 'zone:<name>' | 'camera:<id>'
    scope       TEXT NOT NULL,
    -- playback_recent only: how far back (seconds).
    window_secs INTEGER,
    UNIQUE (role_id, right_name, scope)
);

CREATE TABLE user_role (
    user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES role(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

-- A written request for footage (R4). Times of the window are 90 kHz wall ticks; other
-- times are Unix seconds.
CREATE TABLE request (
    id               INTEGER PRIMARY KEY,
    requester_id     INTEGER NOT NULL REFERENCES user(id),
    purpose          TEXT NOT NULL CHECK (purpose IN
                        ('crime_prevention', 'violation', 'complaint', 'police', 'other')),
    purpose_other    TEXT NOT NULL DEFAULT '',
    reason           TEXT NOT NULL,
    start            INTEGER NOT NULL,
    "end"            INTEGER NOT NULL CHECK ("end" > start),
    want_export      INTEGER NOT NULL DEFAULT 1,
    want_hold        INTEGER NOT NULL DEFAULT 0,
    -- The scanned written request, stored under DATA/requests/<id>/<doc_file>.
    doc_file         TEXT NOT NULL,
    doc_mime         TEXT NOT NULL,
    doc_size         INTEGER NOT NULL,
    doc_sha256       TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at       INTEGER NOT NULL,
    decided_by       INTEGER REFERENCES user(id),
    decided_at       INTEGER,
    decision_comment TEXT,
    -- Grants of an approval end here.
    grant_expires_at INTEGER,
    -- The store's hold placed on approval, if any, and its release.
    hold_ids         TEXT,
    hold_released_at INTEGER,
    hold_released_by INTEGER REFERENCES user(id),
    CHECK (decided_by IS NULL OR decided_by <> requester_id)
);
CREATE INDEX request_status ON request(status, created_at);

CREATE TABLE request_camera (
    request_id INTEGER NOT NULL REFERENCES request(id) ON DELETE CASCADE,
    camera_id  INTEGER NOT NULL,
    PRIMARY KEY (request_id, camera_id)
);

-- What an approval allows a named person: view and/or export exactly these cameras and
-- times until `expires_at`.
CREATE TABLE access_grant (
    id         INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES request(id),
    user_id    INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
    camera_id  INTEGER NOT NULL,
    start      INTEGER NOT NULL,
    "end"      INTEGER NOT NULL,
    can_view   INTEGER NOT NULL,
    can_export INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by INTEGER NOT NULL REFERENCES user(id)
);
CREATE INDEX access_grant_user ON access_grant(user_id, expires_at);

-- Evidence packages made from approved requests.
CREATE TABLE export (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES request(id),
    operator_id INTEGER NOT NULL REFERENCES user(id),
    created_at  INTEGER NOT NULL,
    -- Directory of the package (absolute path).
    dir         TEXT NOT NULL
);
