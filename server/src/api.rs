//! The HTTP API: `/health`, `/openapi.json`, `POST /v1/enrol`, `POST /v1/sync`,
//! `POST /v1/settings`, `GET /v1/taxonomy`. Bodies are JSON, zstd-compressed on the wire (`Content-Encoding: zstd`);
//! every error, whatever its status, is an [`ErrorBody`](wijkverkenner_core::sync::wire::ErrorBody).
//!
//! Nothing a client sends is trusted with the server's time or memory: bodies are read with an
//! idle timeout and a size limit before anything is unpacked, unpacked and parsed on blocking
//! threads (a few at a time) with a limit after unpacking, and enrolment — the one endpoint
//! anyone can call — takes a few KiB and is rate-limited per address and overall.

use std::convert::Infallible;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use wijkverkenner_core::sync::wire::{
    EnrolRequest, EnrolResponse, PhotoFetch, PhotoList, PhotoListRequest, PhotoOffer, SettingsRequest, SyncRequest,
    MAX_PULL, MAX_REQUEST_BYTES, MAX_WIRE_BYTES, PHOTO_CHUNK_BYTES, PROTOCOL_VERSION,
};

use crate::admin;
use crate::error::{ApiError, Error, Result};
use crate::limits::{EnrolLimits, PushLimits};
use crate::storage::{Caller, Storage};
use crate::sync;

/// Oldest protocol version this server still speaks. Apps before protocol 3 cannot take the
/// team's version of a refused change (they would keep the refused value for good), so they
/// are asked to update.
pub const MIN_PROTOCOL: u32 = 3;
/// Largest enrolment request, on the wire and unpacked: a code, a name and an attempt.
pub const MAX_ENROL_BYTES: usize = 4 * 1024;
/// How long clients may take, and how many may be connected at once.
#[derive(Clone, Copy, Debug)]
pub struct ClientLimits {
    /// To send a request's headers.
    pub headers: Duration,
    /// Between two parts of a request body.
    pub body_idle: Duration,
    /// For a whole sync body (8 MiB at 15 KB/s, a poor mobile connection, takes nine minutes).
    pub body_total: Duration,
    /// For a whole enrolment body (a few KiB).
    pub enrol_body_total: Duration,
    /// Connections served at once; more are closed as they arrive (a client retries).
    pub max_connections: usize,
    /// Connections from one address at once (not applied behind a trusted proxy, whose
    /// address every client shares).
    pub max_connections_per_address: usize,
    /// Entities and bytes one device may push in an hour.
    pub push_per_hour: (u64, u64),
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            headers: Duration::from_secs(10),
            body_idle: Duration::from_secs(30),
            body_total: Duration::from_secs(600),
            enrol_body_total: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_address: 32,
            push_per_hour: (crate::limits::PUSH_ENTITIES_PER_HOUR, crate::limits::PUSH_BYTES_PER_HOUR),
        }
    }
}
/// Requests unpacked and parsed at the same time; the rest wait their turn.
const DECODING_AT_ONCE: usize = 4;

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    /// Each team's settings in effect (taxonomy, office hours, boundaries), with the server's
    /// defaults.
    pub teams: Arc<crate::settings::Teams>,
    pub limits: Arc<EnrolLimits>,
    decoding: Arc<tokio::sync::Semaphore>,
    /// Take the client's address from the last `X-Forwarded-For` entry (behind a reverse
    /// proxy that sets it); otherwise the peer address counts.
    pub trust_forwarded_for: bool,
    pub clients: ClientLimits,
    pub pushes: Arc<PushLimits>,
    /// Fetches of the team settings per device (the same hourly budget as pushes).
    pub settings_fetches: Arc<PushLimits>,
    /// The review pages' settings.
    pub web: Arc<crate::web::WebConfig>,
    /// The teams' walks and records as the review pages read them, kept up to date.
    pub read_model: Arc<crate::reports::ReadModel>,
    /// When each device's last sync was written to the audit trail.
    pub audited_syncs: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
    /// How many bytes of photos a team and each member may keep.
    pub photo_quota: crate::storage::PhotoQuota,
    /// Photo bytes each device sent this hour.
    pub photo_uploads: Arc<PushLimits>,
    /// Photos each device fetched this hour.
    pub photo_fetches: Arc<PushLimits>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, teams: crate::settings::Teams) -> Self {
        AppState {
            storage,
            teams: Arc::new(teams),
            limits: Arc::new(EnrolLimits::default()),
            decoding: Arc::new(tokio::sync::Semaphore::new(DECODING_AT_ONCE)),
            trust_forwarded_for: false,
            clients: ClientLimits::default(),
            pushes: Arc::new(PushLimits::default()),
            settings_fetches: Arc::new(PushLimits::default()),
            web: Arc::new(crate::web::WebConfig { secure_cookies: true, ..Default::default() }),
            read_model: Arc::new(crate::reports::ReadModel::default()),
            audited_syncs: Default::default(),
            photo_quota: Default::default(),
            photo_uploads: Arc::new(PushLimits::default()),
            photo_fetches: Arc::new(PushLimits::default()),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/v1/enrol", post(enrol))
        .route("/v1/sync", post(sync_handler))
        .route("/v1/settings", post(settings))
        .route("/v1/taxonomy", get(taxonomy))
        .route("/v1/photos/offer", post(photo_offer))
        .route("/v1/photos/{id}/bytes", post(photo_chunk))
        .route("/v1/photos/list", post(photo_list))
        .route("/v1/photos/fetch", post(photo_fetch))
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint takes another method")
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::web::audit))
        .layer(axum::middleware::map_response(harden))
        .with_state(state)
}

