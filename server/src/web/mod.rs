//! The review pages: what a team lead (and, for sessions, an administrator) uses in the
//! browser. Server-rendered HTML (askama templates in `server/templates/`, escaped by
//! default) that works without JavaScript; the maps are Leaflet (`server/assets/`, bundled,
//! served from here, no CDN) over the buurt boundaries.
//!
//! Sign-in is a password and a TOTP code ([`auth`]); the session is a random token in a
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` and `__Host-` unless the server runs on
//! plain HTTP for a local demo), stored only as its hash. Every form carries a CSRF token
//! derived from the session, and every POST must come from this origin. Pages send a strict
//! Content-Security-Policy and are never cached.
//!
//! Who sees what: the review pages are for the team's leads (they see everything of their
//! own team, sensitive signals included); administrators see the session list, not content;
//! field workers have no pages (their phone is their view). A lead of another team finds
//! nothing: every lookup is within the signed-in member's team.
//!
//! Every request of a signed-in member is in the audit trail ([`audit`]): what (view, export,
//! change), which page with its ids, the answer's status, the address, the member, the time.

pub mod auth;
mod i18n;
mod pages;

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub use i18n::Tr;
pub use pages::routes;

use crate::admin::sha256_hex;
use crate::api::AppState;
use crate::limits::EnrolLimits;
use crate::storage::{Member, Role, Team, WebSession};

/// Who made a request, filled in by [`Visitor`] when the request is signed in; [`audit`] reads
/// it once the page has answered.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<std::sync::Mutex<Option<(String, String)>>>);

/// Writes one audit entry for every request of a signed-in member to the review pages: reads
/// (GET, HEAD) and changes (POST), refused ones too. The object is the path with its ids and
/// the known filters only ([`audit_object`]); set-up links (a token in the path), sign-in,
/// assets and the API are not pages a member reads. An entry that cannot be written withholds
/// the answer (503): nothing is shown or changed unaudited.
pub async fn audit(
    axum::extract::State(s): axum::extract::State<AppState>,
    addr: crate::api::ClientAddr,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let skip = ["/v1/", "/health", "/openapi.json", "/assets/", "/favicon.ico", "/setup/", "/lang/", "/sign-in"];
    // A thumbnail is part of the page that shows it (audited); the whole photo is audited.
    let thumbnail = path.starts_with("/photos/") && path.ends_with("/thumb");
    if thumbnail || skip.iter().any(|p| path.starts_with(p)) {
        return next.run(req).await;
    }
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let read = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let object = audit_object(&path, req.uri().query());
    let response = next.run(req).await;
    let who = slot.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some((team_id, member_id)) = who else { return response };
    let download = path.contains("/export") || path.ends_with(".csv");
    let action = match (read, download) {
        (true, true) => "export",
        (true, false) => "view",
        (false, _) if path == "/sign-out" => "sign-out",
        (false, _) => "change",
    };
    let event = crate::storage::AuditEvent {
        team_id,
        at_ms: crate::admin::now_ms(),
        actor: member_id,
        action: action.into(),
        object,
        result: response.status().as_u16().to_string(),
        origin: addr.0.to_string(),
    };
    let storage = s.storage.clone();
    match tokio::task::spawn_blocking(move || record_audit(storage.as_ref(), &event)).await {
        Ok(Ok(())) => response,
        _ => {
            tracing::error!(target: "security", "an audit entry could not be written; the answer is withheld");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Writes an audit entry to the database and, as a second copy outside it, to the log (the
/// `audit` target: the operator's journal), so a changed database file does not go unnoticed.
pub fn record_audit(storage: &dyn crate::storage::Storage, e: &crate::storage::AuditEvent) -> crate::Result<()> {
    let e = e.clone().bounded();
    tracing::info!(
        target: "audit",
        team = %e.team_id, at_ms = e.at_ms, actor = %e.actor, action = %e.action,
        object = %e.object, result = %e.result, origin = %e.origin,
        "audit"
    );
    storage.append_audit(&e)
}

/// A page's path and query as the audit trail keeps them: route words and ids (letters,
/// digits, `-`, `_`, `.`, up to 64 characters) as they are, anything else — a name or a
/// number typed into the address bar — as `…`; of the query only the known filters, with
/// values of the same kind.
pub fn audit_object(path: &str, query: Option<&str>) -> String {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let path: Vec<&str> = path.split('/').map(|seg| if seg.is_empty() || plain(seg) { seg } else { "…" }).collect();
    let mut out = path.join("/");
    const FILTERS: [&str; 7] = ["period", "buurt", "member", "status", "reviewed", "review", "lang"];
    let kept: Vec<String> = query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, v)| FILTERS.contains(k) && (v.is_empty() || plain(v)))
        .take(8)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out
}

/// A session ends after this long without a request…
pub const SESSION_IDLE_MS: i64 = 60 * 60_000;
/// …and at the latest this long after sign-in.
pub const SESSION_MAX_MS: i64 = 12 * 3_600_000;
/// A set-up link works this long.
pub const SETUP_VALID_MS: i64 = 72 * 3_600_000;

/// How the pages are served.
#[derive(Debug, Default)]
pub struct WebConfig {
    /// Cookies only over HTTPS (`Secure`, `__Host-` prefix). Off only for a demo on
    /// `http://127.0.0.1`.
    pub secure_cookies: bool,
    /// A basemap tile URL template (`https://…/{z}/{x}/{y}.png`), e.g. PDOK's BRT
    /// achtergrondkaart; without one the maps show the buurt boundaries only.
    pub tile_url: Option<String>,
    /// Wrong sign-ins per address (the same rule as enrolment codes).
    pub sign_in_limits: EnrolLimits,
    /// Sign-in attempts wait their turn per address and per login, so that parallel requests
    /// cannot all pass the limits and the lock-out before any failure is counted, nor use one
    /// TOTP code twice.
    pub sign_in_turns: KeyedLocks,
    /// The pages' origin as browsers see it (`https://wijk.example.nl`), when the server is
    /// behind a proxy; otherwise the request's `Host` with `https` (or `http` with insecure
    /// cookies). Every POST must come from it.
    pub public_origin: Option<String>,
    /// Uploaded boundaries waiting for an administrator's confirmation.
    pub pending_boundaries: PendingUploads,
}

