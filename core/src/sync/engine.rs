//! One sync, as explicit stages: collect the outbox → send it with the cursor → apply the
//! answer (mark acknowledged, merge incoming, advance the cursor, in one transaction) →
//! repeat while there is more. Each stage is safe to interrupt: a lost answer means the same
//! push is sent again, and the server applies it idempotently.
//!
//! The shell decides *when* (connectivity, unmetered, battery, background scheduler) and may
//! supply its own [`Transport`]; the core decides *how*: protocol, batching, backoff.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::{DeviceId, MemberId, PhotoId, RecordId};
use crate::member::{Identity, Member, MemberRole};
use crate::store::{IncomingPage, Store, FETCHED_PHOTOS_CAP_BYTES};
use crate::sync::wire::{
    EnrolRequest, EnrolResponse, Entity, ErrorBody, PhotoFetch, PhotoList, PhotoListRequest, PhotoOffer, PhotoRef,
    PhotoUpload, SettingsRequest, SyncRequest, SyncResponse, MAX_BODY_BYTES, MAX_PHOTO_LISTING, MAX_PUSH,
    PHOTO_CHUNK_BYTES, PROTOCOL_VERSION,
};
use crate::team::TeamSettings;

/// An HTTP answer as the transport received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The connection failed before an HTTP answer arrived (no network, timeout, TLS).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Moves bytes to the team server. The default is [`crate::sync::http::HttpTransport`];
/// a shell can supply its own (OkHttp, a background URLSession).
///
/// Contract: POST `body` to `path` under the server's base URL with the headers
/// `Content-Type: application/json`, `Content-Encoding: zstd`, `Accept-Encoding: zstd` and,
/// when `credential` is given, `Authorization: Bearer <credential>`; return the status and
/// the raw body (compressed or not: the engine recognises zstd by its magic number).
pub trait Transport: Send + Sync {
    fn post(&self, path: &str, credential: Option<&str>, body: Vec<u8>) -> Result<HttpResponse, TransportError>;
}

/// The headers of every request to the team server, for any transport (the built-in one and
/// the shells' platform clients): one list, so a platform client cannot forget one.
pub fn request_headers(credential: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Content-Type", "application/json".to_string()),
        ("Content-Encoding", "zstd".to_string()),
        ("Accept-Encoding", "zstd".to_string()),
        ("Wijkverkenner-Protocol", crate::sync::wire::PROTOCOL_VERSION.to_string()),
        // Our own, so a platform client does not send its default (Android's names the
        // device model and build).
        ("User-Agent", format!("Wijkverkenner/{}", env!("CARGO_PKG_VERSION"))),
    ];
    if let Some(c) = credential {
        headers.push(("Authorization", format!("Bearer {c}")));
    }
    headers
}

/// Where sync stands, for the sync status screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Never synced, or the last sync succeeded.
    #[default]
    Idle,
    /// The last sync failed; see `last_error` and `next_attempt_ms`.
    Failed,
    /// The server revoked this device; the store was wiped.
    Revoked,
}

/// Why a sync failed, as a kind a screen can word in any language (`last_error` is English).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncProblem {
    /// No connection to the team server (no network, timeout, TLS).
    Unreachable,
    /// The server is busy or failing (5xx, 429): it will be tried again.
    ServerBusy,
    /// The server did not accept this phone's credential.
    NotAccepted,
    /// The server refused a request for another reason (often: update the app).
    Refused,
    /// This phone is not enrolled.
    NotEnrolled,
    /// The phone's own storage failed.
    Storage,
    /// Anything else.
    Other,
}

impl SyncProblem {
    fn of(e: &Error) -> Self {
        match e {
            Error::Transport(_) => Self::Unreachable,
            Error::Server { status, .. } if *status >= 500 || *status == 429 => Self::ServerBusy,
            Error::Server { status: 401 | 403, .. } => Self::NotAccepted,
            Error::Server { .. } => Self::Refused,
            Error::NotEnrolled | Error::NoIdentity => Self::NotEnrolled,
            Error::Database(_) | Error::Io(_) | Error::Decode(_) => Self::Storage,
            _ => Self::Other,
        }
    }
}