/// Headers every answer carries unless it set its own (pages set a CSP that allows their
/// scripts; assets may be cached): nothing is sniffed, framed, cached or allowed to run.
async fn harden(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    h.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    h.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static("max-age=31536000"));
    h.entry(header::HeaderName::from_static("permissions-policy"))
        .or_insert(HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
    r
}

/// The client's address, for rate limits and the security log.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        if state.trust_forwarded_for {
            // The proxy's own entry is the last one of the last line: a client can send lines
            // and entries of its own before it.
            let forwarded = parts.headers.get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok());
            if let Some(ip) = forwarded.and_then(|v| v.rsplit(',').next()).and_then(|a| a.trim().parse().ok()) {
                return Ok(ClientAddr(ip));
            }
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientAddr(peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// Runs blocking storage work off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Other(format!("worker: {e}")))?
}

async fn health(State(s): State<AppState>) -> Response {
    let backend = s.storage.backend();
    axum::Json(serde_json::json!({ "status": "ok", "storage": backend, "protocol": [MIN_PROTOCOL, PROTOCOL_VERSION] }))
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::document()).into_response()
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("bodies are limited to {limit} bytes"))
}

/// Reads a body of at most `limit` bytes, giving up on one that stalls or takes longer than
/// `total`.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    t: ClientLimits,
    total: Duration,
) -> Result<Bytes, ApiError> {
    let announced =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    // Far beyond the limit: refused before a byte is read. (Just beyond it, the body is read up
    // to the limit first, so that a client that only reads the answer after sending gets it.)
    if announced.is_some_and(|n| n > 4 * limit as u64) {
        return Err(too_large(limit));
    }
    let timeout = || ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", "the request body came too slowly");
    let started = Instant::now();
    let mut body = body;
    let mut out = Vec::new();
    loop {
        let frame = tokio::time::timeout(t.body_idle, body.frame()).await.map_err(|_| timeout())?;
        match frame {
            None => break,
            Some(Err(_)) => return Err(ApiError::bad_request("malformed", "the request body could not be read")),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > limit {
                        return Err(too_large(limit));
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
        if started.elapsed() > total {
            return Err(timeout());
        }
    }
    Ok(out.into())
}

/// Reads, unpacks and parses a request body: read here within `limit` bytes, unpacked and
/// parsed on a blocking thread (a few at a time) within `limit_unpacked`.
async fn read_json<T: DeserializeOwned + Send + 'static>(
    s: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    limit_unpacked: usize,
    total: Duration,
) -> Result<(T, usize), ApiError> {
    let raw = read_body(headers, body, limit, s.clients, total).await?;
    let encoding =
        headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity").to_string();
    let _turn = s
        .decoding
        .acquire()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server is stopping"))?;
    tokio::task::spawn_blocking(move || decode_json_sized(&encoding, &raw, limit_unpacked)).await.map_err(|_| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; try again later")
    })?
}

/// The sync payload decoder: decompresses (`zstd` or `identity`) within `MAX_REQUEST_BYTES`
/// and parses JSON into `T`. Its messages say where and what kind of error, never a value from
/// the body.
pub fn decode_json<T: DeserializeOwned>(encoding: &str, raw: &[u8]) -> Result<T, ApiError> {
    decode_json_sized(encoding, raw, MAX_REQUEST_BYTES).map(|(t, _)| t)
}

