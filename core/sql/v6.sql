-- Schema version 6: photos of observations and signals (issue 13). The core cleans each photo
-- of its metadata before it is stored (core/src/photo.rs); the bytes live in the encrypted
-- database and go with their record: deleted with it (the foreign keys), and when it becomes
-- a tombstone (the trigger).
-- `uploaded` counts the bytes the team server has confirmed, where an upload resumes;
-- `refused` is the server's reason code, after which this phone stops offering the photo.
CREATE TABLE photos (
    id        BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    record_id BLOB NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL CHECK (position >= 0),
    sha256    BLOB NOT NULL CHECK (length(sha256) = 32),
    size      INTEGER NOT NULL CHECK (size > 0),
    width     INTEGER NOT NULL CHECK (width > 0),
    height    INTEGER NOT NULL CHECK (height > 0),
    added_ms  INTEGER NOT NULL,
    uploaded  INTEGER NOT NULL DEFAULT 0 CHECK (uploaded BETWEEN 0 AND size),
    refused   TEXT,
    UNIQUE (record_id, position)
);
-- The bytes apart from the description: SQLite rewrites a whole row on every update, and an
-- upload's progress changes with every chunk (in one table, each chunk re-encrypted the photo).
-- No row: a photo this phone knows of but does not hold (another member's, not fetched).
CREATE TABLE photo_bytes (
    photo_id BLOB PRIMARY KEY NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    bytes    BLOB NOT NULL
);
CREATE TRIGGER photos_go_with_their_record AFTER UPDATE OF deleted ON records WHEN NEW.deleted = 1
BEGIN
    DELETE FROM photos WHERE record_id = NEW.id;
END;