/// What the UI shows about sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub state: SyncState,
    /// Walks and records changed here that the team does not have yet.
    #[serde(skip)]
    pub pending: u64,
    pub last_success_ms: Option<i64>,
    pub last_attempt_ms: Option<i64>,
    /// Why the last sync failed, in words a field worker can act on.
    pub last_error: Option<String>,
    /// What kind of failure that was, for a shell that words it in the walker's language.
    #[serde(default)]
    pub problem: Option<SyncProblem>,
    /// Consecutive failures, for the backoff.
    pub failures: u32,
    /// Do not retry automatically before this time (backoff); a manual sync may.
    pub next_attempt_ms: Option<i64>,
    /// Changes from the team this app version could not read (update the app).
    pub unreadable: u32,
    /// Why parts of the last sync's changes were not applied by the server (e.g. a signal's
    /// status another lead changed first); the team's version is now on the phone.
    #[serde(default)]
    pub refused: Vec<String>,
}

/// What one sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    pub round_trips: u32,
    /// Pushed changes the server acknowledged.
    pub acknowledged: u32,
    /// Changes from the team merged into the store.
    pub pulled: u32,
    pub unreadable: u32,
    /// Fields of pushed changes the server kept as they were (see [`SyncStatus::refused`]).
    pub refused: u32,
    /// Records deleted here because they became sensitive (need-to-know).
    pub withdrawn: u32,
    /// The team's settings changed and were taken (categories, office hours, boundaries).
    pub settings_taken: bool,
    /// Records and walks this phone forgot after the sync, by the team's retention terms.
    pub purged: u32,
    /// Photos whose upload finished in this sync (the team can see them now).
    pub photos_uploaded: u32,
    /// Photos the team server refused in this sync (kept on this phone: `Photo::upload_refused`).
    pub photos_refused: u32,
    /// Thumbnails of the team's recent photos that came with this sync.
    pub thumbnails_pulled: u32,
}

/// Thumbnails come with the feed for the team's records of this many last days (older ones
/// on demand: [`Store::fetch_thumbnail`]).
pub const THUMBNAIL_DAYS: i64 = 7;
/// Recent records whose photos a sync lists, newest first.
const THUMBNAIL_RECORDS_PER_SYNC: u32 = 500;
/// Thumbnails one sync fetches at most (about 15 KB each); the rest come with the next.
const THUMBNAILS_PER_SYNC: usize = 200;
/// A sync that pulled nothing lists the week's photos again after this long.
const RELIST_PHOTOS_MS: i64 = 3 * 3_600_000;
/// `meta`: when the week's photos were last listed.
const THUMBNAILS_LISTED: &str = "thumbnails_listed_ms";

/// A sync answer as the phone reads it: entities kept as raw JSON until each is parsed on its
/// own, and fields a newer server may add ignored (`SyncResponse` is the strict form).
#[derive(Deserialize)]
struct Answer<'a> {
    protocol: u32,
    acknowledged: u32,
    #[serde(borrow)]
    pull: Vec<&'a serde_json::value::RawValue>,
    cursor: i64,
    more: bool,
    #[serde(default)]
    rejected: Vec<crate::sync::wire::Rejection>,
    #[serde(default)]
    withdrawn: Vec<String>,
    #[serde(default)]
    settings: Option<String>,
}

/// An enrolment attempt in progress, kept in the store's `meta` until it succeeds.
#[derive(Serialize, Deserialize)]
struct EnrolAttempt {
    code: String,
    /// 32 random bytes as hex: names the attempt to the server (which keeps only a hash).
    secret: String,
}

const BACKOFF_BASE_MS: i64 = 5_000;
const BACKOFF_MAX_MS: i64 = 15 * 60_000;
/// Entities per pulled page: large enough to amortise a transaction, small enough that a page
/// cut off on a bad connection costs little to fetch again.
const PULL_PAGE: u32 = 5_000;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// JSON, zstd-compressed: what goes on the wire.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(value)?;
    Ok(zstd::bulk::compress(&json, 3)?)
}

