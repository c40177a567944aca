-- Schema version 6: photos of observations and signals (issue 13). The core cleans each photo
-- of its metadata before it is stored (core/src/photo.rs); the bytes live here, in the
-- encrypted database, and go with their record: deleted with it (the foreign key), and
-- when it becomes a tombstone (the trigger). `bytes` is NULL for a photo this phone knows of
-- but does not hold (another member's, not fetched, or evicted under the storage cap);
-- `uploaded` counts the bytes the team server has confirmed, where an upload resumes.
CREATE TABLE photos (
    id        BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    record_id BLOB NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL CHECK (position >= 0),
    sha256    BLOB NOT NULL CHECK (length(sha256) = 32),
    size      INTEGER NOT NULL CHECK (size > 0),
    width     INTEGER NOT NULL CHECK (width > 0),
    height    INTEGER NOT NULL CHECK (height > 0),
    added_ms  INTEGER NOT NULL,
    bytes     BLOB CHECK (bytes IS NULL OR length(bytes) = size),
    uploaded  INTEGER NOT NULL DEFAULT 0 CHECK (uploaded BETWEEN 0 AND size),
    -- Why the team server refused the photo (its error code), after which this phone stops
    -- offering it; NULL while it may still go.
    refused   TEXT,
    UNIQUE (record_id, position)
);
CREATE TRIGGER photos_go_with_their_record AFTER UPDATE OF deleted ON records WHEN NEW.deleted = 1
BEGIN
    DELETE FROM photos WHERE record_id = NEW.id;
END;