/// A body as sent (`zstd` or `identity`), unpacked within `limit` bytes.
fn unpack<'a>(encoding: &str, raw: &'a [u8], limit: usize) -> Result<std::borrow::Cow<'a, [u8]>, ApiError> {
    if raw.len() > MAX_WIRE_BYTES.min(zstd::zstd_safe::compress_bound(limit)) {
        return Err(too_large(MAX_WIRE_BYTES.min(limit)));
    }
    match encoding {
        "zstd" => {
            let bad = || {
                ApiError::bad_request(
                    "bad_encoding",
                    "the body is not valid zstd, or its frame needs a larger window than this request may have",
                )
            };
            let inflates_too_far = || {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("bodies inflate to at most {limit} bytes"),
                )
            };
            // A frame that says it unpacks to more is refused before a byte is unpacked.
            if zstd::zstd_safe::get_frame_content_size(raw).ok().flatten().is_some_and(|n| n > limit as u64) {
                return Err(inflates_too_far());
            }
            let mut dec = zstd::stream::read::Decoder::new(raw).map_err(|_| bad())?;
            // The frame says how much memory its window needs; no more than the largest body.
            // (At least 1 MiB: a small body compressed as a stream carries the level's window.)
            let window_log = usize::BITS - limit.next_power_of_two().leading_zeros();
            dec.window_log_max(window_log.clamp(20, 27)).map_err(|_| bad())?;
            let mut out = Vec::new();
            dec.take(limit as u64 + 1).read_to_end(&mut out).map_err(|_| bad())?;
            if out.len() > limit {
                return Err(inflates_too_far());
            }
            Ok(std::borrow::Cow::Owned(out))
        }
        "identity" if raw.len() <= limit => Ok(std::borrow::Cow::Borrowed(raw)),
        "identity" => Err(too_large(limit)),
        _ => Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_encoding", "use zstd or no content encoding")),
    }
}

/// [`decode_json`] within `limit` unpacked bytes; also says how many bytes the JSON had.
fn decode_json_sized<T: DeserializeOwned>(encoding: &str, raw: &[u8], limit: usize) -> Result<(T, usize), ApiError> {
    if raw.len() > MAX_WIRE_BYTES.min(limit) {
        return Err(too_large(MAX_WIRE_BYTES.min(limit)));
    }
    let json = unpack(encoding, raw, limit)?;
    let size = json.len();
    serde_json::from_slice(&json).map(|t| (t, size)).map_err(|e| {
        // serde's message may quote a value; say where and what kind of error instead.
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "is not valid JSON",
            _ => "does not match the protocol (a missing, unknown or mistyped field)",
        };
        ApiError::bad_request("malformed", format!("the body {what} at line {} column {}", e.line(), e.column()))
    })
}

/// The body of the payload fuzz target (`server/fuzz`), also replayed by the tests: any bytes,
/// as either encoding, decode and validate to a request or a 4xx error — never a panic.
#[doc(hidden)]
pub fn fuzz_payload(data: &[u8]) {
    let taxonomy = wijkverkenner_core::Taxonomy::default_taxonomy();
    let now = chrono::Utc::now().timestamp_millis();
    for encoding in ["identity", "zstd"] {
        match decode_json::<SyncRequest>(encoding, data) {
            Ok(req) => {
                let _ = check_protocol(req.protocol);
                if let Err(e) = sync::check_push(&req.push) {
                    assert!(e.status.is_client_error());
                }
                for e in &req.push {
                    if let Ok(v) = wijkverkenner_core::sync::codec::validate_entity(e, &taxonomy, now) {
                        // What validates once validates again, unchanged: it is what is stored.
                        assert_eq!(wijkverkenner_core::sync::codec::validate_entity(&v, &taxonomy, now).ok(), Some(v));
                    }
                }
            }
            Err(e) => assert!(e.status.is_client_error()),
        }
        let _ = decode_json_sized::<EnrolRequest>(encoding, data, MAX_ENROL_BYTES);
        // Photos: an offer decodes and is checked, or is a 4xx; a chunk unpacks within its limit.
        match decode_json_sized::<PhotoOffer>(encoding, data, MAX_ENROL_BYTES) {
            Ok((offer, _)) => {
                let _ = wijkverkenner_core::sync::codec::validate_photo_ref(&offer.photo);
            }
            Err(e) => assert!(e.status.is_client_error()),
        }
        match unpack(encoding, data, PHOTO_CHUNK_BYTES) {
            Ok(chunk) => assert!(chunk.len() <= PHOTO_CHUNK_BYTES),
            Err(e) => assert!(e.status.is_client_error()),
        }
    }
}

