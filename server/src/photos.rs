//! Photos on the team server: who may offer, send and see one, and what a finished upload
//! must prove before the team sees it. The bytes are kept by the storage
//! (`storage/photos.rs`); the protocol is in `docs/sync-protocol.md`, "Photos".
//!
//! The server trusts no phone: a photo is offered only for a record the team holds, by the
//! record's author, within the record's five places and the team's and the member's quotas;
//! its bytes arrive only at the offset the server holds; and the whole photo must match the
//! hash it was offered with and come out of the core's cleaner unchanged (a photo with any
//! metadata left, or not a JPEG the cleaner accepts, is refused and its bytes dropped).
//! A photo is seen exactly by whom may see its record, now: a record withdrawn from a member
//! (re-categorised as sensitive), deleted, purged or quarantined takes its photos with it.

use axum::http::StatusCode;
use wijkverkenner_core::photo::{clean_jpeg, PhotoLimits};
use wijkverkenner_core::sync::codec::validate_photo_ref;
use wijkverkenner_core::sync::wire::{EntityKind, PhotoRef, PhotoUpload, MAX_PHOTO_LISTING};

use crate::error::{ApiError, Result};
use crate::storage::{Caller, PhotoOffered, PhotoQuota, Storage, Stored, StoredPhoto};

/// One answer for an id and a place taken by another photo (a colleague's photo ids tell
/// nothing of whether they exist).
const PHOTO_CONFLICT: &str = "the photo's id or its place is taken by another photo";

/// An upload not finished within this long is dropped by the sweep (its phone offers it again).
pub const UNFINISHED_UPLOAD_MS: i64 = 7 * 86_400_000;

fn upload_of(p: &StoredPhoto) -> PhotoUpload {
    PhotoUpload { id: p.photo.id.clone(), received: p.received, stored: p.stored }
}

fn refused(code: &'static str, message: &str) -> crate::error::Error {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).into()
}

fn unknown_photo() -> crate::error::Error {
    ApiError::new(StatusCode::NOT_FOUND, "unknown_photo", "no such photo").into()
}

/// The record as the team holds it, unless it is deleted (or no record).
fn record(storage: &dyn Storage, team_id: &str, record_id: &str) -> Result<Option<Stored>> {
    let mut found = None;
    storage.transaction(&mut |tx| {
        found = tx.get(team_id, record_id)?;
        Ok(())
    })?;
    Ok(found.filter(|s| !s.entity.deleted && s.entity.kind != EntityKind::Walk))
}

/// The record, if it exists, is not deleted and not quarantined (an operator's quarantine
/// hides its photos too, and keeps them should it be lifted).
fn live_record(storage: &dyn Storage, team_id: &str, record_id: &str) -> Result<Option<Stored>> {
    Ok(record(storage, team_id, record_id)?.filter(|s| !s.quarantined))
}

/// A phone offers one of its member's photos. The answer says where the upload stands
/// (an offer sent again after a lost answer is answered the same way).
pub fn offer(
    storage: &dyn Storage,
    caller: &Caller,
    photo: &PhotoRef,
    quota: PhotoQuota,
    now_ms: i64,
) -> Result<PhotoUpload> {
    validate_photo_ref(photo).map_err(|e| ApiError::bad_request("invalid_photo", e.to_string()))?;
    let team = &caller.team.id;
    if let Some(known) = storage.photo(team, &photo.id)? {
        // Known: its state, whatever became of the record since (the bytes go with it).
        if known.photo == *photo && known.author_id == caller.member.id {
            return finish_if_complete(storage, known);
        }
        return Err(ApiError::new(StatusCode::CONFLICT, "photo_conflict", PHOTO_CONFLICT).into());
    }
    // A record the caller may not see does not exist for it (a sensitive signal's id tells
    // nothing).
    let visible = live_record(storage, team, &photo.record_id)?.filter(|r| crate::sync::visible_to(caller, &r.entity));
    let Some(record) = visible else {
        // Not (yet) synced: the phone pushes its record first and offers again later.
        return Err(ApiError::new(StatusCode::CONFLICT, "record_unknown", "the team holds no such record").into());
    };
    let e = &record.entity;
    if e.author_id != caller.member.id {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "not_author", "only a record's author adds its photos").into());
    }
    if e.kind == EntityKind::Conversation {
        return Err(refused("photo_not_allowed", "a conversation carries no photos"));
    }
    if crate::sync::record_frozen(e) {
        return Err(refused("record_frozen", "the record was reviewed or referred; its content is frozen"));
    }
    match storage.offer_photo(&caller.member.id, team, photo, quota, now_ms)? {
        PhotoOffered::Taken(p) => Ok(upload_of(&p)),
        PhotoOffered::Conflict => Err(ApiError::new(StatusCode::CONFLICT, "photo_conflict", PHOTO_CONFLICT).into()),
        PhotoOffered::OverQuota => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "photo_quota",
            "the team's or the member's photos are at their quota",
        )
        .into()),
    }
}