/// Boundaries parsed from an upload and held until their administrator confirms them (a few
/// minutes; one per administrator).
#[derive(Debug, Default)]
pub struct PendingUploads(std::sync::Mutex<std::collections::HashMap<String, PendingUpload>>);

/// Whose upload, since when, what.
type PendingUpload = (String, std::time::Instant, Arc<crate::settings::Boundaries>);

/// How long an upload waits for its confirmation.
const PENDING_UPLOAD: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl PendingUploads {
    pub fn put(&self, token: &str, member_id: &str, b: Arc<crate::settings::Boundaries>) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        all.retain(|_, (member, at, _)| member != member_id && now.duration_since(*at) < PENDING_UPLOAD);
        all.insert(token.to_string(), (member_id.to_string(), now, b));
    }

    /// The upload of `member_id` under `token`, once.
    pub fn take(&self, token: &str, member_id: &str) -> Option<Arc<crate::settings::Boundaries>> {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match all.remove(token) {
            Some((member, at, b)) if member == member_id && at.elapsed() < PENDING_UPLOAD => Some(b),
            _ => None,
        }
    }
}

/// One async lock per key, made when first asked for and dropped when nobody holds or waits
/// for it.
#[derive(Debug, Default)]
pub struct KeyedLocks(std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

/// The turn of one key; the next waiter goes when this is dropped.
pub struct Turn<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn turn(&self, key: &str) -> Turn<'_> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.to_string()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        Turn { locks: self, key: key.to_string(), guard: Some(guard) }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.0.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map holds it: nobody waits.
        if map.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(&self.key);
        }
    }
}

impl WebConfig {
    fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-wv_session"
        } else {
            "wv_session"
        }
    }

    /// The `Set-Cookie` value for a new session token (or, with `None`, one that removes it).
    fn session_cookie(&self, token: Option<&str>) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        match token {
            Some(t) => format!("{}={t}; Path=/; HttpOnly; SameSite=Strict{secure}", self.cookie_name()),
            None => format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}", self.cookie_name()),
        }
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A signed-in browser.
#[derive(Clone, Debug)]
pub struct Signed {
    pub session: WebSession,
    pub member: Member,
    pub team: Team,
    /// The team's settings in effect (categories, office hours, boundaries).
    pub config: Arc<crate::settings::TeamConfig>,
    /// The form token for this session.
    pub csrf: String,
}

impl Signed {
    pub fn is_lead(&self) -> bool {
        self.member.role == Role::Lead
    }
    pub fn is_admin(&self) -> bool {
        self.member.role == Role::Admin
    }
    /// A partner-organisation viewer, and the referral target whose signals they read.
    pub fn partner_of(&self) -> Option<&str> {
        match self.member.role {
            Role::Partner => self.member.referral.as_deref(),
            _ => None,
        }
    }
}