/// A JSON answer, zstd-compressed when the client accepts it.
fn reply<T: Serialize>(headers: &HeaderMap, value: &T) -> Result<Response> {
    let json = serde_json::to_vec(value)?;
    let accepts_zstd = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("zstd")));
    let mut resp = if accepts_zstd {
        let body = zstd::bulk::compress(&json, 3).map_err(|e| Error::Other(e.to_string()))?;
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("zstd"));
        r
    } else {
        Response::new(Body::from(json))
    };
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

fn check_protocol(v: u32) -> Result<(), ApiError> {
    if (MIN_PROTOCOL..=PROTOCOL_VERSION).contains(&v) {
        return Ok(());
    }
    let msg = if v < MIN_PROTOCOL {
        "this app is too old for the team server; update the app"
    } else {
        "the team server is older than this app; ask the administrator to update it"
    };
    Err(ApiError::new(
        StatusCode::UPGRADE_REQUIRED,
        "protocol_unsupported",
        format!("{msg} (the server speaks protocol {MIN_PROTOCOL}..{PROTOCOL_VERSION})"),
    ))
}

/// A refused call, in the security log: when (the log's time), from where, which device (if
/// the request named one), and why — never a credential or any content.
fn refused_auth(addr: ClientAddr, device: Option<&str>, reason: &'static str) {
    tracing::warn!(target: "security", addr = %addr.0, device = device.unwrap_or("-"), reason, "call refused");
}

/// One answer for an unknown device and a wrong credential: whether a device id exists is not
/// for a caller to find out (the security log tells them apart).
const NOT_KNOWN: &str = "unknown device or wrong credential";

/// Who is calling: `Authorization: Bearer <device id>.<credential>`, checked against the hash.
async fn authenticate(s: &AppState, addr: ClientAddr, headers: &HeaderMap) -> Result<Caller> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            refused_auth(addr, None, "no credential");
            ApiError::unauthorized("send Authorization: Bearer <device id>.<credential>")
        })?;
    let Some((device_id, secret)) = token.split_once('.') else {
        refused_auth(addr, None, "malformed credential");
        return Err(ApiError::unauthorized("malformed credential").into());
    };
    let Ok(device_uuid) = uuid::Uuid::parse_str(device_id) else {
        refused_auth(addr, None, "malformed credential");
        return Err(ApiError::unauthorized("malformed credential").into());
    };
    // The id as the server writes it, for the log and the lookup (never the caller's spelling).
    let device_id = device_uuid.hyphenated().to_string();
    if secret.is_empty() || secret.len() > 100 {
        refused_auth(addr, Some(&device_id), "malformed credential");
        return Err(ApiError::unauthorized("malformed credential").into());
    }
    let secret = secret.to_string();
    let storage = s.storage.clone();
    let lookup = device_id.clone();
    let Some(caller) = blocking(move || storage.caller(&lookup)).await? else {
        refused_auth(addr, Some(&device_id), "unknown device");
        return Err(ApiError::unauthorized(NOT_KNOWN).into());
    };
    // Compare hashes in constant time.
    let given = admin::sha256_hex(&secret);
    let same = given.len() == caller.device.credential_hash.len()
        && given.bytes().zip(caller.device.credential_hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !same {
        refused_auth(addr, Some(&device_id), "wrong credential");
        return Err(ApiError::unauthorized(NOT_KNOWN).into());
    }
    if caller.device.revoked_ms.is_some() {
        refused_auth(addr, Some(&device_id), "revoked device");
        return Err(ApiError::revoked().into());
    }
    if !caller.member.role.syncs() {
        // Administrators and partners never hold a phone; a device they hold came from a role
        // change (which revokes devices) gone wrong, or from a copied database.
        refused_auth(addr, Some(&device_id), "device of a member who does not sync");
        return Err(ApiError::forbidden("administrators and partners do not sync").into());
    }
    Ok(caller)
}