/// Takes one chunk of a photo's bytes at `offset`. A chunk at any other offset than where the
/// upload stands changes nothing (a replay, a retry after a lost answer) and is answered with
/// the state, so the phone goes on from there.
pub fn receive(storage: &dyn Storage, caller: &Caller, id: &str, offset: u64, bytes: &[u8]) -> Result<PhotoUpload> {
    let team = &caller.team.id;
    let Some(p) = storage.photo(team, id)? else { return Err(unknown_photo()) };
    if p.author_id != caller.member.id {
        // Not distinguished from an unknown id: a colleague's photo ids tell nothing.
        return Err(unknown_photo());
    }
    if !p.stored && offset == p.received && offset + bytes.len() as u64 > p.photo.size {
        return Err(ApiError::bad_request("invalid_chunk", "the chunk ends past the photo's size").into());
    }
    let p = storage.append_photo(team, id, offset, bytes)?.ok_or_else(unknown_photo)?;
    finish_if_complete(storage, p)
}

/// With every byte there: the photo is stored when its bytes match its description and the
/// core's cleaner finds nothing to take out; otherwise its bytes are dropped and the phone
/// told (it keeps its photo and shows it as refused).
fn finish_if_complete(storage: &dyn Storage, p: StoredPhoto) -> Result<PhotoUpload> {
    if p.stored || p.received < p.photo.size {
        return Ok(upload_of(&p));
    }
    // Reviewed or referred while it was on its way: the record's content is frozen, its
    // photos too (an offer made before cannot be filled in after).
    let frozen = record(storage, &p.team_id, &p.photo.record_id)?.is_none_or(|r| crate::sync::record_frozen(&r.entity));
    if frozen {
        storage.finish_photo(&p.team_id, &p.photo.id, false)?;
        return Err(refused("record_frozen", "the record was reviewed or referred; its content is frozen"));
    }
    let bytes = storage.photo_bytes(&p.team_id, &p.photo.id)?.unwrap_or_default();
    let hash = crate::admin::sha256_hex_of(&bytes);
    let verdict = if hash != p.photo.sha256 {
        Err(refused("photo_hash_mismatch", "the photo's bytes do not match its hash"))
    } else {
        match clean_jpeg(&bytes, PhotoLimits::default()) {
            Ok(clean) if clean.bytes == bytes && (clean.width, clean.height) == (p.photo.width, p.photo.height) => {
                Ok(())
            }
            Ok(_) => Err(refused("photo_not_clean", "the photo carries metadata or other dimensions than offered")),
            Err(e) => Err(refused("photo_refused", &e.to_string())),
        }
    };
    storage.finish_photo(&p.team_id, &p.photo.id, verdict.is_ok())?;
    verdict?;
    Ok(PhotoUpload { id: p.photo.id.clone(), received: p.received, stored: true })
}

/// Whether `caller` may see the record and so its photos: as the feed decides.
fn may_see(storage: &dyn Storage, caller: &Caller, record_id: &str) -> Result<bool> {
    Ok(live_record(storage, &caller.team.id, record_id)?.is_some_and(|r| crate::sync::visible_to(caller, &r.entity)))
}

/// The stored photos of the listed records that `caller` may see.
pub fn list(storage: &dyn Storage, caller: &Caller, record_ids: &[String]) -> Result<Vec<PhotoRef>> {
    if record_ids.len() > MAX_PHOTO_LISTING {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("a listing names at most {MAX_PHOTO_LISTING} records"),
        )
        .into());
    }
    let mut out = Vec::new();
    for id in record_ids {
        let photos = storage.photos_of(&caller.team.id, id)?;
        if photos.iter().any(|p| p.stored) && may_see(storage, caller, id)? {
            out.extend(photos.into_iter().filter(|p| p.stored).map(|p| p.photo));
        }
    }
    Ok(out)
}

/// One stored photo's bytes (or its thumbnail), for whom may see its record; to anyone else
/// it does not exist.
pub fn fetch(storage: &dyn Storage, caller: &Caller, id: &str, size: PhotoSize) -> Result<Vec<u8>> {
    let Some(p) = storage.photo(&caller.team.id, id)? else { return Err(unknown_photo()) };
    if !p.stored || !may_see(storage, caller, &p.photo.record_id)? {
        return Err(unknown_photo());
    }
    bytes_of(storage, &p, size)?.ok_or_else(unknown_photo)
}

/// The whole photo, or the thumbnail the server made of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoSize {
    Full,
    Thumbnail,
}

