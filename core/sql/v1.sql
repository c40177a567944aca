-- Schema version 1: walks, their fixes and simplified tracks, records, boundaries, meta.
-- Times are ms since the Unix epoch (UTC) with the device's UTC offset in seconds beside them.
-- Sync metadata lives in the rows: `hlc` (hybrid logical clock of the last change),
-- `field_clocks` (per editable field), `pending` (changed since the team acknowledged it),
-- `deleted` (tombstone). Code writes them, never triggers.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE boundaries (
    kind    TEXT PRIMARY KEY NOT NULL CHECK (kind IN ('buurt', 'wijk')),
    geojson TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE walks (
    id               TEXT PRIMARY KEY NOT NULL,
    author_id        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'ended', 'submitted')),
    started_ms       INTEGER NOT NULL,
    started_offset_s INTEGER NOT NULL,
    ended_ms         INTEGER,
    ended_offset_s   INTEGER,
    details          TEXT NOT NULL,
    pauses           TEXT NOT NULL DEFAULT '[]',
    summary          TEXT,
    buurten          TEXT NOT NULL DEFAULT '[]',
    hlc              TEXT NOT NULL,
    field_clocks     TEXT NOT NULL DEFAULT '{}',
    reviewed_ms      INTEGER,
    pending          INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX walks_by_start ON walks (started_ms);
CREATE INDEX walks_active ON walks (status) WHERE status = 'active';

CREATE TABLE fixes (
    walk_id    TEXT NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    at_ms      INTEGER NOT NULL,
    lat        REAL NOT NULL,
    lon        REAL NOT NULL,
    accuracy_m REAL NOT NULL,
    source     TEXT NOT NULL,
    flags      INTEGER NOT NULL
);
CREATE INDEX fixes_by_walk ON fixes (walk_id, at_ms);

CREATE TABLE walk_tracks (
    walk_id TEXT PRIMARY KEY NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    points  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE records (
    id               TEXT PRIMARY KEY NOT NULL,
    walk_id          TEXT NOT NULL REFERENCES walks (id),
    kind             TEXT NOT NULL CHECK (kind IN ('observation', 'conversation', 'signal')),
    author_id        TEXT NOT NULL,
    created_ms       INTEGER NOT NULL,
    created_offset_s INTEGER NOT NULL,
    location         TEXT NOT NULL CHECK (location IN ('fix', 'inherited', 'none')),
    lat              REAL,
    lon              REAL,
    accuracy_m       REAL,
    fix_ms           INTEGER,
    source           TEXT,
    buurt            TEXT,
    wijk             TEXT,
    sensitive        INTEGER NOT NULL DEFAULT 0,
    body             TEXT,
    hlc              TEXT NOT NULL,
    field_clocks     TEXT NOT NULL DEFAULT '{}',
    reviewed_ms      INTEGER,
    deleted          INTEGER NOT NULL DEFAULT 0,
    pending          INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX records_by_walk ON records (walk_id, created_ms, id);
CREATE INDEX records_by_time ON records (created_ms, id);
CREATE INDEX records_by_buurt ON records (buurt, created_ms, id) WHERE buurt IS NOT NULL;
CREATE INDEX records_by_lat ON records (lat) WHERE lat IS NOT NULL;
CREATE INDEX records_pending ON records (pending) WHERE pending = 1;
