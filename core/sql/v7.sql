-- Schema version 7: thumbnails, and a cap on what this phone keeps of other members' photos
-- (issue 13).
-- A thumbnail the team server made of a photo (long edge at most 320 px), pulled with the
-- feed for the team's recent records and checked by the core's cleaner like any photo; gone
-- with its photo (and so with its record, on deletion, withdrawal or purge).
CREATE TABLE photo_thumbnails (
    photo_id BLOB PRIMARY KEY NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    bytes    BLOB NOT NULL,
    kept_ms  INTEGER NOT NULL
);
-- When another member's photo was fetched: past the phone's cap the oldest fetched photos and
-- thumbnails go first (fetched again on demand). NULL: this phone's own photo, never dropped.
ALTER TABLE photo_bytes ADD COLUMN fetched_ms INTEGER;