/// A stored photo's bytes, or its thumbnail — made when it is first asked for (a photo's
/// upload does not wait for it: decoding takes 15–20 ms a photo) and kept. `None` for a photo
/// the decoder cannot read (it has no thumbnail; the whole photo is still there).
fn bytes_of(storage: &dyn Storage, p: &StoredPhoto, size: PhotoSize) -> Result<Option<Vec<u8>>> {
    match size {
        PhotoSize::Full => storage.photo_bytes(&p.team_id, &p.photo.id),
        PhotoSize::Thumbnail => {
            if let Some(made) = storage.photo_thumbnail(&p.team_id, &p.photo.id)? {
                return Ok(Some(made));
            }
            let Some(bytes) = storage.photo_bytes(&p.team_id, &p.photo.id)? else { return Ok(None) };
            let Some(made) = thumbnail(&bytes) else {
                tracing::warn!(photo = %p.photo.id, "a stored photo could not be decoded for its thumbnail");
                return Ok(None);
            };
            storage.set_photo_thumbnail(&p.team_id, &p.photo.id, &made)?;
            Ok(Some(made))
        }
    }
}

/// A stored photo for the review pages, whose leads see every live record of their team
/// (the page checked the lead): `None` when it is unknown, still arriving, or its record is
/// deleted or quarantined.
pub fn for_lead(storage: &dyn Storage, team_id: &str, id: &str, size: PhotoSize) -> Result<Option<Vec<u8>>> {
    let Some(p) = storage.photo(team_id, id)? else { return Ok(None) };
    if !p.stored || live_record(storage, team_id, &p.photo.record_id)?.is_none() {
        return Ok(None);
    }
    bytes_of(storage, &p, size)
}

/// The long edge of a thumbnail: a timeline's row, a map's tooltip, a phone's list.
pub use wijkverkenner_core::sync::wire::THUMBNAIL_EDGE;

/// A thumbnail of a cleaned photo: decoded at the smallest scale the decoder offers that is
/// still at least [`THUMBNAIL_EDGE`], shrunk by averaging, encoded again — a new file that
/// carries nothing but its pixels. `None` if the photo cannot be decoded (it is refused).
pub fn thumbnail(jpeg: &[u8]) -> Option<Vec<u8>> {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    d.read_info().ok()?;
    let info = d.info()?;
    let (w0, h0) = (u32::from(info.width), u32::from(info.height));
    let long = w0.max(h0).max(1);
    let fit = |v: u32| if long <= THUMBNAIL_EDGE { v } else { (v * THUMBNAIL_EDGE / long).max(1) };
    let (tw, th) = (fit(w0) as usize, fit(h0) as usize);
    d.scale(tw as u16, th as u16).ok()?;
    let pixels = d.decode().ok()?;
    let info = d.info()?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    let rgb: Vec<u8> = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        _ => return None,
    };
    if rgb.len() != w * h * 3 || w < tw || h < th {
        return None;
    }
    let mut small = vec![0u8; tw * th * 3];
    for ty in 0..th {
        let (y0, y1) = (ty * h / th, ((ty + 1) * h / th).max(ty * h / th + 1));
        for tx in 0..tw {
            let (x0, x1) = (tx * w / tw, ((tx + 1) * w / tw).max(tx * w / tw + 1));
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                for px in rgb[(y * w + x0) * 3..(y * w + x1) * 3].chunks_exact(3) {
                    for c in 0..3 {
                        sum[c] += u32::from(px[c]);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            for c in 0..3 {
                small[(ty * tw + tx) * 3 + c] = ((sum[c] + n / 2) / n) as u8;
            }
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 75).encode(&small, tw as u16, th as u16, jpeg_encoder::ColorType::Rgb).ok()?;
    // Through the core's cleaner too (the encoder's own header goes), so that a phone's check
    // of what it is sent (the same cleaner) finds it clean.
    Some(clean_jpeg(&out, PhotoLimits { max_bytes: 256 << 10, max_long_edge: THUMBNAIL_EDGE }).ok()?.bytes)
}

/// Removes the photos of records that are gone (deleted or purged: also when the removal that
/// should have taken them was cut off) and drops the bytes of uploads left unfinished for a
/// week (their phone sends them again).
/// Run with the retention purge; returns how many photos went.
pub fn sweep(storage: &dyn Storage, team_id: &str, now_ms: i64) -> Result<u64> {
    let mut gone = 0;
    for (record_id, oldest_unfinished) in storage.photo_records(team_id)? {
        if record(storage, team_id, &record_id)?.is_none() {
            gone += storage.delete_photos(team_id, &record_id)?;
        } else if oldest_unfinished.is_some_and(|t| now_ms - t > UNFINISHED_UPLOAD_MS) {
            for p in storage.photos_of(team_id, &record_id)? {
                if !p.stored && now_ms - p.offered_ms > UNFINISHED_UPLOAD_MS {
                    storage.finish_photo(team_id, &p.photo.id, false)?;
                }
            }
        }
    }
    Ok(gone)
}

/// After a push: the photos of records it deleted go now (the sweep catches what a crash
/// left).
pub fn after_push(storage: &dyn Storage, team_id: &str, push: &[wijkverkenner_core::sync::wire::Entity]) -> Result<()> {
    for e in push.iter().filter(|e| e.deleted && e.kind != EntityKind::Walk) {
        if !storage.photos_of(team_id, &e.id)?.is_empty() && record(storage, team_id, &e.id)?.is_none() {
            storage.delete_photos(team_id, &e.id)?;
        }
    }
    Ok(())
}
