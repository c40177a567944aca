//! Photos in the store: cleaned of their metadata first (`crate::photo`), kept as blobs in the
//! encrypted database, removed with their record (schema v6's foreign key and trigger).

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::records::load_record;
use super::{hex, Store};
use crate::error::{Error, Result};
use crate::id::{PhotoId, RecordId};
use crate::photo::{clean_jpeg, CleanPhoto, Photo, PhotoLimits, MAX_PHOTOS_PER_RECORD};
use crate::record::RecordKind;

const PHOTO_COLUMNS: &str = "id, record_id, position, width, height, size, sha256, added_ms,
     EXISTS (SELECT 1 FROM photo_bytes b WHERE b.photo_id = photos.id), uploaded, refused";
/// The photos this phone holds and the team server does not hold whole, and has not refused.
const TO_UPLOAD: &str = "uploaded < size AND refused IS NULL
     AND EXISTS (SELECT 1 FROM photo_bytes b WHERE b.photo_id = photos.id)";

fn photo_from_row(r: &rusqlite::Row) -> rusqlite::Result<Photo> {
    let sha: Vec<u8> = r.get(6)?;
    Ok(Photo {
        id: r.get(0)?,
        record_id: r.get(1)?,
        position: r.get(2)?,
        width: r.get(3)?,
        height: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        sha256: hex(&sha),
        added_ms: r.get(7)?,
        on_phone: r.get(8)?,
        uploaded_bytes: r.get::<_, i64>(9)? as u64,
        upload_refused: r.get(10)?,
    })
}