/// Whoever is asking: the language they read, and their session if they are signed in.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub tr: &'static Tr,
    pub signed: Option<Signed>,
}

fn csrf_of(token: &str) -> String {
    sha256_hex(&format!("wijkverkenner csrf {token}"))[..32].to_string()
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let lang = cookie(&parts.headers, "wv_lang").unwrap_or("nl");
        let tr = Tr::of(lang);
        let Some(token) = cookie(&parts.headers, s.web.cookie_name()).map(str::to_string) else {
            return Ok(Visitor { tr, signed: None });
        };
        if token.len() > 64 {
            return Ok(Visitor { tr, signed: None });
        }
        let storage = s.storage.clone();
        let teams = s.teams.clone();
        let hash = sha256_hex(&token);
        let found = tokio::task::spawn_blocking(move || -> crate::Result<_> {
            let now = crate::admin::now_ms();
            let Some((session, member, team)) = storage.session(&hash, now)? else { return Ok(None) };
            let config = teams.config(storage.as_ref(), &team)?;
            // Seen again: the idle expiry slides, never beyond the absolute one. Written at
            // most once a minute.
            if now - session.last_seen_ms > 60_000 {
                storage.touch_session(&hash, now, (now + SESSION_IDLE_MS).min(session.created_ms + SESSION_MAX_MS))?;
            }
            Ok(Some((session, member, team, config)))
        })
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())?
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })?;
        if let (Some((_, member, team, _)), Some(slot)) = (&found, parts.extensions.get::<AuditSlot>()) {
            *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((team.id.clone(), member.id.clone()));
        }
        Ok(Visitor {
            tr,
            signed: found.map(|(session, member, team, config)| Signed {
                session,
                member,
                team,
                config,
                csrf: csrf_of(&token),
            }),
        })
    }
}

impl OptionalFromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Option<Self>, Response> {
        <Visitor as FromRequestParts<AppState>>::from_request_parts(parts, s).await.map(Some)
    }
}

/// Headers every page carries: no caching, no framing, HTTPS only (HSTS), no camera,
/// microphone or location for scripts, no referrer to other sites (set-up
/// links carry a token; `no-referrer` would also make browsers send `Origin: null` on our own
/// forms), scripts and styles only from this server.
fn secure_headers(headers: &mut HeaderMap, tile_url: Option<&str>) {
    let tiles = tile_url.and_then(origin_of).map(|o| format!(" {o}")).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; img-src 'self' data:{tiles}; style-src 'self'; script-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // HTTPS only from the first visit on, for a year (browsers ignore it over plain HTTP, so
    // a test or a first set-up on loopback is not locked out).
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    headers.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
}

/// The same headers on every response of the pages that has not set them itself — refusals,
/// redirects, errors and assets too (an asset keeps its own caching).
pub async fn every_response_secure(mut r: axum::response::Response) -> axum::response::Response {
    let mut wanted = HeaderMap::new();
    secure_headers(&mut wanted, None);
    for (name, value) in wanted.iter() {
        if !r.headers().contains_key(name) {
            r.headers_mut().insert(name.clone(), value.clone());
        }
    }
    r
}

/// `https://host:port` of a URL template, for the CSP.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    (matches!(scheme, "https" | "http") && !host.is_empty() && !host.contains(['{', ' ', ';', '\'']))
        .then(|| format!("{scheme}://{host}"))
}

/// Is this POST from one of our own pages? Browsers send `Origin` with every POST (and, with
/// `Referrer-Policy: same-origin`, a `Referer` of this site); one of them must name exactly
/// this site's origin, scheme included. A request with neither is refused. (With
/// `SameSite=Strict` cookies and the CSRF token, this is the third of three checks.)
fn same_origin(headers: &HeaderMap, web: &WebConfig) -> bool {
    let expected = match &web.public_origin {
        Some(o) => o.trim_end_matches('/').to_string(),
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            format!("{}://{host}", if web.secure_cookies { "https" } else { "http" })
        }
    };
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let from_referer = || {
        let r = text(header::REFERER)?;
        let (scheme, rest) = r.split_once("://")?;
        Some(format!("{scheme}://{}", rest.split('/').next().unwrap_or("")))
    };
    match text(header::ORIGIN) {
        Some(origin) => origin == expected,
        None => from_referer().is_some_and(|o| o == expected),
    }
}