async fn enrol(State(s): State<AppState>, addr: ClientAddr, headers: HeaderMap, body: Body) -> Result<Response> {
    if let Err(wait) = s.limits.check(addr.0, Instant::now()) {
        tracing::warn!(target: "security", addr = %addr.0, wait_s = wait.as_secs(), reason = "rate limited", "enrolment refused");
        return Err(ApiError::too_many(wait).into());
    }
    let (req, _): (EnrolRequest, _) =
        read_json(&s, &headers, body, MAX_ENROL_BYTES, MAX_ENROL_BYTES, s.clients.enrol_body_total).await?;
    check_protocol(req.protocol)?;
    let device_name = admin::check_device_name(&req.device_name)?;
    if req.code.len() > 64 || req.attempt.as_ref().is_some_and(|a| !(16..=100).contains(&a.len())) {
        return Err(
            ApiError::bad_request("invalid_enrolment", "a code has at most 64 characters; an attempt 16..100").into()
        );
    }
    let storage = s.storage.clone();
    let redeemed =
        blocking(move || admin::redeem_attempt(storage.as_ref(), &req.code, req.attempt.as_deref(), &device_name))
            .await;
    let (device, credential, member, team) = match redeemed {
        Ok(r) => r,
        Err(Error::Api(e)) if e.code == "invalid_code" => {
            s.limits.failed(addr.0, Instant::now());
            tracing::warn!(target: "security", addr = %addr.0, reason = "invalid code", "enrolment refused");
            return Err(e.into());
        }
        Err(e) => return Err(e),
    };
    s.limits.succeeded(addr.0);
    tracing::info!(target: "security", addr = %addr.0, device = %device.id, team = %team.id, "device enrolled");
    // A new credential for a member: in the team's audit trail.
    let event = crate::storage::AuditEvent {
        team_id: team.id.clone(),
        at_ms: admin::now_ms(),
        actor: member.id.clone(),
        action: "enrol".into(),
        object: format!("device {}", device.id),
        result: "ok".into(),
        origin: addr.0.to_string(),
    };
    let storage = s.storage.clone();
    blocking(move || crate::web::record_audit(storage.as_ref(), &event)).await?;
    reply(
        &headers,
        &EnrolResponse {
            device_id: device.id,
            credential,
            member_id: member.id,
            display_name: member.display_name,
            role: member.role.as_str().into(),
            organisation: member.organisation,
            team_id: team.id,
            team_name: team.name,
        },
    )
}

/// The team's settings in effect, read on a blocking thread.
async fn team_config(s: &AppState, caller: &Caller) -> Result<Arc<crate::settings::TeamConfig>> {
    let (storage, teams, team) = (s.storage.clone(), s.teams.clone(), caller.team.clone());
    blocking(move || teams.config(storage.as_ref(), &team)).await
}

/// The team's categories: codes, labels, which are sensitive (need-to-know).
async fn taxonomy(State(s): State<AppState>, addr: ClientAddr, headers: HeaderMap) -> Result<Response> {
    let caller = authenticate(&s, addr, &headers).await?;
    let config = team_config(&s, &caller).await?;
    reply(&headers, config.taxonomy.as_ref())
}

/// The team's settings (`wijkverkenner_core::TeamSettings`): categories, office hours, buurt
/// boundaries. A phone asks when a sync answer names settings it does not hold.
async fn settings(State(s): State<AppState>, addr: ClientAddr, headers: HeaderMap, body: Body) -> Result<Response> {
    let caller = authenticate(&s, addr, &headers).await?;
    let (req, _): (SettingsRequest, _) =
        read_json(&s, &headers, body, MAX_ENROL_BYTES, MAX_ENROL_BYTES, s.clients.enrol_body_total).await?;
    check_protocol(req.protocol)?;
    let config = team_config(&s, &caller).await?;
    // A phone fetches the settings when they changed; a device asking again and again costs the
    // server the bytes: a few a hour are plenty.
    if let Err(wait) = s.settings_fetches.charge(
        &caller.device.id,
        1,
        config.document(req.protocol).len() as u64,
        SETTINGS_FETCHES_PER_HOUR,
        Instant::now(),
    ) {
        tracing::warn!(target: "security", addr = %addr.0, device = %caller.device.id, reason = "settings fetches", "rate limited");
        return Err(ApiError::too_many(wait).into());
    }
    // Compressed once per settings version (off the async workers), then the same bytes.
    let accepts_zstd = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("zstd")));
    let protocol = req.protocol;
    blocking(move || {
        let mut resp = if accepts_zstd {
            let mut r = Response::new(Body::from(config.compressed_document(protocol)?.to_vec()));
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("zstd"));
            r
        } else {
            Response::new(Body::from(config.document(protocol).to_string()))
        };
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(resp)
    })
    .await
}

/// How often one device may fetch the team's settings in an hour, and how many bytes of them.
const SETTINGS_FETCHES_PER_HOUR: (u64, u64) = (30, 256 * 1024 * 1024);

