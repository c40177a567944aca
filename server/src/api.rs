//! The HTTP API: `/health`, `/openapi.json`, `POST /v1/enrol`, `POST /v1/sync`.
//! Bodies are JSON, zstd-compressed on the wire (`Content-Encoding: zstd`); every error is
//! an [`ErrorBody`](wijkverkenner_core::sync::wire::ErrorBody) with a 4xx/5xx status.

use std::io::Read;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use wijkverkenner_core::sync::wire::{
    EnrolRequest, EnrolResponse, SyncRequest, MAX_BODY_BYTES, MAX_WIRE_BYTES, PROTOCOL_VERSION,
};
use wijkverkenner_core::Taxonomy;

use crate::admin;
use crate::error::{ApiError, Error, Result};
use crate::storage::{Caller, Role, Storage};
use crate::sync;

/// Oldest protocol version this server still speaks.
pub const MIN_PROTOCOL: u32 = 1;

const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub taxonomy: Arc<Taxonomy>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/v1/enrol", post(enrol))
        .route("/v1/sync", post(sync_handler))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .with_state(state)
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
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Reads, decompresses and parses a request body, with size limits and privacy-safe errors.
async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let raw: Bytes = axum::body::to_bytes(body, MAX_WIRE_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("bodies are limited to {MAX_WIRE_BYTES} bytes"),
        )
    })?;
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    decode_json(encoding, &raw)
}

/// The payload decoder: decompresses (`zstd` or `identity`) within `MAX_BODY_BYTES` and parses
/// JSON into `T`. Its messages say where and what kind of error, never a value from the body.
pub fn decode_json<T: DeserializeOwned>(encoding: &str, raw: &[u8]) -> Result<T, ApiError> {
    if raw.len() > MAX_WIRE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("bodies are limited to {MAX_WIRE_BYTES} bytes"),
        ));
    }
    let inflated;
    let json: &[u8] = match encoding {
        "zstd" => {
            let mut out = Vec::new();
            let bad = || ApiError::bad_request("bad_encoding", "the body is not valid zstd");
            let dec = zstd::stream::read::Decoder::new(raw).map_err(|_| bad())?;
            dec.take(MAX_BODY_BYTES as u64 + 1).read_to_end(&mut out).map_err(|_| bad())?;
            if out.len() > MAX_BODY_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("bodies inflate to at most {MAX_BODY_BYTES} bytes"),
                ));
            }
            inflated = out;
            &inflated
        }
        "identity" => raw,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "bad_encoding",
                "use zstd or no content encoding",
            ))
        }
    };
    serde_json::from_slice(json).map_err(|e| {
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
    let taxonomy = Taxonomy::default_taxonomy();
    for encoding in ["identity", "zstd"] {
        match decode_json::<SyncRequest>(encoding, data) {
            Ok(req) => {
                let _ = check_protocol(req.protocol);
                if let Err(e) = sync::validate_push(&req.push, &taxonomy) {
                    assert!(e.status.is_client_error());
                }
            }
            Err(e) => assert!(e.status.is_client_error()),
        }
        let _ = decode_json::<EnrolRequest>(encoding, data);
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
        format!("{msg} (server speaks {MIN_PROTOCOL}..{PROTOCOL_VERSION}, app {v})"),
    ))
}

/// Who is calling: `Authorization: Bearer <device id>.<credential>`, checked against the hash.
async fn authenticate(storage: &Arc<dyn Storage>, headers: &HeaderMap) -> Result<Caller> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <device id>.<credential>"))?;
    let (device_id, secret) = token.split_once('.').ok_or_else(|| ApiError::unauthorized("malformed credential"))?;
    if uuid::Uuid::parse_str(device_id).is_err() || secret.is_empty() || secret.len() > 100 {
        return Err(ApiError::unauthorized("malformed credential").into());
    }
    let (device_id, secret) = (device_id.to_string(), secret.to_string());
    let s = storage.clone();
    let caller =
        blocking(move || s.caller(&device_id)).await?.ok_or_else(|| ApiError::unauthorized("unknown device"))?;
    // Compare hashes in constant time.
    let given = admin::sha256_hex(&secret);
    let same = given.len() == caller.device.credential_hash.len()
        && given.bytes().zip(caller.device.credential_hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !same {
        return Err(ApiError::unauthorized("wrong credential").into());
    }
    if caller.device.revoked_ms.is_some() {
        return Err(ApiError::revoked().into());
    }
    if caller.member.role == Role::Admin {
        return Err(ApiError::forbidden("administrators do not sync").into());
    }
    Ok(caller)
}

async fn enrol(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response> {
    let req: EnrolRequest = read_json(&headers, body).await?;
    check_protocol(req.protocol)?;
    if req.device_name.trim().is_empty()
        || req.device_name.chars().count() > 100
        || req.code.len() > 64
        || req.attempt.as_ref().is_some_and(|a| !(16..=100).contains(&a.len()))
    {
        return Err(ApiError::bad_request(
            "invalid_enrolment",
            "a device name has 1..100 characters; a code at most 64; an attempt 16..100",
        )
        .into());
    }
    let storage = s.storage.clone();
    let (device, credential, member, team) =
        blocking(move || admin::redeem_attempt(storage.as_ref(), &req.code, req.attempt.as_deref(), &req.device_name))
            .await?;
    tracing::info!(device = %device.id, team = %team.id, "device enrolled");
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

/// Serialises exactly like [`SyncResponse`] (field for field; tested), with raw entities.
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
}

/// How stale a device's "last seen" may be (what `devices` lists for an administrator).
const LAST_SEEN_PRECISION_MS: i64 = 60_000;

async fn sync_handler(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response> {
    let caller = authenticate(&s.storage, &headers).await?;
    let req: SyncRequest = read_json(&headers, body).await?;
    check_protocol(req.protocol)?;
    sync::validate_push(&req.push, &s.taxonomy)?;
    let storage = s.storage.clone();
    let device = caller.device.id.clone();
    let pushed = req.push.len();
    let (page, pushed_result) = blocking(move || {
        let pushed_result = if req.push.is_empty() {
            Default::default()
        } else {
            sync::apply_push(storage.as_ref(), &caller, &req.push)?
        };
        let page = sync::pull(storage.as_ref(), &caller, req.protocol, req.cursor, req.pull_limit)?;
        // "Last seen" to the minute: one write per phone per minute, not one per page (a
        // fresh phone pulls many pages in a row, and each write waits for the disk).
        let now = admin::now_ms();
        if caller.device.last_seen_ms.is_none_or(|seen| now - seen >= LAST_SEEN_PRECISION_MS) {
            storage.touch_device(&caller.device.id, now)?;
        }
        Ok((page, pushed_result))
    })
    .await?;
    let changed = pushed_result.changed;
    tracing::info!(device = %device, pushed, changed, pulled = page.docs.len(), more = page.more, "sync");
    // A `SyncResponse` whose entities are the stored documents, passed through as they are.
    let pull: Vec<&RawValue> = page.docs.iter().map(|d| serde_json::from_str(d)).collect::<Result<_, _>>()?;
    reply(
        &headers,
        &RawSyncResponse {
            protocol: PROTOCOL_VERSION,
            acknowledged: pushed as u32,
            pull,
            cursor: page.cursor,
            more: page.more,
            rejected: pushed_result.rejected,
            withdrawn: page.withdrawn,
        },
    )
}
