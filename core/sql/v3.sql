-- Schema version 3: ids are stored as their 16 bytes (BLOB) instead of 36 characters of text,
-- and the latitude index becomes an index of latitude bands.
-- Every row and index entry holding an id shrinks; a fresh phone's initial sync writes about
-- a fifth faster (docs/adr/0004). SQLite cannot change a column's type, so the four tables
-- with ids are rebuilt: new table, copy (unhex of the UUID's hex digits), drop, rename, indexes.
-- Run with foreign keys off and checked before commit (schema.rs), as SQLite documents.

CREATE TABLE walks_v3 (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    author_id        BLOB NOT NULL CHECK (length(author_id) = 16),
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
    pending          INTEGER NOT NULL DEFAULT 1,
    review           TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO walks_v3
SELECT unhex(id, '-'), unhex(author_id, '-'), status, started_ms, started_offset_s, ended_ms, ended_offset_s,
       details, pauses, summary, buurten, hlc, field_clocks, reviewed_ms, pending, review
FROM walks;

CREATE TABLE fixes_v3 (
    walk_id    BLOB NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    at_ms      INTEGER NOT NULL,
    lat        REAL NOT NULL,
    lon        REAL NOT NULL,
    accuracy_m REAL NOT NULL,
    source     TEXT NOT NULL,
    flags      INTEGER NOT NULL
);
INSERT INTO fixes_v3 SELECT unhex(walk_id, '-'), at_ms, lat, lon, accuracy_m, source, flags FROM fixes ORDER BY rowid;

CREATE TABLE walk_tracks_v3 (
    walk_id BLOB PRIMARY KEY NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    points  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO walk_tracks_v3 SELECT unhex(walk_id, '-'), points FROM walk_tracks;

CREATE TABLE records_v3 (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    walk_id          BLOB NOT NULL REFERENCES walks (id),
    kind             TEXT NOT NULL CHECK (kind IN ('observation', 'conversation', 'signal')),
    author_id        BLOB NOT NULL CHECK (length(author_id) = 16),
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
    pending          INTEGER NOT NULL DEFAULT 1,
    review           TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO records_v3
SELECT unhex(id, '-'), unhex(walk_id, '-'), kind, unhex(author_id, '-'), created_ms, created_offset_s, location,
       lat, lon, accuracy_m, fix_ms, source, buurt, wijk, sensitive, body, hlc, field_clocks, reviewed_ms,
       deleted, pending, review
FROM records ORDER BY rowid;

DROP TABLE records;
DROP TABLE walk_tracks;
DROP TABLE fixes;
DROP TABLE walks;
ALTER TABLE walks_v3 RENAME TO walks;
ALTER TABLE fixes_v3 RENAME TO fixes;
ALTER TABLE walk_tracks_v3 RENAME TO walk_tracks;
ALTER TABLE records_v3 RENAME TO records;

CREATE INDEX walks_by_start ON walks (started_ms);
CREATE INDEX walks_active ON walks (status) WHERE status = 'active';
CREATE INDEX fixes_by_walk ON fixes (walk_id, at_ms);
CREATE INDEX records_by_walk ON records (walk_id, created_ms, id);
CREATE INDEX records_by_time ON records (created_ms, id);
CREATE INDEX records_by_buurt ON records (buurt, created_ms, id) WHERE buurt IS NOT NULL;
-- Replaces the index on `lat`: records arrive in time order but at random latitudes, so that
-- index took writes all over its B-tree (a third of an initial sync's time). Bands of 0.01°
-- (about 1.1 km) keep the inserts at a few spots; `records_near` scans the bands it needs.
CREATE INDEX records_by_band ON records (CAST(lat * 100 AS INTEGER), created_ms) WHERE lat IS NOT NULL;
CREATE INDEX records_pending ON records (pending) WHERE pending = 1;