/// Serialises exactly like [`SyncResponse`](wijkverkenner_core::sync::wire::SyncResponse)
/// (field for field; tested), with raw entities.
#[derive(Serialize)]
struct RawSyncResponse<'a> {
    protocol: u32,
    acknowledged: u32,
    pull: Vec<&'a RawValue>,
    cursor: i64,
    more: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<wijkverkenner_core::sync::wire::Rejection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    withdrawn: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<String>,
}

/// Fields protocol 4 added: a protocol 3 phone would refuse an entity that has them.
const PROTOCOL_4_FIELDS: &[&str] = &["review_log", "debrief"];

/// An entity without the fields of protocol 4 (for protocol 3 phones).
fn without_log(e: &mut wijkverkenner_core::sync::wire::Entity) {
    for f in PROTOCOL_4_FIELDS {
        e.fields.remove(*f);
        e.clocks.remove(*f);
    }
}

/// A stored document without the fields of protocol 4; untouched (and not parsed) when it has
/// none.
fn without_log_doc(doc: &mut String) -> Result<()> {
    if PROTOCOL_4_FIELDS.iter().any(|f| doc.contains(&format!("\"{f}\""))) {
        let mut e: wijkverkenner_core::sync::wire::Entity = serde_json::from_str(doc)?;
        without_log(&mut e);
        *doc = serde_json::to_string(&e)?;
    }
    Ok(())
}

/// How stale a device's "last seen" may be (what `devices` lists for an administrator).
const LAST_SEEN_PRECISION_MS: i64 = 60_000;

async fn sync_handler(State(s): State<AppState>, addr: ClientAddr, headers: HeaderMap, body: Body) -> Result<Response> {
    let caller = authenticate(&s, addr, &headers).await?;
    let device = caller.device.id.clone();
    let (team_id, member_id) = (caller.team.id.clone(), caller.member.id.clone());
    let answer = sync_for(&s, caller, &headers, body).await;
    // The audit trail: a member's phone took and gave records (counts, never content). A
    // sync that changed nothing is written once a minute per device at most: a phone polling
    // in a loop cannot bury the trail.
    let changed = matches!(&answer, Ok((_, p)) if p.changed > 0 || !p.rejected.is_empty());
    let now = admin::now_ms();
    let due = {
        let mut last = s.audited_syncs.lock().unwrap_or_else(|p| p.into_inner());
        let due = changed || last.get(&device).is_none_or(|t| now - t >= 60_000);
        if due {
            last.insert(device.clone(), now);
        }
        due
    };
    let result = match &answer {
        Ok((r, p)) => format!("{} changed {} refused {}", r.status().as_u16(), p.changed, p.rejected.len()),
        Err(Error::Api(e)) => format!("refused {}", e.code),
        Err(_) => "failed".into(),
    };
    let event = crate::storage::AuditEvent {
        team_id,
        at_ms: admin::now_ms(),
        actor: member_id,
        action: "sync".into(),
        object: format!("device {device}"),
        result,
        origin: addr.0.to_string(),
    };
    let storage = s.storage.clone();
    if due && blocking(move || crate::web::record_audit(storage.as_ref(), &event)).await.is_err() {
        tracing::error!(target: "security", "an audit entry could not be written");
    }
    if let Err(Error::Api(e)) = &answer {
        // A device that was let in sent what the protocol refuses.
        tracing::warn!(target: "security", addr = %addr.0, device = %device, reason = e.code, "sync refused");
    }
    let (response, pushed) = answer?;
    if !pushed.rejected.is_empty() {
        let codes: std::collections::BTreeSet<&str> = pushed.rejected.iter().map(|r| r.code.as_str()).collect();
        tracing::warn!(
            target: "security",
            addr = %addr.0,
            device = %device,
            refused = pushed.rejected.len(),
            reason = ?codes,
            "pushed changes refused"
        );
    }
    Ok(response)
}