/// The inverse of [`encode`]; plain JSON is accepted too. Refuses bodies that inflate beyond
/// `MAX_BODY_BYTES`.
pub fn decode_body(body: &[u8]) -> Result<Vec<u8>> {
    if body.starts_with(&ZSTD_MAGIC) {
        zstd::bulk::decompress(body, MAX_BODY_BYTES)
            .map_err(|_| Error::invalid("response", "not valid zstd or too large"))
    } else {
        Ok(body.to_vec())
    }
}

/// What the team server said to a photo's offer or chunk.
enum PhotoAnswer {
    State(PhotoUpload),
    /// Not now (its record has not reached the team yet, or the team is at its quota).
    Later,
    /// Not ever, as it is (the server's code: a conflict, a frozen record, a photo that does
    /// not pass the server's check).
    Refused(String),
}

fn photo_answer(photo: &crate::photo::Photo, resp: HttpResponse) -> Result<PhotoAnswer> {
    if resp.status == 200 {
        let state: PhotoUpload = serde_json::from_slice(&decode_body(&resp.body)?)
            .map_err(|_| Error::invalid("server answer", "not a photo's upload state"))?;
        if state.id != photo.id.to_string() || state.received > photo.size {
            return Err(Error::invalid("server answer", "names another photo or more bytes than it has"));
        }
        return Ok(PhotoAnswer::State(state));
    }
    match server_error(resp.status, &resp.body) {
        Error::Server { code, .. } if code == "record_unknown" || code == "photo_quota" => Ok(PhotoAnswer::Later),
        Error::Server { status: 400 | 403 | 409 | 422, code, .. } if code != "protocol_unsupported" => {
            Ok(PhotoAnswer::Refused(code))
        }
        e => Err(e),
    }
}

fn server_error(status: u16, body: &[u8]) -> Error {
    let parsed: Option<ErrorBody> = decode_body(body).ok().and_then(|b| serde_json::from_slice(&b).ok());
    match parsed {
        Some(e) if e.wipe => Error::Revoked,
        Some(e) => Error::Server { status, code: e.error, message: e.message },
        None => Error::Server { status, code: "unknown".into(), message: format!("the server answered {status}") },
    }
}

impl Store {
    fn credential(&self) -> Result<String> {
        self.read(|c| crate::store::read_meta(c, "credential"))?.ok_or(Error::NotEnrolled)
    }

    /// Trades a one-time enrolment code for a device credential, and records who uses this
    /// store. The credential is kept in the (encrypted) store.
    pub fn enrol(&self, transport: &dyn Transport, code: &str, device_name: &str) -> Result<Identity> {
        crate::text::check_required("enrolment code", code, 64)?;
        crate::text::check_required("device name", device_name, crate::text::SHORT)?;
        // One attempt per code, kept across retries (and app restarts) until it succeeds: a
        // retry after a lost answer is then answered again instead of refused.
        let code = code.trim().to_string();
        let attempt = match self.read(|c| crate::store::read_meta::<EnrolAttempt>(c, "enrol_attempt"))? {
            Some(a) if a.code == code => a.secret,
            _ => {
                let mut secret = [0u8; 32];
                rand::rng().fill_bytes(&mut secret);
                let a = EnrolAttempt { code: code.clone(), secret: crate::store::hex(&secret) };
                self.write(|c| crate::store::write_meta(&c.tx, "enrol_attempt", &a))?;
                a.secret
            }
        };
        let req = EnrolRequest {
            protocol: PROTOCOL_VERSION,
            code,
            device_name: device_name.to_string(),
            attempt: Some(attempt),
        };
        let resp = transport.post("/v1/enrol", None, encode(&req)?).map_err(|e| Error::Transport(e.0))?;
        if resp.status != 200 {
            return Err(server_error(resp.status, &resp.body));
        }
        let r: EnrolResponse = serde_json::from_slice(&decode_body(&resp.body)?)?;
        let role = match r.role.as_str() {
            "lead" => MemberRole::Lead,
            _ => MemberRole::FieldWorker,
        };
        let identity = Identity {
            member: Member {
                id: r.member_id.parse::<MemberId>()?,
                display_name: r.display_name,
                role,
                organisation: r.organisation,
            },
            device: r.device_id.parse::<DeviceId>()?,
        };
        self.set_identity(&identity)?;
        let credential = format!("{}.{}", r.device_id, r.credential);
        self.write(|c| {
            crate::store::write_meta(&c.tx, "credential", &credential)?;
            c.tx.execute("DELETE FROM meta WHERE key = 'enrol_attempt'", [])?;
            Ok(())
        })?;
        Ok(identity)
    }

