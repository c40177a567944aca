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

    /// Takes the team server's listing of a record's photos: each one this phone does not know
    /// is kept as known but not held (its bytes come with [`Store::fetch_photo`]).
    pub(crate) fn take_photo_listing(&self, record: &RecordId, listed: &[crate::sync::wire::PhotoRef]) -> Result<()> {
        self.write(|c| {
            if load_record(&c.tx, record).is_err() {
                return Ok(());
            }
            let now = c.now_ms();
            for p in listed.iter().filter(|p| p.record_id == record.to_string()) {
                let (Ok(id), Ok(sha)) = (p.id.parse::<PhotoId>(), super::unhex(&p.sha256)) else { continue };
                c.tx.prepare_cached(
                    "INSERT OR IGNORE INTO photos (id, record_id, position, sha256, size, width, height, added_ms, uploaded)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?5)",
                )?
                .execute(params![id, record, p.position, sha, p.size as i64, p.width, p.height, now])?;
            }
            Ok(())
        })
    }

    /// Keeps the bytes of a photo fetched from the team server, once they proved to be the
    /// photo this phone was told of (its size and hash) and clean (the core's own cleaner
    /// leaves them as they are).
    pub(crate) fn keep_fetched_photo(&self, id: &PhotoId, bytes: &[u8]) -> Result<()> {
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
            c.tx.execute("INSERT OR REPLACE INTO photo_bytes (photo_id, bytes) VALUES (?1, ?2)", params![id, bytes])?;
            Ok(())
        })
    }
}