/// One sync round trip for an authenticated device.
async fn sync_for(s: &AppState, caller: Caller, headers: &HeaderMap, body: Body) -> Result<(Response, sync::Pushed)> {
    let (req, bytes): (SyncRequest, usize) =
        read_json(s, headers, body, MAX_WIRE_BYTES, MAX_REQUEST_BYTES, s.clients.body_total).await?;
    check_protocol(req.protocol)?;
    if !(1..=MAX_PULL as u32).contains(&req.pull_limit) || req.cursor < 0 {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("pull_limit lies within 1..{MAX_PULL} and the cursor is not negative"),
        )
        .into());
    }
    sync::check_push(&req.push)?;
    if !req.push.is_empty() {
        if let Err(wait) = s.pushes.charge(
            &caller.device.id,
            req.push.len() as u64,
            bytes as u64,
            s.clients.push_per_hour,
            Instant::now(),
        ) {
            return Err(ApiError::too_many(wait).into());
        }
    }
    let storage = s.storage.clone();
    let teams = s.teams.clone();
    let device = caller.device.id.clone();
    let pushed = req.push.len();
    let req_protocol = req.protocol;
    let (page, pushed_result, tag) = blocking(move || {
        let config = teams.config(storage.as_ref(), &caller.team)?;
        let mut pushed_result: sync::Pushed = if req.push.is_empty() {
            Default::default()
        } else {
            sync::apply_push(storage.as_ref(), &caller, &req.push, config.as_ref().into())?
        };
        // The team's versions sent back with the push's answer, as this member may see them
        // (a refused change to a colleague's conversation must not return its precise place).
        for e in
            pushed_result.echo.iter_mut().chain(pushed_result.rejected.iter_mut().filter_map(|r| r.current.as_mut()))
        {
            sync::share(storage.as_ref(), &caller, req.protocol, config.shared_cell_m, e)?;
        }
        // A record deleted by this push takes its photos' bytes with it.
        crate::photos::after_push(storage.as_ref(), &caller.team.id, &req.push)?;
        let page =
            sync::pull(storage.as_ref(), &caller, req.protocol, req.cursor, req.pull_limit, config.shared_cell_m)?;
        // "Last seen" to the minute: one write per phone per minute, not one per page (a
        // fresh phone pulls many pages in a row, and each write waits for the disk).
        let now = admin::now_ms();
        if caller.device.last_seen_ms.is_none_or(|seen| now - seen >= LAST_SEEN_PRECISION_MS) {
            storage.touch_device(&caller.device.id, now)?;
        }
        Ok((page, pushed_result, config.tag.clone()))
    })
    .await?;
    let changed = pushed_result.changed;
    tracing::info!(device = %device, pushed, changed, pulled = page.docs.len(), more = page.more, "sync");
    let (mut page, mut pushed_result) = (page, pushed_result);
    if req_protocol < 4 {
        // Protocol 3 phones do not know the review log: they would not read an entity with it.
        for d in page.docs.iter_mut() {
            without_log_doc(d)?;
        }
        for e in
            pushed_result.echo.iter_mut().chain(pushed_result.rejected.iter_mut().filter_map(|r| r.current.as_mut()))
        {
            without_log(e);
        }
    }
    // A `SyncResponse` whose entities are the stored documents, passed through as they are,
    // then the team's version of what the push left unchanged but the pusher lacked.
    let echo: Vec<String> = pushed_result.echo.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
    let pull: Vec<&RawValue> =
        page.docs.iter().chain(&echo).map(|d| serde_json::from_str(d)).collect::<Result<_, _>>()?;
    let response = reply(
        headers,
        &RawSyncResponse {
            protocol: PROTOCOL_VERSION,
            acknowledged: pushed as u32,
            pull,
            cursor: page.cursor,
            more: page.more,
            rejected: pushed_result.rejected.clone(),
            withdrawn: page.withdrawn,
            settings: Some(tag),
        },
    )?;
    Ok((response, pushed_result))
}

/// Photo bytes one device may send in an hour: requests and bytes (a day's photos of a busy
/// walk are a few hundred MB at most).
const PHOTO_UPLOADS_PER_HOUR: (u64, u64) = (20_000, 1 << 30);
/// Photos one device may fetch in an hour, and their bytes.
const PHOTO_FETCHES_PER_HOUR: (u64, u64) = (2_000, 1 << 30);

/// `POST /v1/photos/offer`: a phone announces a photo of one of its member's records.
async fn photo_offer(State(s): State<AppState>, addr: ClientAddr, headers: HeaderMap, body: Body) -> Result<Response> {
    let caller = authenticate(&s, addr, &headers).await?;
    let (req, _): (PhotoOffer, _) =
        read_json(&s, &headers, body, MAX_ENROL_BYTES, MAX_ENROL_BYTES, s.clients.enrol_body_total).await?;
    check_protocol(req.protocol)?;
    let (storage, quota) = (s.storage.clone(), s.photo_quota);
    let answer =
        blocking(move || crate::photos::offer(storage.as_ref(), &caller, &req.photo, quota, admin::now_ms())).await?;
    reply(&headers, &answer)
}