    /// The sync status as stored, with the current outbox size.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let mut s: SyncStatus = self.read(|c| crate::store::read_meta(c, "sync_status"))?.unwrap_or_default();
        s.pending = self.pending_count()?;
        Ok(s)
    }

    fn save_sync_status(&self, s: &SyncStatus) -> Result<()> {
        self.write(|c| crate::store::write_meta(&c.tx, "sync_status", s))
    }

    /// Runs one sync to completion: as many round trips as the outbox and the server's feed
    /// need (one when there is nothing to do). `cancel` is checked between round trips;
    /// a cancelled or failed sync loses nothing and the next one continues where it stopped.
    pub fn sync(&self, transport: &dyn Transport, cancel: &AtomicBool) -> Result<SyncOutcome> {
        let started = now_ms();
        let mut result = self.sync_rounds(transport, cancel);
        if let Ok(outcome) = &mut result {
            // The team's terms, kept on this phone too: what expired goes after every sync (and
            // at the shell's start). A purge that fails loses nothing and is tried next time.
            match self.purge_expired_now() {
                Ok(p) => outcome.purged = p.records + p.walks,
                Err(e) => tracing::warn!(error = %e, "retention purge failed; tried again after the next sync"),
            }
        }
        let mut status: SyncStatus = self.read(|c| crate::store::read_meta(c, "sync_status"))?.unwrap_or_default();
        status.last_attempt_ms = Some(started);
        match &result {
            Ok(outcome) => {
                status.state = SyncState::Idle;
                status.last_success_ms = Some(self.now_ms());
                status.last_error = None;
                status.problem = None;
                status.failures = 0;
                status.next_attempt_ms = None;
                status.unreadable += outcome.unreadable;
                if outcome.refused == 0 {
                    status.refused.clear();
                }
            }
            Err(Error::Revoked) => {
                // The data is gone; only the reason stays, so the shell can tell the user.
                status = SyncStatus {
                    state: SyncState::Revoked,
                    last_error: Some(Error::Revoked.to_string()),
                    ..Default::default()
                };
            }
            Err(Error::Cancelled) => {}
            Err(e) => {
                status.state = SyncState::Failed;
                status.last_error = Some(e.to_string());
                status.problem = Some(SyncProblem::of(e));
                status.failures = status.failures.saturating_add(1);
                let exp = BACKOFF_BASE_MS.saturating_mul(1i64 << status.failures.min(20).saturating_sub(1));
                // Spread retries of many phones: up to a fifth earlier, by device.
                let node = self.identity().map(|i| Hlc::node_of(&i.device)).unwrap_or(0);
                let delay = exp.min(BACKOFF_MAX_MS);
                status.next_attempt_ms = Some(now_ms() + delay - (node % (delay as u64 / 5 + 1)) as i64);
            }
        }
        self.save_sync_status(&status)?;
        // A sync that succeeded unlocks the data and starts the lock's term again.
        self.refresh_lock()?;
        result
    }

    /// Sends one request and reads the answer: status, decompression, parsing, and decoding
    /// the pulled records into rows.
    fn exchange(
        &self,
        transport: &dyn Transport,
        credential: &str,
        req: &SyncRequest,
    ) -> Result<(SyncResponse, IncomingPage)> {
        let resp = transport.post("/v1/sync", Some(credential), encode(req)?).map_err(|e| Error::Transport(e.0))?;
        if resp.status != 200 {
            return Err(server_error(resp.status, &resp.body));
        }
        let bytes = decode_body(&resp.body)?;
        let answer: Answer =
            serde_json::from_slice(&bytes).map_err(|_| Error::invalid("server answer", "not a sync response"))?;
        if answer.acknowledged as usize != req.push.len() {
            return Err(Error::invalid("server answer", "acknowledged a different number of changes"));
        }
        // Each entity on its own: one this app cannot read is counted and kept out, never a
        // reason to refuse the whole page (it would be refused again on every retry).
        let mut unreadable = 0;
        let mut pull = Vec::with_capacity(answer.pull.len());
        for raw in &answer.pull {
            match serde_json::from_str::<Entity>(raw.get()) {
                Ok(e) => pull.push(e),
                Err(_) => unreadable += 1,
            }
        }
        let body = SyncResponse {
            protocol: answer.protocol,
            acknowledged: answer.acknowledged,
            pull: Vec::new(),
            cursor: answer.cursor,
            more: answer.more,
            rejected: answer.rejected,
            withdrawn: Vec::new(),
            settings: answer.settings,
        };
        let page = IncomingPage::new(pull)
            .with_withdrawn(answer.withdrawn)
            .with_rejected(body.rejected.clone())
            .with_unreadable(unreadable);
        Ok((body, page))
    }

    /// Fetches the team's settings and takes them. A document this app cannot take is left
    /// (logged; the phone keeps its settings and asks again at the next sync); a failed
    /// connection fails the sync like any other.
    fn take_team_settings(&self, transport: &dyn Transport, credential: &str, tag: &str) -> Result<bool> {
        let req = SettingsRequest { protocol: PROTOCOL_VERSION };
        let resp =
            transport.post("/v1/settings", Some(credential), encode(&req)?).map_err(|e| Error::Transport(e.0))?;
        if resp.status != 200 {
            return Err(server_error(resp.status, &resp.body));
        }
        let parsed = decode_body(&resp.body).and_then(|json| TeamSettings::from_json(&json));
        match parsed {
            Ok((settings, places)) => {
                self.apply_team_settings(&settings, places)?;
                tracing::info!(tag = %settings.tag, "team settings taken");
                Ok(true)
            }
            Err(e) => {
                // Not asked for again until the team's settings change (the same document would
                // be refused again, at megabytes a sync).
                tracing::warn!(error = %e, "the team's settings could not be taken; keeping this phone's");
                self.write(|c| crate::store::write_meta(&c.tx, "team_settings_refused", &tag))?;
                Ok(false)
            }
        }
    }

    fn sync_rounds(&self, transport: &dyn Transport, cancel: &AtomicBool) -> Result<SyncOutcome> {
        let credential = self.credential()?;
        // Checkpoints run on the prefetch thread during a sync; the writer's own resume after.
        self.set_autocheckpoint(false)?;
        let outcome = self.sync_pages(transport, cancel, &credential);
        let resumed = self.set_autocheckpoint(true);
        let mut outcome = outcome?;
        resumed?;
        // Last, the photos: their records are with the team now, and a slow upload holds up
        // no record (the team sees a record at once, its photos when they have arrived).
        let (uploaded, refused) = self.upload_photos(transport, cancel, &credential)?;
        outcome.photos_uploaded = uploaded;
        outcome.photos_refused = refused;
        // The week's photos are listed again when the team's records changed (a photo comes
        // right after its record), and at least every few hours (one that came later): an idle
        // sync costs the server nothing more.
        let listed: Option<i64> = self.read(|c| crate::store::read_meta(c, THUMBNAILS_LISTED))?;
        if outcome.pulled > 0 || listed.is_none_or(|at| now_ms() - at > RELIST_PHOTOS_MS) {
            outcome.thumbnails_pulled = self.pull_thumbnails(transport, cancel, &credential)?;
            self.write_with(crate::store::Durability::Replayable, |c| {
                crate::store::write_meta(&c.tx, THUMBNAILS_LISTED, &now_ms())
            })?;
        }
        Ok(outcome)
    }

    /// The photos of a record as the team server lists them for this member (need-to-know:
    /// none of a record it may not see), taken into the store; returns all the record's photos
    /// this phone knows of. Another member's photos are known without their bytes until
    /// [`Store::fetch_photo`].
    pub fn refresh_photos(&self, transport: &dyn Transport, record: &RecordId) -> Result<Vec<crate::photo::Photo>> {
        let listed = self.list_photos(transport, &self.credential()?, std::slice::from_ref(record))?;
        self.take_photo_listing(std::slice::from_ref(record), &listed)?;
        self.photos(record)
    }

    /// A photo's cleaned JPEG: from this phone when it holds it, otherwise fetched from the
    /// team server (which writes the view into its audit trail), checked against what the
    /// phone was told of it, and kept.
    pub fn fetch_photo(&self, transport: &dyn Transport, id: &PhotoId) -> Result<Vec<u8>> {
        match self.photo_bytes(id) {
            Err(Error::NotFound(_)) => {}
            held => return held,
        }
        let bytes = self.fetch_from_server(transport, &self.credential()?, id, false)?;
        self.keep_fetched_photo(id, &bytes, FETCHED_PHOTOS_CAP_BYTES)?;
        Ok(bytes)
    }

    /// A photo's thumbnail (long edge at most [`crate::sync::wire::THUMBNAIL_EDGE`]): from this phone when it
    /// holds one, otherwise fetched from the team server (a thumbnail's fetch is not audited;
    /// need-to-know applies as to the photo), checked to be a clean JPEG, and kept within the
    /// phone's cap.
    pub fn fetch_thumbnail(&self, transport: &dyn Transport, id: &PhotoId) -> Result<Vec<u8>> {
        if let Some(held) = self.photo_thumbnail(id)? {
            return Ok(held);
        }
        let bytes = self.fetch_from_server(transport, &self.credential()?, id, true)?;
        self.keep_thumbnail(id, &bytes, FETCHED_PHOTOS_CAP_BYTES)?;
        Ok(bytes)
    }

    fn fetch_from_server(
        &self,
        transport: &dyn Transport,
        credential: &str,
        id: &PhotoId,
        thumbnail: bool,
    ) -> Result<Vec<u8>> {
        let req = PhotoFetch { protocol: PROTOCOL_VERSION, id: id.to_string(), thumbnail };
        let resp =
            transport.post("/v1/photos/fetch", Some(credential), encode(&req)?).map_err(|e| Error::Transport(e.0))?;
        if resp.status != 200 {
            return Err(server_error(resp.status, &resp.body));
        }
        Ok(resp.body)
    }

    /// With the feed: the photos of the team's last [`THUMBNAIL_DAYS`] of records (other
    /// members' observations and signals this phone may see), listed, and the thumbnails of
    /// those it holds neither whole nor as a thumbnail fetched — at most
    /// [`THUMBNAILS_PER_SYNC`] a sync, newest records first; the rest come with the next
    /// sync, older ones on demand. A thumbnail that is not a clean JPEG is left out (and
    /// asked for again next time); a failed connection fails the sync like any other stage.
    fn pull_thumbnails(&self, transport: &dyn Transport, cancel: &AtomicBool, credential: &str) -> Result<u32> {
        let since = now_ms() - THUMBNAIL_DAYS * 86_400_000;
        let records = self.recent_team_records(since, THUMBNAIL_RECORDS_PER_SYNC)?;
        for batch in records.chunks(MAX_PHOTO_LISTING) {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let listed = self.list_photos(transport, credential, batch)?;
            self.take_photo_listing(batch, &listed)?;
        }
        let mut pulled = 0;
        for id in self.thumbnails_wanted(&records, THUMBNAILS_PER_SYNC)? {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let bytes = match self.fetch_from_server(transport, credential, &id, true) {
                // Withdrawn or deleted meanwhile (the next sync's feed says so), or a photo
                // without a thumbnail.
                Err(Error::Server { status: 404, .. }) => continue,
                // The device's hourly budget of fetches is spent: the rest come later, and the
                // sync (its records and uploads done) does not fail for it.
                Err(Error::Server { status: 429, .. }) => break,
                other => other?,
            };
            match self.keep_thumbnail(&id, &bytes, FETCHED_PHOTOS_CAP_BYTES) {
                Ok(()) => pulled += 1,
                Err(e @ (Error::Photo(_) | Error::Invalid { .. })) => {
                    tracing::warn!(error = %e, "a thumbnail from the team server was not taken");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(pulled)
    }

    /// The team server's listing of `records`' stored photos (only of those this member may
    /// see), each one checked.
    fn list_photos(&self, transport: &dyn Transport, credential: &str, records: &[RecordId]) -> Result<Vec<PhotoRef>> {
        let req = PhotoListRequest {
            protocol: PROTOCOL_VERSION,
            record_ids: records.iter().map(ToString::to_string).collect(),
        };
        let resp =
            transport.post("/v1/photos/list", Some(credential), encode(&req)?).map_err(|e| Error::Transport(e.0))?;
        if resp.status != 200 {
            return Err(server_error(resp.status, &resp.body));
        }
        let list: PhotoList = serde_json::from_slice(&decode_body(&resp.body)?)
            .map_err(|_| Error::invalid("server answer", "not a photo listing"))?;
        Ok(list.photos.into_iter().filter(|p| crate::sync::codec::validate_photo_ref(p).is_ok()).collect())
    }

    /// Sends this phone's photos that the team server does not hold whole: each offered, then
    /// its bytes in chunks from where the server says it stands, so a cut connection costs at
    /// most the chunk in flight. A photo the server refuses is kept here and marked; one whose
    /// record the server does not hold yet waits for the next sync.
    fn upload_photos(&self, transport: &dyn Transport, cancel: &AtomicBool, credential: &str) -> Result<(u32, u32)> {
        let (mut uploaded, mut refused) = (0, 0);
        for photo in self.photos_to_upload()? {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let offer = PhotoOffer { protocol: PROTOCOL_VERSION, photo: photo.to_ref() };
            let resp = transport
                .post("/v1/photos/offer", Some(credential), encode(&offer)?)
                .map_err(|e| Error::Transport(e.0))?;
            let mut state = match photo_answer(&photo, resp)? {
                PhotoAnswer::State(state) => state,
                PhotoAnswer::Later => continue,
                PhotoAnswer::Refused(code) => {
                    self.refuse_photo_upload(&photo.id, &code)?;
                    refused += 1;
                    continue;
                }
            };
            let bytes = self.photo_bytes(&photo.id)?;
            loop {
                self.set_photo_uploaded(&photo.id, state.received)?;
                if state.stored {
                    uploaded += 1;
                    break;
                }
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                let from = state.received as usize;
                if from >= bytes.len() {
                    // Whole but not stored: the server checks it again at the next offer.
                    return Err(Error::invalid("server answer", "holds the photo but did not store it"));
                }
                let to = (from + PHOTO_CHUNK_BYTES).min(bytes.len());
                // zstd-framed like every body; a JPEG does not shrink, level 1 costs nothing.
                let chunk = zstd::bulk::compress(&bytes[from..to], 1)?;
                let resp = transport
                    .post(&format!("/v1/photos/{}/bytes?offset={from}", photo.id), Some(credential), chunk)
                    .map_err(|e| Error::Transport(e.0))?;
                match photo_answer(&photo, resp)? {
                    PhotoAnswer::State(next) if next.stored || next.received > state.received => state = next,
                    PhotoAnswer::State(_) | PhotoAnswer::Later => {
                        return Err(Error::invalid("server answer", "did not take a photo's chunk"));
                    }
                    PhotoAnswer::Refused(code) => {
                        self.refuse_photo_upload(&photo.id, &code)?;
                        refused += 1;
                        break;
                    }
                }
            }
        }
        Ok((uploaded, refused))
    }

    fn sync_pages(&self, transport: &dyn Transport, cancel: &AtomicBool, credential: &str) -> Result<SyncOutcome> {
        let mut outcome = SyncOutcome::default();
        let mut refused = Vec::new();
        // Halved after an answer this phone could not take (too large to unpack or parse);
        // a page of one entity always fits (the server bounds an entity's size).
        let mut pull_limit = PULL_PAGE;
        // Team settings are fetched at most once per sync, before the first page is applied.
        let mut settings_checked = false;
        // The next page, already fetched while the current one was being applied.
        let mut prefetched: Option<(SyncRequest, Result<(SyncResponse, IncomingPage)>)> = None;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let (req, answer) = match prefetched.take() {
                Some(fetched) => fetched,
                None => {
                    // Stage 1: collect the outbox.
                    let push = self.pending_changes(MAX_PUSH)?;
                    let cursor = self.sync_cursor()?;
                    let req = SyncRequest { protocol: PROTOCOL_VERSION, cursor, push, pull_limit };
                    // Stage 2: send it and pull in the same round trip.
                    let answer = self.exchange(transport, credential, &req);
                    (req, answer)
                }
            };
            outcome.round_trips += 1;
            let (body, page) = match answer {
                Ok(answer) => answer,
                Err(Error::Revoked) => {
                    self.wipe_data()?;
                    return Err(Error::Revoked);
                }
                Err(Error::Invalid { field: "server answer" | "response", .. }) if pull_limit > 1 => {
                    // Nothing of this round was applied: ask again for a smaller page.
                    pull_limit /= 2;
                    tracing::warn!(pull_limit, "an answer could not be taken; asking for smaller pages");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let (false, Some(tag)) = (settings_checked, &body.settings) {
                settings_checked = true;
                let refused: Option<String> = self.read(|c| crate::store::read_meta(c, "team_settings_refused"))?;
                let held = self.team_settings_tag()?;
                if held.as_ref() != Some(tag)
                    && refused.as_ref() != Some(tag)
                    && self.take_team_settings(transport, credential, tag)?
                {
                    outcome.settings_taken = true;
                }
            }
            let full_push = req.push.len() == MAX_PUSH;
            // While this page is applied, the next one (a pure pull from the new cursor) is
            // fetched and parsed on another thread: server, network and phone work at the same
            // time. If applying fails, the prefetched answer is dropped and nothing is lost.
            let prefetch = body.more && !full_push;
            let report = std::thread::scope(|scope| {
                let next = prefetch.then(|| {
                    let next_req =
                        SyncRequest { protocol: PROTOCOL_VERSION, cursor: body.cursor, push: Vec::new(), pull_limit };
                    scope.spawn(move || {
                        let answer = self.exchange(transport, credential, &next_req);
                        // The pages applied so far go into the database file here, on this
                        // thread, instead of in the middle of the writer's next page.
                        if let Err(e) = self.checkpoint_passive() {
                            tracing::debug!(error = %e, "background checkpoint skipped");
                        }
                        (next_req, answer)
                    })
                });
                // Stages 3–5: mark acknowledged, apply incoming, advance the cursor — one transaction.
                let report = self.apply_sync_round(&req.push, page, body.cursor);
                if let Some(h) = next {
                    prefetched = h.join().ok();
                }
                report
            })?;
            outcome.acknowledged += report.acknowledged;
            outcome.pulled += report.applied;
            outcome.unreadable += report.unreadable;
            outcome.withdrawn += report.withdrawn;
            outcome.refused += body.rejected.len() as u32;
            refused.extend(body.rejected.into_iter().map(|r| r.reason));
            if !body.more && !full_push {
                if !refused.is_empty() {
                    self.write(|c| {
                        let mut s: SyncStatus = crate::store::read_meta(&c.tx, "sync_status")?.unwrap_or_default();
                        s.refused = std::mem::take(&mut refused);
                        crate::store::write_meta(&c.tx, "sync_status", &s)
                    })?;
                }
                return Ok(outcome);
            }
        }
    }
}