fn load_photos(conn: &Connection, record: &RecordId) -> Result<Vec<Photo>> {
    let mut st =
        conn.prepare_cached(&format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE record_id = ?1 ORDER BY position"))?;
    let photos = st.query_map([record], photo_from_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(photos)
}

impl Store {
    /// Attaches a photo to one of this member's own observations or signals: `jpeg` as the
    /// shell encoded it (scaled, JPEG), cleaned of every metadata segment before anything is
    /// stored; refused with [`Error::Photo`] when it cannot be cleaned. A conversation carries
    /// no photos (the people in it are the residents a photo would show), a reviewed record's
    /// content is frozen, and a record carries at most [`MAX_PHOTOS_PER_RECORD`].
    pub fn attach_photo(&self, record: &RecordId, jpeg: &[u8]) -> Result<Photo> {
        self.guard()?;
        let me = self.require_identity()?;
        // Cleaned outside the writer's lock: a photo takes milliseconds, a user action waits.
        let CleanPhoto { bytes, width, height, .. } = clean_jpeg(jpeg, PhotoLimits::default())?;
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        self.write(|c| {
            let r = load_record(&c.tx, record)?;
            if r.author_id != me.member.id {
                return Err(Error::NotAuthor);
            }
            if r.body.kind() == RecordKind::Conversation {
                return Err(Error::invalid("photo", "a conversation carries no photos"));
            }
            if r.review.freezes_content(r.reviewed_ms) {
                return Err(Error::Reviewed);
            }
            let (count, next): (u32, u32) = c.tx.query_row(
                "SELECT count(*), coalesce(max(position) + 1, 0) FROM photos WHERE record_id = ?1",
                [record],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            if count >= MAX_PHOTOS_PER_RECORD {
                return Err(Error::invalid(
                    "photo",
                    format!("a record carries at most {MAX_PHOTOS_PER_RECORD} photos"),
                ));
            }
            let id = PhotoId::new();
            let now = c.now_ms();
            c.tx.prepare_cached(
                "INSERT INTO photos (id, record_id, position, sha256, size, width, height, added_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![id, record, next, &sha256[..], bytes.len() as i64, width, height, now])?;
            c.tx.prepare_cached("INSERT INTO photo_bytes (photo_id, bytes) VALUES (?1, ?2)")?
                .execute(params![id, bytes])?;
            let photo =
                c.tx.query_row(&format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE id = ?1"), [id], photo_from_row)?;
            Ok(photo)
        })
    }

    /// A record's photos, in order (without their bytes).
    pub fn photos(&self, record: &RecordId) -> Result<Vec<Photo>> {
        self.guard()?;
        self.read(|c| load_photos(c, record))
    }

    /// The cleaned JPEG of a photo this phone holds.
    pub fn photo_bytes(&self, id: &PhotoId) -> Result<Vec<u8>> {
        self.guard()?;
        self.read(|c| {
            c.query_row("SELECT bytes FROM photo_bytes WHERE photo_id = ?1", [id], |r| r.get(0))
                .optional()?
                .ok_or(Error::NotFound("photo"))
        })
    }

    /// Removes one of the member's own photos, bytes and all.
    pub fn remove_photo(&self, id: &PhotoId) -> Result<()> {
        self.guard()?;
        let me = self.require_identity()?;
        self.write(|c| {
            let record: RecordId =
                c.tx.query_row("SELECT record_id FROM photos WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?
                    .ok_or(Error::NotFound("photo"))?;
            let r = load_record(&c.tx, &record)?;
            if r.author_id != me.member.id {
                return Err(Error::NotAuthor);
            }
            if r.review.freezes_content(r.reviewed_ms) {
                return Err(Error::Reviewed);
            }
            c.tx.execute("DELETE FROM photos WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// This phone's photos the team server does not hold whole yet and has not refused, oldest
    /// first (the sync's last stage sends them).
    pub(crate) fn photos_to_upload(&self) -> Result<Vec<Photo>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {PHOTO_COLUMNS} FROM photos WHERE {TO_UPLOAD} ORDER BY added_ms, id"
            ))?;
            let photos = st.query_map([], photo_from_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(photos)
        })
    }

    /// This phone's photos still to reach the team server (for the sync status screen).
    pub fn photos_waiting(&self) -> Result<u32> {
        self.guard()?;
        self.read(|c| Ok(c.query_row(&format!("SELECT count(*) FROM photos WHERE {TO_UPLOAD}"), [], |r| r.get(0))?))
    }

    /// Where the team server says a photo's upload stands. Not made durable on its own (a
    /// power loss may forget a few chunks' progress: the server's answer to the next offer
    /// says where it stands), so a chunk costs the phone no fsync.
    pub(crate) fn set_photo_uploaded(&self, id: &PhotoId, received: u64) -> Result<()> {
        self.write_with(super::Durability::Replayable, |c| {
            c.tx.execute(
                "UPDATE photos SET uploaded = min(?2, size) WHERE id = ?1",
                params![id, received.min(i64::MAX as u64) as i64],
            )?;
            Ok(())
        })
    }

    /// The team server refused a photo for good (`code`): kept here, no longer offered.
    pub(crate) fn refuse_photo_upload(&self, id: &PhotoId, code: &str) -> Result<()> {
        let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
        self.write(|c| {
            c.tx.execute("UPDATE photos SET refused = ?2, uploaded = 0 WHERE id = ?1", params![id, code])?;
            Ok(())
        })
    }

    /// Takes the team server's listing of `records`' photos, in one transaction: each one this
    /// phone does not know, of a record it holds, is kept as known but not held (its bytes come
    /// with [`Store::fetch_photo`]). An empty listing writes nothing.
    pub(crate) fn take_photo_listing(
        &self,
        records: &[RecordId],
        listed: &[crate::sync::wire::PhotoRef],
    ) -> Result<()> {
        if listed.is_empty() {
            return Ok(());
        }
        self.write(|c| {
            let now = c.now_ms();
            for record in records {
                if load_record(&c.tx, record).is_err() {
                    continue;
                }
                let record_id = record.to_string();
                for p in listed.iter().filter(|p| p.record_id == record_id) {
                let (Ok(id), Ok(sha)) = (p.id.parse::<PhotoId>(), super::unhex(&p.sha256)) else { continue };
                c.tx.prepare_cached(
                    "INSERT OR IGNORE INTO photos (id, record_id, position, sha256, size, width, height, added_ms, uploaded)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?5)",
                )?
                .execute(params![id, record, p.position, sha, p.size as i64, p.width, p.height, now])?;
                }
            }
            Ok(())
        })
    }

    /// A photo's thumbnail, when this phone holds one (another member's photo, pulled with the
    /// feed or by [`Store::fetch_thumbnail`]; for its own photos the phone has the photo).
    pub fn photo_thumbnail(&self, id: &PhotoId) -> Result<Option<Vec<u8>>> {
        self.guard()?;
        self.read(|c| {
            Ok(c.query_row("SELECT bytes FROM photo_thumbnails WHERE photo_id = ?1", [id], |r| r.get(0)).optional()?)
        })
    }

    /// Other members' live observations and signals created since `since_ms`, newest first:
    /// the records whose photos' thumbnails come with the feed.
    pub(crate) fn recent_team_records(&self, since_ms: i64, limit: u32) -> Result<Vec<RecordId>> {
        let me = self.require_identity()?;
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id FROM records WHERE created_ms >= ?1 AND author_id <> ?2 AND deleted = 0
                 AND kind <> 'conversation' ORDER BY created_ms DESC, id LIMIT ?3",
            )?;
            let ids =
                st.query_map(params![since_ms, me.member.id, limit], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            Ok(ids)
        })
    }

    /// The photos of `records` this phone holds neither whole nor as a thumbnail, at most
    /// `limit`, in the records' order.
    pub(crate) fn thumbnails_wanted(&self, records: &[RecordId], limit: usize) -> Result<Vec<PhotoId>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id FROM photos WHERE record_id = ?1
                 AND NOT EXISTS (SELECT 1 FROM photo_bytes b WHERE b.photo_id = photos.id)
                 AND NOT EXISTS (SELECT 1 FROM photo_thumbnails t WHERE t.photo_id = photos.id)
                 ORDER BY position",
            )?;
            let mut out = Vec::new();
            for r in records {
                for id in st.query_map([r], |row| row.get(0))? {
                    if out.len() >= limit {
                        return Ok(out);
                    }
                    out.push(id?);
                }
            }
            Ok(out)
        })
    }

    /// Keeps a thumbnail fetched from the team server, once it proved to be a clean JPEG (the
    /// core's own cleaner leaves it as it is) no larger than a thumbnail; then drops the oldest
    /// fetched photos and thumbnails past the phone's cap.
    pub(crate) fn keep_thumbnail(&self, id: &PhotoId, bytes: &[u8], cap: u64) -> Result<()> {
        let limits = PhotoLimits { max_bytes: 256 << 10, max_long_edge: crate::sync::wire::THUMBNAIL_EDGE };
        let clean = clean_jpeg(bytes, limits)?;
        if clean.bytes != bytes {
            return Err(Error::invalid("server answer", "a thumbnail that carries metadata"));
        }
        self.write(|c| {
            let known: bool = c.tx.query_row("SELECT count(*) > 0 FROM photos WHERE id = ?1", [id], |r| r.get(0))?;
            if !known {
                return Err(Error::NotFound("photo"));
            }
            let now = c.now_ms();
            c.tx.execute(
                "INSERT OR REPLACE INTO photo_thumbnails (photo_id, bytes, kept_ms) VALUES (?1, ?2, ?3)",
                params![id, bytes, now],
            )?;
            evict_fetched(&c.tx, cap)
        })
    }

    /// Keeps the bytes of a photo fetched from the team server, once they proved to be the
    /// photo this phone was told of (its size and hash) and clean (the core's own cleaner
    /// leaves them as they are); then drops the oldest fetched photos and thumbnails past the
    /// phone's cap (`cap`: [`FETCHED_PHOTOS_CAP_BYTES`]).
    pub(crate) fn keep_fetched_photo(&self, id: &PhotoId, bytes: &[u8], cap: u64) -> Result<()> {
        let clean = clean_jpeg(bytes, PhotoLimits::default())?;
        let sha256: [u8; 32] = Sha256::digest(bytes).into();
        self.write(|c| {
            let (size, sha): (i64, Vec<u8>) =
                c.tx.query_row("SELECT size, sha256 FROM photos WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .ok_or(Error::NotFound("photo"))?;
            if size as usize != bytes.len() || sha != sha256 || clean.bytes != bytes {
                return Err(Error::invalid("server answer", "a photo that is not the one asked for"));
            }
            let now = c.now_ms();
            c.tx.execute(
                "INSERT OR REPLACE INTO photo_bytes (photo_id, bytes, fetched_ms) VALUES (?1, ?2, ?3)",
                params![id, bytes, now],
            )?;
            evict_fetched(&c.tx, cap)
        })
    }
}

/// What a phone keeps at most of other members' photos, fetched whole or as thumbnails (its
/// own photos are not counted and never dropped): past it the oldest fetched go first, and
/// are fetched again when asked for.
pub const FETCHED_PHOTOS_CAP_BYTES: u64 = 200 << 20;

/// Drops the oldest fetched photos and thumbnails until the rest fit in `cap` bytes (the
/// newest is always kept).
fn evict_fetched(tx: &Connection, cap: u64) -> Result<()> {
    let kept: Vec<(bool, PhotoId, i64)> = tx
        .prepare_cached(
            "SELECT 1, photo_id, length(bytes), fetched_ms AS at FROM photo_bytes WHERE fetched_ms IS NOT NULL
             UNION ALL SELECT 0, photo_id, length(bytes), kept_ms AS at FROM photo_thumbnails
             ORDER BY at DESC",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut total = 0u64;
    for (i, (whole, id, size)) in kept.iter().enumerate() {
        total += *size as u64;
        if total > cap && i > 0 {
            let sql = if *whole {
                "DELETE FROM photo_bytes WHERE photo_id = ?1"
            } else {
                "DELETE FROM photo_thumbnails WHERE photo_id = ?1"
            };
            tx.execute(sql, [id])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the cap, the oldest fetched photos and thumbnails go, the newest stays even when it
    /// alone passes the cap, and the phone's own photos are neither counted nor dropped.
    #[test]
    fn fetched_photos_past_the_cap_go_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db"), crate::store::Encryption::PlaintextForTestsOnly).unwrap();
        let ids: Vec<PhotoId> = (0..6).map(|_| PhotoId::new()).collect();
        let left = |c: &Connection| -> Result<(Vec<PhotoId>, Vec<PhotoId>)> {
            let ids = |sql: &str| -> Result<Vec<PhotoId>> {
                let mut st = c.prepare(sql)?;
                let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                Ok(rows)
            };
            Ok((
                ids("SELECT photo_id FROM photo_bytes ORDER BY photo_id")?,
                ids("SELECT photo_id FROM photo_thumbnails ORDER BY photo_id")?,
            ))
        };
        let (whole, thumbs) = store
            .write(|c| {
                // No records in this store: the rows alone, foreign keys off for the test.
                c.tx.execute_batch("PRAGMA defer_foreign_keys = ON;")?;
                let kb = vec![7u8; 1000];
                // Own photo (never dropped), then fetched photos and thumbnails, oldest first.
                c.tx.execute(
                    "INSERT INTO photo_bytes (photo_id, bytes) VALUES (?1, ?2)",
                    params![ids[0], vec![1u8; 5000]],
                )?;
                for (i, id) in ids.iter().enumerate().skip(1) {
                    let sql = if i % 2 == 1 {
                        "INSERT INTO photo_bytes (photo_id, bytes, fetched_ms) VALUES (?1, ?2, ?3)"
                    } else {
                        "INSERT INTO photo_thumbnails (photo_id, bytes, kept_ms) VALUES (?1, ?2, ?3)"
                    };
                    c.tx.execute(sql, params![id, kb, i as i64 * 10])?;
                }
                // 5 × 1000 bytes kept, a cap of 2500: the two newest stay.
                evict_fetched(&c.tx, 2500)?;
                let first = left(&c.tx)?;
                // A cap below the newest alone: it stays all the same.
                evict_fetched(&c.tx, 10)?;
                let second = left(&c.tx)?;
                c.tx.execute_batch("DELETE FROM photo_bytes; DELETE FROM photo_thumbnails;")?;
                Ok((first, second))
            })
            .unwrap();
        let sorted = |mut v: Vec<PhotoId>| {
            v.sort();
            v
        };
        assert_eq!(whole.0, sorted(vec![ids[0], ids[5]]), "the own photo and the newest fetched photo");
        assert_eq!(whole.1, sorted(vec![ids[4]]), "the newest thumbnail");
        assert_eq!(thumbs.0, sorted(vec![ids[0], ids[5]]));
        assert!(thumbs.1.is_empty());
    }
}