/// `POST /v1/photos/{id}/bytes?offset=N`: one chunk of a photo's bytes, the body the chunk
/// (zstd-framed like every body, or as it is).
async fn photo_chunk(
    State(s): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: Body,
) -> Result<Response> {
    let caller = authenticate(&s, addr, &headers).await?;
    let offset = query
        .as_deref()
        .and_then(|q| q.strip_prefix("offset="))
        .filter(|n| !n.is_empty() && n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| ApiError::bad_request("invalid_request", "the chunk's offset is missing or not a number"))?;
    let raw =
        read_body(&headers, body, zstd::zstd_safe::compress_bound(PHOTO_CHUNK_BYTES), s.clients, s.clients.body_total)
            .await?;
    let encoding =
        headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity").to_string();
    if let Err(wait) =
        s.photo_uploads.charge(&caller.device.id, 1, raw.len() as u64, PHOTO_UPLOADS_PER_HOUR, Instant::now())
    {
        tracing::warn!(target: "security", addr = %addr.0, device = %caller.device.id, reason = "photo bytes", "rate limited");
        return Err(ApiError::too_many(wait).into());
    }
    let storage = s.storage.clone();
    let answer = blocking(move || {
        let chunk = unpack(&encoding, &raw, PHOTO_CHUNK_BYTES)?;
        crate::photos::receive(storage.as_ref(), &caller, &id, offset, &chunk)
    })
    .await;
    if let Err(Error::Api(e)) = &answer {
        if e.status == StatusCode::UNPROCESSABLE_ENTITY {
            tracing::warn!(target: "security", addr = %addr.0, reason = e.code, "photo refused");
        }
    }
    reply(&headers, &answer?)
}

/// `POST /v1/photos/list`: the stored photos of records the phone names, as far as its
/// member may see them.
async fn photo_list(State(s): State<AppState>, addr: ClientAddr, headers: HeaderMap, body: Body) -> Result<Response> {
    let caller = authenticate(&s, addr, &headers).await?;
    let (req, _): (PhotoListRequest, _) =
        read_json(&s, &headers, body, MAX_ENROL_BYTES * 2, MAX_ENROL_BYTES * 2, s.clients.enrol_body_total).await?;
    check_protocol(req.protocol)?;
    let storage = s.storage.clone();
    let photos = blocking(move || crate::photos::list(storage.as_ref(), &caller, &req.record_ids)).await?;
    reply(&headers, &PhotoList { photos })
}

/// `POST /v1/photos/fetch`: one photo's cleaned JPEG, for whom may see its record. Every
/// fetch is in the audit trail.
async fn photo_fetch(State(s): State<AppState>, addr: ClientAddr, headers: HeaderMap, body: Body) -> Result<Response> {
    let caller = authenticate(&s, addr, &headers).await?;
    let (req, _): (PhotoFetch, _) =
        read_json(&s, &headers, body, MAX_ENROL_BYTES, MAX_ENROL_BYTES, s.clients.enrol_body_total).await?;
    check_protocol(req.protocol)?;
    let storage = s.storage.clone();
    let (team_id, actor, id, device) =
        (caller.team.id.clone(), caller.member.id.clone(), req.id.clone(), caller.device.id.clone());
    let size = if req.thumbnail { crate::photos::PhotoSize::Thumbnail } else { crate::photos::PhotoSize::Full };
    let answer = blocking(move || crate::photos::fetch(storage.as_ref(), &caller, &req.id, size)).await;
    let event = crate::storage::AuditEvent {
        team_id,
        at_ms: admin::now_ms(),
        actor,
        action: "photo".into(),
        object: format!("photo {}", if id.len() <= 36 { id.as_str() } else { "(invalid id)" }),
        result: match &answer {
            Ok(_) => "200".into(),
            Err(Error::Api(e)) => format!("refused {}", e.code),
            Err(_) => "failed".into(),
        },
        origin: addr.0.to_string(),
    };
    let storage = s.storage.clone();
    if size == crate::photos::PhotoSize::Full
        && blocking(move || crate::web::record_audit(storage.as_ref(), &event)).await.is_err()
    {
        // Nothing is shown unaudited (as on the pages).
        tracing::error!(target: "security", "an audit entry could not be written; the photo is withheld");
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again later").into());
    }
    let bytes = answer?;
    // Charged after: a refused fetch costs nothing but its audit line.
    if let Err(wait) = s.photo_fetches.charge(&device, 1, bytes.len() as u64, PHOTO_FETCHES_PER_HOUR, Instant::now()) {
        return Err(ApiError::too_many(wait).into());
    }
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    Ok(resp)
}
