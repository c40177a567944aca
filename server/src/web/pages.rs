//! The pages and their actions. Each handler: who may (a lead of the team, an administrator),
//! read or decide through `reports` / `review` on a blocking thread, render a template.
//!
//! Helpers return `Result<_, Response>`: the `Err` is the page to answer with (sign in first,
//! forbidden, not found), passed straight back by the handler.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use wijkverkenner_core::record::{Mood, RecordBody, Trust};
use wijkverkenner_core::report::WalkReport;
use wijkverkenner_core::{CategoryKind, Moment, SignalStatus, Taxonomy};

use super::auth;
use super::{same_origin, secure_headers, Signed, Tr, Visitor, SESSION_IDLE_MS, SESSION_MAX_MS};
use crate::admin::{now_ms, sha256_hex};
use crate::api::{AppState, ClientAddr};
use crate::reports::{self, export, Filter, Reason};
use crate::review::{self, Decision, Refused};
use crate::settings::TeamConfig;
use crate::storage::{WebAccount, WebSession};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/setup/{token}", get(setup_page).post(setup))
        .route("/lang/{lang}", get(set_lang))
        .route("/dashboard", get(dashboard))
        .route("/walks/{id}", get(walk_page))
        .route("/walks/{id}/export.geojson", get(walk_geojson))
        .route("/walks/{id}/export.csv", get(walk_csv))
        .route("/export.geojson", get(selection_geojson))
        .route("/export.csv", get(selection_csv))
        .route("/records/{id}", get(record_page))
        .route("/photos/{id}", get(photo_full))
        .route("/photos/{id}/thumb", get(photo_thumb))
        .route("/decide/{id}", post(decide))
        .route("/signals", get(signals_page))
        .route("/referrals", get(referrals_page))
        .route("/referrals/{id}", get(referral_page))
        .route("/area", get(area_page))
        .route("/area.json", get(area_json))
        .route("/buurten.geojson", get(buurten))
        .route("/sessions", get(sessions_page))
        .route("/sessions/{id}/end", post(end_session))
        .route("/audit", get(audit_page))
        .route("/audit.csv", get(audit_csv))
        .route("/settings", get(settings_page))
        .route("/settings/office-hours", post(settings_office_hours))
        .route("/settings/privacy", post(settings_privacy))
        .route("/settings/categories", post(settings_category))
        .route("/settings/categories/new", post(settings_category_new))
        .route(
            "/settings/boundaries",
            post(settings_boundaries).layer(axum::extract::DefaultBodyLimit::max(MAX_BOUNDARIES_UPLOAD)),
        )
        .route("/settings/boundaries/confirm", post(settings_boundaries_confirm))
        .route("/assets/{file}", get(asset))
        .route("/favicon.ico", get(|| asset(Path("icon.svg".to_string()))))
        .layer(axum::middleware::map_response(super::every_response_secure))
}

// ---------------------------------------------------------------------------------------------
// Rendering and refusals

/// What every page's frame needs.
pub struct Chrome {
    pub tr: &'static Tr,
    pub title: String,
    pub signed_in: Option<String>,
    pub csrf: String,
    pub lead: bool,
    pub admin: bool,
    pub partner: bool,
    /// Which navigation entry is current.
    pub here: &'static str,
}

impl Chrome {
    fn new(v: &Visitor, title: &str, here: &'static str) -> Chrome {
        let s = v.signed.as_ref();
        Chrome {
            tr: v.tr,
            title: title.to_string(),
            signed_in: s.map(|s| format!("{} ({})", s.member.display_name, s.team.name)),
            csrf: s.map(|s| s.csrf.clone()).unwrap_or_default(),
            lead: s.is_some_and(Signed::is_lead),
            admin: s.is_some_and(Signed::is_admin),
            partner: s.is_some_and(|s| s.partner_of().is_some()),
            here,
        }
    }
}

fn render(s: &AppState, status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut r = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
            secure_headers(r.headers_mut(), s.web.tile_url.as_deref());
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    message: String,
}

fn message(s: &AppState, v: &Visitor, status: StatusCode, text: &str) -> Response {
    render(s, status, &MessagePage { c: Chrome::new(v, text, ""), message: text.to_string() })
}

fn to_sign_in() -> Response {
    Redirect::to("/sign-in").into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a page failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// The signed-in lead, or the answer for everyone else: sign in first (signed out), 403 (a
/// field worker or an administrator: leads alone see content).
fn lead<'a>(s: &AppState, v: &'a Visitor) -> Result<&'a Signed, Response> {
    match &v.signed {
        None => Err(to_sign_in()),
        Some(signed) if signed.is_lead() => Ok(signed),
        Some(_) => Err(message(s, v, StatusCode::FORBIDDEN, v.tr.forbidden)),
    }
}

/// An action's checks: signed in as `allowed`, the form's CSRF token, our own origin.
fn check_action<'a>(
    s: &AppState,
    v: &'a Visitor,
    headers: &HeaderMap,
    csrf: &str,
    allowed: fn(&Signed) -> bool,
) -> Result<&'a Signed, Response> {
    let Some(signed) = &v.signed else { return Err(to_sign_in()) };
    if !allowed(signed) {
        return Err(message(s, v, StatusCode::FORBIDDEN, v.tr.forbidden));
    }
    if !same_origin(headers, &s.web) || !constant_eq(csrf, &signed.csrf) {
        tracing::warn!(target: "security", member = %signed.member.id, reason = "csrf", "a form without a valid token");
        return Err(message(s, v, StatusCode::FORBIDDEN, v.tr.forbidden));
    }
    Ok(signed)
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> crate::Result<T> + Send + 'static) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(internal(e)),
        Err(e) => Err(internal(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting

fn local(m: Moment) -> chrono::DateTime<chrono::FixedOffset> {
    let offset = chrono::FixedOffset::east_opt(m.offset_s).unwrap_or(chrono::FixedOffset::east_opt(0).expect("zero"));
    chrono::DateTime::from_timestamp_millis(m.utc_ms).unwrap_or_default().with_timezone(&offset)
}

/// A moment as a Dutch (or English) reader writes it, in the walker's own time: "za 28-11-2026
/// 14:25", "Sat 28-11-2026 14:25".
fn date_time(m: Moment, tr: &Tr) -> String {
    use chrono::Datelike;
    let t = local(m);
    let day = t.weekday().num_days_from_monday() as usize;
    let name = if tr.lang == "en" {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day]
    } else {
        ["ma", "di", "wo", "do", "vr", "za", "zo"][day]
    };
    format!("{name} {}", t.format("%d-%m-%Y %H:%M"))
}

fn clock_time(m: Moment) -> String {
    local(m).format("%H:%M").to_string()
}

fn server_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn duration(ms: i64, tr: &Tr) -> String {
    let min = ms.max(0) / 60_000;
    let h = if tr.lang == "nl" { "u" } else { "h" };
    if min >= 60 {
        format!("{} {h} {} min", min / 60, min % 60)
    } else {
        format!("{min} min")
    }
}

fn km(m: f64, tr: &Tr) -> String {
    let s = format!("{:.1} km", m / 1000.0);
    if tr.lang == "nl" {
        s.replace('.', ",")
    } else {
        s
    }
}

/// A value for a URL's query: everything but unreserved characters percent-encoded.
fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn share(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

fn label(taxonomy: &Taxonomy, tr: &Tr, code: &str) -> String {
    taxonomy.get(code).map(|c| if tr.lang == "en" { c.en.clone() } else { c.nl.clone() }).unwrap_or(code.to_string())
}

fn labels(taxonomy: &Taxonomy, tr: &Tr, codes: &[String]) -> String {
    codes.iter().map(|c| label(taxonomy, tr, c)).collect::<Vec<_>>().join(", ")
}

fn as_code<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// The period filter: `7`, `30`, `90` days or everything.
fn since(period: Option<&str>, now: i64) -> (Option<i64>, &'static str) {
    match period {
        Some("7") => (Some(now - 7 * 86_400_000), "7"),
        Some("90") => (Some(now - 90 * 86_400_000), "90"),
        Some("all") => (None, "all"),
        _ => (Some(now - 30 * 86_400_000), "30"),
    }
}

/// A page of this site to go back to after an action: one of the pages, or a walk or record
/// page by its id; anything else is the dashboard (never another site, never a header
/// injection).
fn local_path(back: &str) -> String {
    let back = back.split('?').next().unwrap_or("");
    let page = ["/", "/dashboard", "/signals", "/area", "/sessions", "/settings", "/audit", "/referrals", "/sign-in"]
        .contains(&back);
    let entity = ["/walks/", "/records/", "/referrals/"]
        .iter()
        .any(|p| back.strip_prefix(p).is_some_and(|id| id.len() == 36 && uuid::Uuid::parse_str(id).is_ok()));
    if page || entity {
        back.to_string()
    } else {
        "/dashboard".into()
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in, set-up, sign-out, language

async fn home(v: Visitor) -> Response {
    match &v.signed {
        None => to_sign_in(),
        Some(s) if s.is_admin() => Redirect::to("/sessions").into_response(),
        Some(s) if s.partner_of().is_some() => Redirect::to("/referrals").into_response(),
        Some(_) => Redirect::to("/dashboard").into_response(),
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    c: Chrome,
    failed: bool,
    notice: Option<&'static str>,
    /// The user name typed, kept after a failed attempt (never the password).
    login: String,
}

#[derive(Deserialize)]
struct SignInQuery {
    done: Option<String>,
}

async fn sign_in_page(State(s): State<AppState>, v: Visitor, Query(q): Query<SignInQuery>) -> Response {
    let notice = q.done.is_some().then_some(v.tr.setup_done);
    render(
        &s,
        StatusCode::OK,
        &SignInPage { c: Chrome::new(&v, v.tr.sign_in, ""), failed: false, notice, login: String::new() },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    login: String,
    password: String,
    code: String,
}

async fn sign_in(
    State(s): State<AppState>,
    v: Visitor,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let login: String = f.login.trim().chars().take(64).collect();
    let failed = |status| {
        let page =
            SignInPage { c: Chrome::new(&v, v.tr.sign_in, ""), failed: true, notice: None, login: login.clone() };
        render(&s, status, &page)
    };
    if !same_origin(&headers, &s.web) {
        return failed(StatusCode::FORBIDDEN);
    }
    // One attempt at a time per address, then per login: the limits below see every earlier
    // failure, and a code cannot be used twice by racing it.
    let login = f.login.trim().to_lowercase();
    let _address_turn = s.web.sign_in_turns.turn(&format!("addr {addr}")).await;
    let _login_turn = s.web.sign_in_turns.turn(&format!("login {}", login.chars().take(200).collect::<String>())).await;
    if let Err(wait) = s.web.sign_in_limits.check(addr, std::time::Instant::now()) {
        tracing::warn!(target: "security", addr = %addr, wait_s = wait.as_secs(), reason = "sign_in_rate_limited", "sign-in refused");
        return failed(StatusCode::TOO_MANY_REQUESTS);
    }
    let agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    let storage = s.storage.clone();
    let origin = addr.to_string();
    let outcome = blocking(move || -> crate::Result<Result<(String, String), &'static str>> {
        let now = now_ms();
        // A sign-in to a known account is in its team's audit trail, refused or not.
        let audit = |member: &crate::storage::Member, result: &str| {
            super::record_audit(
                storage.as_ref(),
                &crate::storage::AuditEvent {
                    team_id: member.team_id.clone(),
                    at_ms: now,
                    actor: member.id.clone(),
                    action: "sign-in".into(),
                    object: "/sign-in".into(),
                    result: result.into(),
                    origin: origin.clone(),
                },
            )
        };
        // Every refusal costs the same password check, so the answer's timing tells neither
        // which logins exist nor which are locked.
        let same_work = || {
            auth::verify_password(
                &f.password,
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0sGlXaCMr3pXhBQbn2BXHjmM8Cf0Ez7xqLCQkPkyfy8",
            )
        };
        let account = if login.len() <= 200 { storage.web_account_by_login(&login)? } else { None };
        let Some(mut account) = account else {
            same_work();
            return Ok(Err("unknown_login"));
        };
        let Some(member) = storage.member(&account.member_id)? else {
            same_work();
            return Ok(Err("member_disabled"));
        };
        if member.disabled_ms.is_some() {
            same_work();
            audit(&member, "member_disabled")?;
            return Ok(Err("member_disabled"));
        }
        if account.locked_until_ms > now {
            same_work();
            audit(&member, "account_locked")?;
            return Ok(Err("account_locked"));
        }
        let password_ok = auth::verify_password(&f.password, &account.password_hash);
        let step = if password_ok {
            auth::totp_check(&account.totp_secret, &f.code, now, account.totp_last_step)
        } else {
            None
        };
        let Some(step) = step else {
            (account.failures, account.locked_until_ms) = auth::after_failure(account.failures, now);
            storage.update_web_account(&account)?;
            let reason = if password_ok { "wrong_code" } else { "wrong_password" };
            audit(&member, reason)?;
            return Ok(Err(reason));
        };
        // Claimed only if no other attempt (another server process) used this step meanwhile.
        if !storage.claim_totp_step(&account.member_id, step)? {
            audit(&member, "code_reused")?;
            return Ok(Err("code_reused"));
        }
        let token = auth::token();
        storage.create_session(&WebSession {
            token_hash: sha256_hex(&token),
            member_id: account.member_id.clone(),
            created_ms: now,
            last_seen_ms: now,
            expires_ms: now + SESSION_IDLE_MS.min(SESSION_MAX_MS),
            ended_ms: None,
            agent,
        })?;
        audit(&member, "ok")?;
        Ok(Ok((token, account.member_id)))
    })
    .await;
    match outcome {
        Err(r) => r,
        Ok(Err(reason)) => {
            s.web.sign_in_limits.failed(addr, std::time::Instant::now());
            tracing::warn!(target: "security", addr = %addr, reason, "sign-in refused");
            failed(StatusCode::UNAUTHORIZED)
        }
        Ok(Ok((token, member))) => {
            s.web.sign_in_limits.succeeded(addr);
            tracing::info!(target: "security", addr = %addr, member = %member, "signed in");
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = s.web.session_cookie(Some(&token)).parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(s): State<AppState>, v: Visitor, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let signed = match check_action(&s, &v, &headers, &f.csrf, |_| true) {
        Ok(signed) => signed.clone(),
        Err(r) => return r,
    };
    let storage = s.storage.clone();
    let id = signed.session.id().to_string();
    if let Err(r) = blocking(move || storage.end_session(&signed.team.id, &id, now_ms())).await {
        return r;
    }
    let mut r = Redirect::to("/sign-in").into_response();
    if let Ok(v) = s.web.session_cookie(None).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    c: Chrome,
    login: String,
    secret: String,
    qr_svg: String,
    problem: Option<&'static str>,
}

fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build()
            // The `<?xml …?>` line is not HTML.
            .split_once("?>")
            .map(|(_, svg)| svg.trim().to_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn setup_view(s: &AppState, v: &Visitor, setup: &crate::storage::WebSetup, problem: Option<&'static str>) -> Response {
    let uri = auth::otpauth_uri("Wijkverkenner", &setup.login, &setup.totp_secret);
    let page = SetupPage {
        c: Chrome::new(v, v.tr.setup_title, ""),
        login: setup.login.clone(),
        secret: setup.totp_secret.clone(),
        qr_svg: qr_svg(&uri),
        problem,
    };
    render(s, if problem.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK }, &page)
}

async fn setup_page(State(s): State<AppState>, v: Visitor, Path(token): Path<String>) -> Response {
    let storage = s.storage.clone();
    let hash = sha256_hex(&token);
    match blocking(move || storage.web_setup(&hash, now_ms())).await {
        Err(r) => r,
        Ok(None) => message(&s, &v, StatusCode::NOT_FOUND, v.tr.setup_invalid),
        Ok(Some(setup)) => setup_view(&s, &v, &setup, None),
    }
}

#[derive(Deserialize)]
struct SetupForm {
    password: String,
    password_again: String,
    code: String,
}

async fn setup(
    State(s): State<AppState>,
    v: Visitor,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<SetupForm>,
) -> Response {
    if !same_origin(&headers, &s.web) {
        return message(&s, &v, StatusCode::FORBIDDEN, v.tr.forbidden);
    }
    let storage = s.storage.clone();
    let hash = sha256_hex(&token);
    let setup = match blocking(move || storage.web_setup(&hash, now_ms())).await {
        Err(r) => return r,
        Ok(None) => return message(&s, &v, StatusCode::NOT_FOUND, v.tr.setup_invalid),
        Ok(Some(setup)) => setup,
    };
    let tr = v.tr;
    let problem = match auth::password_problem(&f.password, &setup.login) {
        Some("password_short") => Some(tr.password_short),
        Some("password_long") => Some(tr.password_long),
        Some("password_guessable") => Some(tr.password_guessable),
        Some(_) => Some(tr.password_login),
        None if f.password != f.password_again => Some(tr.password_mismatch),
        None => None,
    };
    if problem.is_some() {
        return setup_view(&s, &v, &setup, problem);
    }
    let now = now_ms();
    let Some(step) = auth::totp_check(&setup.totp_secret, &f.code, now, 0) else {
        return setup_view(&s, &v, &setup, Some(tr.code_wrong));
    };
    let storage = s.storage.clone();
    let hash = sha256_hex(&token);
    let done = blocking(move || {
        let password_hash = auth::hash_password(&f.password).map_err(crate::Error::Other)?;
        let account = WebAccount {
            member_id: setup.member_id.clone(),
            login: setup.login.clone(),
            password_hash,
            totp_secret: setup.totp_secret.clone(),
            totp_last_step: step,
            failures: 0,
            locked_until_ms: 0,
            created_ms: now,
        };
        storage.finish_web_setup(&hash, &account, now)
    })
    .await;
    match done {
        Err(r) => r,
        Ok(false) => message(&s, &v, StatusCode::CONFLICT, v.tr.setup_invalid),
        Ok(true) => {
            tracing::info!(target: "security", addr = %addr, reason = "web_account_set_up", "a web account was set up");
            Redirect::to("/sign-in?done=1").into_response()
        }
    }
}

async fn set_lang(Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let lang = if lang == "en" { "en" } else { "nl" };
    // Back to the page the visitor was on (a path of this site only).
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string())))
        .map(|p| local_path(&p))
        .unwrap_or_else(|| "/".into());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = format!("wv_lang={lang}; Path=/; SameSite=Lax; Max-Age=31536000").parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Dashboard

#[derive(Deserialize, Default)]
struct DashboardQuery {
    period: Option<String>,
    buurt: Option<String>,
    member: Option<String>,
    status: Option<String>,
    /// `open` (not yet reviewed) or `done`.
    review: Option<String>,
}

struct Opt {
    value: String,
    label: String,
    selected: bool,
}

struct WalkLine {
    id: String,
    started: String,
    author: String,
    status: String,
    walking: String,
    distance: String,
    outside: String,
    buurten: String,
    records: usize,
    signals: usize,
    reviewed: bool,
    /// The author answered a lead's question about the walk, and no lead has reviewed it since.
    answered: bool,
}

struct AttentionLine {
    id: String,
    at: String,
    author: String,
    category: String,
    severity: String,
    severity_code: String,
    status: String,
    reasons: String,
}

struct TacticsView {
    walks: u32,
    walking: String,
    outside: String,
    median: String,
    conversations: u32,
    lay: u32,
    professional: u32,
    help: u32,
    signals: u32,
    known: u32,
    near: u32,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Chrome,
    periods: Vec<Opt>,
    buurten: Vec<Opt>,
    members: Vec<Opt>,
    statuses: Vec<Opt>,
    reviews: Vec<Opt>,
    walks: Vec<WalkLine>,
    attention: Vec<AttentionLine>,
    tactics: TacticsView,
    export_query: String,
}

fn options(all: &str, current: Option<&str>, items: impl IntoIterator<Item = (String, String)>) -> Vec<Opt> {
    std::iter::once(Opt { value: String::new(), label: all.into(), selected: current.is_none() })
        .chain(items.into_iter().map(|(value, label)| Opt { selected: current == Some(value.as_str()), value, label }))
        .collect()
}

fn buurt_name(t: &TeamConfig, code: &str) -> String {
    t.boundaries.as_ref().and_then(|b| b.names.get(code)).map(|n| format!("{n} ({code})")).unwrap_or(code.to_string())
}

fn reason_text(tr: &Tr, r: Reason) -> &'static str {
    match r {
        Reason::New => tr.reason_new,
        Reason::Severe => tr.reason_severe,
        Reason::Overdue => tr.reason_overdue,
        Reason::Answered => tr.reason_answered,
    }
}

fn filter_of(q: &DashboardQuery, now: i64) -> (Filter, &'static str) {
    let (since_ms, period) = since(q.period.as_deref(), now);
    let nonempty = |o: &Option<String>| o.clone().filter(|v| !v.is_empty() && v.len() <= 64);
    let filter = Filter {
        since_ms,
        buurt: nonempty(&q.buurt),
        member: nonempty(&q.member),
        status: q.status.as_deref().and_then(|s| serde_json::from_value(serde_json::Value::String(s.into())).ok()),
        reviewed: match q.review.as_deref() {
            Some("open") => Some(false),
            Some("done") => Some(true),
            _ => None,
        },
    };
    (filter, period)
}

async fn dashboard(State(s): State<AppState>, v: Visitor, Query(q): Query<DashboardQuery>) -> Response {
    let signed = match lead(&s, &v) {
        Ok(l) => l.clone(),
        Err(r) => return r,
    };
    let now = now_ms();
    let (filter, period) = filter_of(&q, now);
    let storage = s.storage.clone();
    let taxonomy = signed.config.taxonomy.clone();
    let team_id = signed.team.id.clone();
    let f = filter.clone();
    let model = s.read_model.clone();
    let (board, all_buurten, members) = match blocking(move || {
        model.with(storage.as_ref(), &team_id, |data| {
            let board = reports::dashboard(data, &f, &taxonomy, now);
            let buurten: std::collections::BTreeSet<String> =
                data.walks.values().flat_map(|(w, _)| w.buurten.iter().cloned()).collect();
            let mut members: Vec<(String, String)> = data
                .members
                .values()
                .filter(|m| m.role.syncs())
                .map(|m| (m.id.clone(), m.display_name.clone()))
                .collect();
            // By name, the same order on every load.
            members.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
            (board, buurten, members)
        })
    })
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tr = v.tr;
    let tx = &signed.config.taxonomy;
    let t = &board.tactics;
    let page = DashboardPage {
        c: Chrome::new(&v, tr.dashboard, "dashboard"),
        periods: [("7", tr.period_7), ("30", tr.period_30), ("90", tr.period_90), ("all", tr.period_all)]
            .into_iter()
            .map(|(value, label)| Opt { value: value.into(), label: label.into(), selected: value == period })
            .collect(),
        buurten: options(
            tr.all,
            filter.buurt.as_deref(),
            all_buurten.into_iter().map(|b| (b.clone(), buurt_name(&signed.config, &b))),
        ),
        members: options(tr.all, filter.member.as_deref(), members),
        statuses: options(
            tr.all,
            q.status.as_deref().filter(|x| !x.is_empty()),
            ["active", "ended", "submitted"].into_iter().map(|x| (x.to_string(), tr.walk_status(x).to_string())),
        ),
        reviews: options(
            tr.all,
            q.review.as_deref().filter(|x| !x.is_empty()),
            [("open", tr.review_open), ("done", tr.review_done)].map(|(v, l)| (v.to_string(), l.to_string())),
        ),
        walks: board
            .walks
            .iter()
            .map(|w| WalkLine {
                id: w.report.walk_id.to_string(),
                started: date_time(w.report.started, tr),
                author: w.author.clone(),
                status: tr.walk_status(&as_code(&w.report.status)).to_string(),
                walking: duration(w.report.walking_ms, tr),
                distance: km(w.report.distance_m, tr),
                outside: share(w.report.outside_office_hours_share),
                buurten: w.report.buurten.iter().map(|b| buurt_name(&signed.config, b)).collect::<Vec<_>>().join(", "),
                records: w.records,
                signals: w.signals,
                reviewed: w.report.reviewed_ms.is_some(),
                answered: w.report.review.answer.is_some() && w.report.reviewed_ms.is_none(),
            })
            .collect(),
        attention: board
            .attention
            .iter()
            .map(|a| {
                let (category, severity, status) = match &a.record.body {
                    RecordBody::Signal(sig) => (
                        label(tx, tr, &sig.category),
                        as_code(&sig.severity),
                        as_code(&a.record.review.status.unwrap_or(SignalStatus::New)),
                    ),
                    other => (tr.kind(other.kind().as_str()).to_string(), String::new(), String::new()),
                };
                AttentionLine {
                    id: a.record.id.to_string(),
                    at: date_time(a.record.created, tr),
                    author: a.author.clone(),
                    category,
                    severity: if severity.is_empty() { String::new() } else { tr.severity(&severity).to_string() },
                    severity_code: severity,
                    status: if status.is_empty() { String::new() } else { tr.signal_status(&status).to_string() },
                    reasons: a.reasons.iter().map(|r| reason_text(tr, *r)).collect::<Vec<_>>().join(", "),
                }
            })
            .collect(),
        tactics: TacticsView {
            walks: t.walks,
            walking: duration(t.walking_ms, tr),
            outside: share(t.outside_office_hours_share),
            median: t.median_conversation_min.map(|m| format!("{m:.0} {}", tr.minutes)).unwrap_or("–".into()),
            conversations: t.conversations,
            lay: t.conversations_with_lay_people,
            professional: t.conversations_with_professionals,
            help: t.conversations_with_immediate_help,
            signals: t.signals,
            known: t.signals_at_known_places,
            near: t.signals_near_earlier_records,
        },
        export_query: export_query(&q, period),
    };
    render(&s, StatusCode::OK, &page)
}

fn export_query(q: &DashboardQuery, period: &str) -> String {
    let mut parts = vec![format!("period={period}")];
    for (k, v) in [("buurt", &q.buurt), ("member", &q.member), ("status", &q.status), ("review", &q.review)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            let enc: String =
                v.bytes().filter(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_').map(char::from).collect();
            parts.push(format!("{k}={enc}"));
        }
    }
    parts.join("&")
}

// ---------------------------------------------------------------------------------------------
// Walk report

struct ParticipantView {
    text: String,
}

struct TimelineView {
    id: String,
    time: String,
    kind: String,
    kind_code: String,
    what: String,
    /// The start of what the walker wrote (the whole on the record's page).
    text: String,
    buurt: String,
    severity: String,
    status: String,
    reviewed: bool,
    open_question: bool,
    /// The record's stored photos (their thumbnails in the row).
    photos: Vec<String>,
}

struct CountView {
    label: String,
    kind: String,
    count: u32,
}

struct ConversationView {
    id: String,
    time: String,
    roles: String,
    people: u8,
    minutes: u16,
    mood: String,
    trust: String,
    agreements: String,
    help: bool,
}

struct SignalView {
    id: String,
    time: String,
    category: String,
    severity: String,
    severity_code: String,
    status: String,
    referral: String,
    at_known_place: bool,
}

#[derive(Template)]
#[template(path = "walk.html")]
struct WalkPage {
    c: Chrome,
    id: String,
    author: String,
    purpose: String,
    status: String,
    started: String,
    ended: String,
    duration: String,
    walking: String,
    distance: String,
    outside: String,
    outside_share: String,
    buurten: String,
    participants: Vec<ParticipantView>,
    timeline: Vec<TimelineView>,
    counts: Vec<CountView>,
    conversations: Vec<ConversationView>,
    signals: Vec<SignalView>,
    review: ReviewView,
    notice: Option<&'static str>,
    tile_url: String,
    /// What the map script needs to say, as JSON: labels of the walk's codes, kinds, controls.
    map_words: String,
    /// The walker's look back: the logic that dominated, and the note.
    debrief_logic: String,
    debrief_note: String,
}

/// The review block of a walk or record page.
struct ReviewView {
    id: String,
    back: String,
    reviewed: Option<String>,
    question: Option<String>,
    answer: Option<String>,
    /// Earlier questions and their answers, oldest first.
    earlier: Vec<ThreadLine>,
    history: Vec<HistoryView>,
}

struct ThreadLine {
    at: String,
    who: String,
    question: bool,
    text: String,
}

/// The questions and answers before the current question, from the review log (which keeps
/// their texts when a lead asks again).
fn earlier_questions(review: &wijkverkenner_core::Review) -> Vec<ThreadLine> {
    let texted: Vec<&wijkverkenner_core::review::ReviewStep> = review.log.iter().filter(|s| s.text.is_some()).collect();
    let current =
        texted.iter().rposition(|s| s.field == "review_question" && s.text == review.question).unwrap_or(texted.len());
    texted[..current]
        .iter()
        .map(|s| ThreadLine {
            at: server_time(s.at_ms),
            who: s.by_name.clone(),
            question: s.field == "review_question",
            text: s.text.clone().unwrap_or_default(),
        })
        .collect()
}

struct HistoryView {
    at: String,
    who: String,
    what: String,
    comment: String,
}

fn kind_label(tr: &Tr, k: CategoryKind) -> String {
    match k {
        CategoryKind::ObservationTheme => tr.observation,
        CategoryKind::CounterpartRole => tr.conversation,
        CategoryKind::SignalCategory => tr.signal,
        _ => "",
    }
    .to_string()
}

fn mood(tr: &Tr, m: Mood) -> String {
    let code = as_code(&m);
    match (tr.lang, code.as_str()) {
        ("nl", "hostile") => "vijandig".into(),
        ("nl", "tense") => "gespannen".into(),
        ("nl", "neutral") => "neutraal".into(),
        ("nl", "open") => "open".into(),
        ("nl", "warm") => "hartelijk".into(),
        _ => code.replace('_', " "),
    }
}

fn trust(tr: &Tr, t: Trust) -> String {
    let code = as_code(&t);
    match (tr.lang, code.as_str()) {
        ("nl", "low") => "laag".into(),
        ("nl", "medium") => "gemiddeld".into(),
        ("nl", "high") => "hoog".into(),
        _ => code.replace('_', " "),
    }
}

fn history_view(tr: &Tr, taxonomy: &Taxonomy, h: Vec<(crate::storage::HistoryEntry, String)>) -> Vec<HistoryView> {
    h.into_iter()
        .map(|(e, who)| {
            let what = match (e.field.as_str(), e.value.as_str()) {
                (_, "cleared") => format!("{} {}", tr.field(&e.field), tr.history_cleared),
                ("review_status", v) => format!("{}: {}", tr.field(&e.field), tr.signal_status(v)),
                ("review_referral", v) => format!("{} {}", tr.history_referred_to, label(taxonomy, tr, v)),
                ("reviewed_ms", _) => tr.history_reviewed.to_string(),
                ("review_question", _) => tr.history_asked.to_string(),
                ("review_answer", _) => tr.history_answered.to_string(),
                (_, v) => format!("{}: {v}", tr.field(&e.field)),
            };
            HistoryView { at: server_time(e.at_ms), who, what, comment: e.comment.unwrap_or_default() }
        })
        .collect()
}

#[derive(Deserialize)]
struct NoticeQuery {
    msg: Option<String>,
}

fn notice(tr: &Tr, q: &NoticeQuery) -> Option<&'static str> {
    match q.msg.as_deref() {
        Some("saved") => Some(tr.decision_saved),
        Some("saved_redacted") => Some(tr.decision_saved_redacted),
        Some("refused") => Some(tr.decision_refused),
        Some("referral_missing") => Some(tr.referral_missing),
        _ => None,
    }
}

/// What a record says in words: an observation's note, a conversation's gist, a signal's
/// description.
fn record_text(b: &RecordBody) -> &str {
    match b {
        RecordBody::Observation(o) => &o.note,
        RecordBody::Conversation(c) => &c.gist,
        RecordBody::Signal(s) => &s.description,
    }
}

/// The first 120 characters of a text, on one line.
fn snippet(t: &str) -> String {
    let one_line: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 120 {
        one_line
    } else {
        one_line.chars().take(119).collect::<String>() + "…"
    }
}

fn report_view(
    t: &TeamConfig,
    tr: &Tr,
    r: &WalkReport,
) -> (Vec<TimelineView>, Vec<CountView>, Vec<ConversationView>, Vec<SignalView>) {
    let tx = &t.taxonomy;
    let timeline = r
        .timeline
        .iter()
        .map(|e| TimelineView {
            id: e.id.to_string(),
            time: clock_time(e.at),
            kind: tr.kind(e.kind.as_str()).to_string(),
            kind_code: e.kind.as_str().to_string(),
            what: labels(tx, tr, &e.codes),
            buurt: e.buurt.as_deref().map(|b| buurt_name(t, b)).unwrap_or_default(),
            severity: e.severity.map(|x| tr.severity(&as_code(&x)).to_string()).unwrap_or_default(),
            status: e.status.map(|x| tr.signal_status(&as_code(&x)).to_string()).unwrap_or_default(),
            reviewed: e.reviewed,
            open_question: e.open_question,
            text: String::new(),
            photos: Vec::new(),
        })
        .collect();
    let counts = r
        .counts
        .iter()
        .map(|c| CountView { label: label(tx, tr, &c.code), kind: kind_label(tr, c.kind), count: c.count })
        .collect();
    let conversations = r
        .conversations
        .iter()
        .map(|c| ConversationView {
            id: c.id.to_string(),
            time: clock_time(c.at),
            roles: labels(tx, tr, &c.roles),
            people: c.people,
            minutes: c.duration_min,
            mood: mood(tr, c.mood),
            trust: trust(tr, c.trust),
            agreements: c.agreements.clone(),
            help: c.immediate_help,
        })
        .collect();
    let signals = r
        .signals
        .iter()
        .map(|x| SignalView {
            id: x.id.to_string(),
            time: clock_time(x.at),
            category: label(tx, tr, &x.category),
            severity: tr.severity(&as_code(&x.severity)).to_string(),
            severity_code: as_code(&x.severity),
            status: tr.signal_status(&as_code(&x.status)).to_string(),
            referral: x.referral.as_deref().map(|c| label(tx, tr, c)).unwrap_or_default(),
            at_known_place: x.at_known_place,
        })
        .collect();
    (timeline, counts, conversations, signals)
}

async fn walk_page(
    State(s): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let signed = match lead(&s, &v) {
        Ok(l) => l.clone(),
        Err(r) => return r,
    };
    let storage = s.storage.clone();
    let taxonomy = signed.config.taxonomy.clone();
    let team_id = signed.team.id.clone();
    let walk_id = id.clone();
    let found = blocking(move || {
        let Some(data) = reports::load_walk(storage.as_ref(), &team_id, &walk_id)? else { return Ok(None) };
        let report = WalkReport::of(&data.walk, &data.records, &taxonomy, now_ms());
        let history = reports::history(storage.as_ref(), &team_id, &walk_id)?;
        // What each record says, for the timeline (the report itself carries no free text).
        let texts: std::collections::HashMap<String, String> =
            data.records.iter().map(|r| (r.id.to_string(), snippet(record_text(&r.body)))).collect();
        let mut photos = BTreeMap::new();
        for r in &data.records {
            let ids = stored_photos(storage.as_ref(), &team_id, &r.id.to_string())?.0;
            if !ids.is_empty() {
                photos.insert(r.id.to_string(), ids);
            }
        }
        Ok(Some((report, history, data.author, texts, photos)))
    })
    .await;
    let (r, history, author, texts, photos) = match found {
        Err(resp) => return resp,
        Ok(None) => return message(&s, &v, StatusCode::NOT_FOUND, v.tr.not_found),
        Ok(Some(x)) => x,
    };
    let tr = v.tr;
    let (mut timeline, counts, conversations, signals) = report_view(&signed.config, tr, &r);
    for line in timeline.iter_mut() {
        line.text = texts.get(&line.id).cloned().unwrap_or_default();
        line.photos = photos.get(&line.id).cloned().unwrap_or_default();
    }
    let page = WalkPage {
        c: Chrome::new(&v, &format!("{} – {}", tr.walk_report, date_time(r.started, tr)), "dashboard"),
        id: id.clone(),
        author,
        purpose: r.purpose.clone(),
        status: tr.walk_status(&as_code(&r.status)).to_string(),
        started: date_time(r.started, tr),
        ended: r.ended.map(|m| date_time(m, tr)).unwrap_or_default(),
        duration: duration(r.duration_ms, tr),
        walking: duration(r.walking_ms, tr),
        distance: km(r.distance_m, tr),
        outside: duration(r.outside_office_hours_ms, tr),
        outside_share: share(r.outside_office_hours_share),
        buurten: r.buurten.iter().map(|b| buurt_name(&signed.config, b)).collect::<Vec<_>>().join(", "),
        participants: r
            .participants
            .iter()
            .map(|p| ParticipantView {
                text: match (&p.name, &p.role) {
                    (Some(n), _) => format!(
                        "{n}{} – {}",
                        p.organisation.as_deref().map(|o| format!(", {o}")).unwrap_or_default(),
                        tr.professional
                    ),
                    (None, Some(role)) => {
                        format!("{role} – {}", if p.lay_person { tr.lay_person } else { tr.professional })
                    }
                    _ => String::new(),
                },
            })
            .collect(),
        timeline,
        counts,
        conversations,
        signals,
        review: ReviewView {
            id: id.clone(),
            back: format!("/walks/{id}"),
            reviewed: r.reviewed_ms.map(server_time),
            question: r.review.question.clone(),
            answer: r.review.answer.clone(),
            earlier: earlier_questions(&r.review),
            history: history_view(tr, &signed.config.taxonomy, history),
        },
        notice: notice(tr, &q),
        tile_url: s.web.tile_url.clone().unwrap_or_default(),
        debrief_logic: r.debrief.as_ref().and_then(|d| d.dominant).map(|l| tr.logic(l).to_string()).unwrap_or_default(),
        debrief_note: r.debrief.as_ref().map(|d| d.note.clone()).unwrap_or_default(),
        map_words: serde_json::json!({
            "labels": r.timeline.iter().flat_map(|e| e.codes.iter()).map(|c| (c.clone(), label(&signed.config.taxonomy, tr, c))).collect::<BTreeMap<_, _>>(),
            "kinds": {"observation": tr.observation, "conversation": tr.conversation, "signal": tr.signal},
            "zoom_in": tr.zoom_in, "zoom_out": tr.zoom_out,
            // A record's photos, by its id: thumbnails in the marker's tooltip.
            "photos": photos, "photo_alt": tr.photo_alt,
        })
        .to_string(),
    };
    render(&s, StatusCode::OK, &page)
}

// ---------------------------------------------------------------------------------------------
// Record page: content, review, signal triage with history

struct Field {
    name: String,
    value: String,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    c: Chrome,
    id: String,
    walk_id: String,
    kind: String,
    is_signal: bool,
    author: String,
    at: String,
    buurt: String,
    fields: Vec<Field>,
    status: String,
    next_statuses: Vec<Opt>,
    referrals: Vec<Opt>,
    review: ReviewView,
    notice: Option<&'static str>,
    /// The stored photos' ids, and how many are still arriving.
    photos: Vec<String>,
    photos_arriving: usize,
}

/// A record's stored photos (ids, in order) and how many more are still being uploaded.
fn stored_photos(
    storage: &dyn crate::storage::Storage,
    team_id: &str,
    record_id: &str,
) -> crate::Result<(Vec<String>, usize)> {
    let all = storage.photos_of(team_id, record_id)?;
    let arriving = all.iter().filter(|p| !p.stored).count();
    Ok((all.into_iter().filter(|p| p.stored).map(|p| p.photo.id).collect(), arriving))
}

async fn record_page(
    State(s): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let signed = match lead(&s, &v) {
        Ok(l) => l.clone(),
        Err(r) => return r,
    };
    let storage = s.storage.clone();
    let team_id = signed.team.id.clone();
    let record_id = id.clone();
    let found = blocking(move || {
        let mut row = None;
        storage.transaction(&mut |tx| {
            row = tx.get_row(&team_id, &record_id)?;
            Ok(())
        })?;
        let Some(row) = row.filter(|r| !r.quarantined) else { return Ok(None) };
        let Ok(e) = serde_json::from_str::<wijkverkenner_core::sync::wire::Entity>(&row.doc) else { return Ok(None) };
        if e.deleted || e.kind == wijkverkenner_core::sync::wire::EntityKind::Walk {
            return Ok(None);
        }
        let Ok(record) = wijkverkenner_core::sync::codec::record_of(&e) else { return Ok(None) };
        let author = storage.member(&e.author_id)?.map(|m| m.display_name).unwrap_or_else(|| "?".into());
        let history = reports::history(storage.as_ref(), &team_id, &record_id)?;
        let photos = stored_photos(storage.as_ref(), &team_id, &record_id)?;
        Ok(Some((record, author, history, photos)))
    })
    .await;
    let (record, author, history, (photos, photos_arriving)) = match found {
        Err(resp) => return resp,
        Ok(None) => return message(&s, &v, StatusCode::NOT_FOUND, v.tr.not_found),
        Ok(Some(x)) => x,
    };
    let tr = v.tr;
    let tx = &signed.config.taxonomy;
    let yes_no = |b: bool| if b { tr.yes } else { tr.no }.to_string();
    let f = |name: &str, value: String| Field { name: name.into(), value };
    let (fields, status) = match &record.body {
        RecordBody::Observation(o) => (vec![f(tr.kind, labels(tx, tr, &o.themes)), f("", o.note.clone())], None),
        RecordBody::Conversation(c) => (
            vec![
                f(tr.kind, labels(tx, tr, &c.roles)),
                f(tr.people, c.people.to_string()),
                f(tr.duration, format!("{} {}", c.duration_min, tr.minutes)),
                f(tr.mood, mood(tr, c.mood)),
                f(tr.trust, trust(tr, c.trust)),
                f("", c.gist.clone()),
                f(tr.agreements, c.agreements.clone()),
                f(tr.immediate_help, yes_no(c.immediate_help)),
            ],
            None,
        ),
        RecordBody::Signal(sig) => (
            vec![
                f(tr.kind, label(tx, tr, &sig.category)),
                f(tr.severity, tr.severity(&as_code(&sig.severity)).to_string()),
                f("", sig.description.clone()),
                f(tr.at_known_places, yes_no(sig.at_known_place)),
                f(tr.follow_up, sig.follow_up.clone()),
                f(
                    tr.suggested_referral,
                    sig.suggested_referral.as_deref().map(|c| label(tx, tr, c)).unwrap_or_default(),
                ),
                f(tr.referral, record.review.referral.as_deref().map(|c| label(tx, tr, c)).unwrap_or_default()),
            ],
            Some(record.review.status.unwrap_or(SignalStatus::New)),
        ),
    };
    let next_statuses = status
        .map(|now| {
            [SignalStatus::InReview, SignalStatus::Referred, SignalStatus::Closed, SignalStatus::New]
                .into_iter()
                .filter(|n| *n != now && now.can_become(*n))
                .map(|n| Opt { value: as_code(&n), label: tr.signal_status(&as_code(&n)).to_string(), selected: false })
                .collect()
        })
        .unwrap_or_default();
    let suggested = match &record.body {
        RecordBody::Signal(sig) => sig.suggested_referral.clone(),
        _ => None,
    };
    let referrals = tx
        .active(CategoryKind::ReferralTarget)
        .map(|c| Opt {
            value: c.code.clone(),
            label: if tr.lang == "en" { c.en.clone() } else { c.nl.clone() },
            selected: suggested.as_deref() == Some(c.code.as_str()),
        })
        .collect();
    let page = RecordPage {
        c: Chrome::new(
            &v,
            &format!("{} – {}", tr.kind(record.body.kind().as_str()), date_time(record.created, tr)),
            "signals",
        ),
        id: id.clone(),
        walk_id: record.walk_id.to_string(),
        kind: tr.kind(record.body.kind().as_str()).to_string(),
        is_signal: status.is_some(),
        author,
        at: date_time(record.created, tr),
        buurt: record.buurt.as_deref().map(|b| buurt_name(&signed.config, b)).unwrap_or_default(),
        fields: fields.into_iter().filter(|f| !f.value.is_empty()).collect(),
        status: status.map(|x| tr.signal_status(&as_code(&x)).to_string()).unwrap_or_default(),
        next_statuses,
        referrals,
        review: ReviewView {
            id: id.clone(),
            back: format!("/records/{id}"),
            reviewed: record.reviewed_ms.map(server_time),
            question: record.review.question.clone(),
            answer: record.review.answer.clone(),
            earlier: earlier_questions(&record.review),
            history: history_view(tr, tx, history),
        },
        notice: notice(tr, &q),
        photos,
        photos_arriving,
    };
    render(&s, StatusCode::OK, &page)
}

// ---------------------------------------------------------------------------------------------
// Photos: for the team's leads, as the record they belong to (a full photo's view is in the
// audit trail through the pages' middleware; a thumbnail is part of the page that shows it)

async fn photo_full(s: State<AppState>, v: Visitor, id: Path<String>) -> Response {
    photo(s, v, id, crate::photos::PhotoSize::Full).await
}

async fn photo_thumb(s: State<AppState>, v: Visitor, id: Path<String>) -> Response {
    photo(s, v, id, crate::photos::PhotoSize::Thumbnail).await
}

async fn photo(
    State(s): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    size: crate::photos::PhotoSize,
) -> Response {
    let signed = match lead(&s, &v) {
        Ok(l) => l.clone(),
        Err(r) => return r,
    };
    let storage = s.storage.clone();
    let team_id = signed.team.id.clone();
    let found = blocking(move || crate::photos::for_lead(storage.as_ref(), &team_id, &id, size)).await;
    match found {
        Err(resp) => resp,
        Ok(None) => message(&s, &v, StatusCode::NOT_FOUND, v.tr.not_found),
        Ok(Some(bytes)) => {
            let mut r = ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response();
            secure_headers(r.headers_mut(), s.web.tile_url.as_deref());
            // Opened on its own, the browser shows the photo in a document of its own making
            // that styles itself inline; nothing in a JPEG (nosniff) can run.
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static(
                    "default-src 'self'; img-src 'self'; style-src 'unsafe-inline'; script-src 'none'; \
                     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            );
            r
        }
    }
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    referral: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    back: String,
    /// The lead ticked "send as typed": personal data in the question or comment stays.
    keep_personal: Option<String>,
}

/// A lead's text with the personal data the core finds in it replaced by placeholders
/// (`[telefoonnummer]`), unless the lead chose to keep it; whether anything was replaced.
fn guarded(text: &str, keep: bool) -> (String, bool) {
    let found = wijkverkenner_core::personal_data::find(text);
    if keep || found.is_empty() {
        (text.to_string(), false)
    } else {
        (wijkverkenner_core::personal_data::redact(text, &found), true)
    }
}

async fn decide(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> Response {
    let signed = match check_action(&s, &v, &headers, &f.csrf, Signed::is_lead) {
        Ok(l) => l.clone(),
        Err(r) => return r,
    };
    // A question goes to the walker's phone and a comment into the history: what the core finds
    // of a resident in them is replaced, as on the phone, unless the lead keeps it.
    let keep = f.keep_personal.is_some();
    let (question, q_replaced) = guarded(&f.question, keep);
    let (comment, c_replaced) = guarded(&f.comment, keep);
    let redacted = q_replaced || c_replaced;
    let decision = match f.action.as_str() {
        "reviewed" => Some(Decision::Reviewed),
        "ask" if !question.trim().is_empty() => Some(Decision::Ask(question)),
        "status" => {
            serde_json::from_value::<SignalStatus>(serde_json::Value::String(f.status.clone())).ok().map(|status| {
                Decision::Status {
                    status,
                    referral: (status == SignalStatus::Referred && !f.referral.is_empty()).then(|| f.referral.clone()),
                }
            })
        }
        _ => None,
    };
    let back = local_path(&f.back);
    // A referral names where it goes, every time (an earlier target is not reused unseen).
    if matches!(decision, Some(Decision::Status { status: SignalStatus::Referred, referral: None })) {
        return Redirect::to(&format!("{back}?msg=referral_missing")).into_response();
    }
    let Some(decision) = decision else {
        return Redirect::to(&format!("{back}?msg=refused")).into_response();
    };
    let storage = s.storage.clone();
    let outcome = blocking(move || {
        let rules = signed.config.as_ref().into();
        review::decide(storage.as_ref(), rules, &signed.member, &signed.team, &id, &decision, Some(&comment))
    })
    .await;
    match outcome {
        Err(r) => r,
        Ok(Err(Refused::NotFound)) => message(&s, &v, StatusCode::NOT_FOUND, v.tr.not_found),
        Ok(Err(Refused::NotALead)) => message(&s, &v, StatusCode::FORBIDDEN, v.tr.forbidden),
        Ok(Err(Refused::Rule(_))) => Redirect::to(&format!("{back}?msg=refused")).into_response(),
        Ok(Ok(())) => {
            let msg = if redacted { "saved_redacted" } else { "saved" };
            Redirect::to(&format!("{back}?msg={msg}")).into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signals

#[derive(Deserialize)]
struct SignalsQuery {
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "signals.html")]
struct SignalsPage {
    c: Chrome,
    statuses: Vec<Opt>,
    signals: Vec<AttentionLine>,
}

async fn signals_page(State(s): State<AppState>, v: Visitor, Query(q): Query<SignalsQuery>) -> Response {
    let signed = match lead(&s, &v) {
        Ok(l) => l.clone(),
        Err(r) => return r,
    };
    let want: Option<SignalStatus> =
        q.status.as_deref().and_then(|x| serde_json::from_value(serde_json::Value::String(x.into())).ok());
    let storage = s.storage.clone();
    let team_id = signed.team.id.clone();
    let model = s.read_model.clone();
    let tr = v.tr;
    let taxonomy = signed.config.taxonomy.clone();
    let now = now_ms();
    let lines = blocking(move || {
        model.with(storage.as_ref(), &team_id, |data| {
            let mut lines: Vec<(i64, AttentionLine)> = data
                .records
                .values()
                .filter_map(|r| {
                    let RecordBody::Signal(sig) = &r.body else { return None };
                    let status = r.review.status.unwrap_or(SignalStatus::New);
                    if want.is_some_and(|w| w != status) {
                        return None;
                    }
                    Some((
                        r.created.utc_ms,
                        AttentionLine {
                            id: r.id.to_string(),
                            at: date_time(r.created, tr),
                            author: data.author_name(&r.author_id.to_string()),
                            category: label(&taxonomy, tr, &sig.category),
                            severity: tr.severity(&as_code(&sig.severity)).to_string(),
                            severity_code: as_code(&sig.severity),
                            status: tr.signal_status(&as_code(&status)).to_string(),
                            reasons: reports::reasons(r, now)
                                .into_iter()
                                .map(|x| reason_text(tr, x))
                                .collect::<Vec<_>>()
                                .join(", "),
                        },
                    ))
                })
                .collect();
            lines.sort_by_key(|l| std::cmp::Reverse(l.0));
            lines
        })
    })
    .await;
    let lines = match lines {
        Ok(l) => l,
        Err(r) => return r,
    };
    let page = SignalsPage {
        c: Chrome::new(&v, tr.signals, "signals"),
        statuses: options(
            tr.all,
            want.map(|w| as_code(&w)).as_deref(),
            ["new", "in_review", "referred", "closed"]
                .into_iter()
                .map(|x| (x.to_string(), tr.signal_status(x).to_string())),
        ),
        signals: lines.into_iter().map(|(_, l)| l).collect(),
    };
    render(&s, StatusCode::OK, &page)
}

// ---------------------------------------------------------------------------------------------
// A partner organisation's view: the signals referred to it

/// The signed-in partner and the referral target whose signals they read, or the answer for
/// everyone else (leads have their own pages; nobody else sees referrals).
fn partner<'a>(s: &AppState, v: &'a Visitor) -> Result<(&'a Signed, String), Response> {
    match &v.signed {
        None => Err(to_sign_in()),
        Some(signed) => match signed.partner_of() {
            Some(referral) => Ok((signed, referral.to_string())),
            None => Err(message(s, v, StatusCode::FORBIDDEN, v.tr.forbidden)),
        },
    }
}

/// Whether a record is referred to `referral` now: a signal whose status is `referred` to that
/// target. A signal taken back into review, closed, or referred elsewhere is no longer the
/// partner's to see.
fn referred_to(r: &wijkverkenner_core::record::Record, referral: &str) -> bool {
    matches!(r.body, RecordBody::Signal(_))
        && r.review.status == Some(SignalStatus::Referred)
        && r.review.referral.as_deref() == Some(referral)
}

/// The step that referred the signal to `referral` as it stands: when, and by which lead.
fn referral_step<'a>(
    r: &'a wijkverkenner_core::record::Record,
    referral: &str,
) -> Option<&'a wijkverkenner_core::review::ReviewStep> {
    // The later of the last step that set the status to referred (a signal referred again
    // after a review keeps its target: only its status changes) and the last that set the
    // target to `referral`.
    r.review
        .log
        .iter()
        .filter(|s| {
            (s.field == "review_status" && s.value == "referred")
                || (s.field == "review_referral" && s.value == referral)
        })
        .max_by_key(|s| s.at_ms)
}

/// A referred signal as its partner sees it: what, when, how serious, where. Never who
/// reported it, the walk, the lead's question or the author's answer.
struct ReferralLine {
    id: String,
    at: String,
    category: String,
    severity: String,
    severity_code: String,
    buurt: String,
    referred_on: String,
}

fn referral_line(
    r: &wijkverkenner_core::record::Record,
    referral: &str,
    config: &TeamConfig,
    tr: &'static Tr,
) -> Option<ReferralLine> {
    let RecordBody::Signal(sig) = &r.body else { return None };
    Some(ReferralLine {
        id: r.id.to_string(),
        at: date_time(r.created, tr),
        category: label(&config.taxonomy, tr, &sig.category),
        severity: tr.severity(&as_code(&sig.severity)).to_string(),
        severity_code: as_code(&sig.severity),
        buurt: r.buurt.as_deref().map(|b| buurt_name(config, b)).unwrap_or_default(),
        referred_on: referral_step(r, referral).map(|s| server_time(s.at_ms)).unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct ReferralsPage {
    c: Chrome,
    signals: Vec<ReferralLine>,
}

async fn referrals_page(State(s): State<AppState>, v: Visitor) -> Response {
    let (signed, referral) = match partner(&s, &v) {
        Ok((p, r)) => (p.clone(), r),
        Err(r) => return r,
    };
    let (storage, model, tr) = (s.storage.clone(), s.read_model.clone(), v.tr);
    let team_id = signed.team.id.clone();
    let config = signed.config.clone();
    let lines = blocking(move || {
        model.with(storage.as_ref(), &team_id, |data| {
            let mut lines: Vec<(i64, ReferralLine)> = data
                .records
                .values()
                .filter(|r| referred_to(r, &referral))
                .filter_map(|r| Some((r.created.utc_ms, referral_line(r, &referral, &config, tr)?)))
                .collect();
            lines.sort_by_key(|l| std::cmp::Reverse(l.0));
            lines.into_iter().map(|(_, l)| l).collect::<Vec<_>>()
        })
    })
    .await;
    match lines {
        Ok(signals) => {
            render(&s, StatusCode::OK, &ReferralsPage { c: Chrome::new(&v, tr.nav_referrals, "referrals"), signals })
        }
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
    c: Chrome,
    r: ReferralLine,
    description: String,
    /// The point as the author recorded it: a referral hands the case over, and the
    /// organisation acting on it needs the place.
    place: String,
    at_known_place: String,
    follow_up: String,
    referred_by: String,
}

async fn referral_page(State(s): State<AppState>, v: Visitor, Path(id): Path<String>) -> Response {
    let (signed, referral) = match partner(&s, &v) {
        Ok((p, r)) => (p.clone(), r),
        Err(r) => return r,
    };
    let (storage, model, tr) = (s.storage.clone(), s.read_model.clone(), v.tr);
    let team_id = signed.team.id.clone();
    let config = signed.config.clone();
    let page = blocking(move || {
        model.with(storage.as_ref(), &team_id, |data| {
            let r = data.records.get(&id).filter(|r| referred_to(r, &referral))?;
            let RecordBody::Signal(sig) = &r.body else { return None };
            let place = match &r.location {
                wijkverkenner_core::RecordLocation::Fix(l) => {
                    format!("{:.5}, {:.5} (± {:.0} m)", l.lat, l.lon, l.accuracy_m)
                }
                // No fix of its own: the walk's last good one, and the reader must know.
                wijkverkenner_core::RecordLocation::Inherited(l) => {
                    format!("{:.5}, {:.5} (± {:.0} m, {})", l.lat, l.lon, l.accuracy_m, tr.place_inherited)
                }
                wijkverkenner_core::RecordLocation::None => tr.no_place.to_string(),
            };
            Some((
                referral_line(r, &referral, &config, tr)?,
                sig.description.clone(),
                place,
                if sig.at_known_place { tr.yes } else { tr.no }.to_string(),
                sig.follow_up.clone(),
                referral_step(r, &referral).map(|s| s.by_name.clone()).unwrap_or_default(),
            ))
        })
    })
    .await;
    match page {
        Ok(Some((r, description, place, at_known_place, follow_up, referred_by))) => {
            let c = Chrome::new(&v, &r.category, "referrals");
            render(
                &s,
                StatusCode::OK,
                &ReferralPage { c, r, description, place, at_known_place, follow_up, referred_by },
            )
        }
        Ok(None) => message(&s, &v, StatusCode::NOT_FOUND, v.tr.not_found),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Area view

#[derive(Deserialize)]
struct AreaQuery {
    period: Option<String>,
    buurt: Option<String>,
}

struct AreaLine {
    code: String,
    name: String,
    observations: u32,
    conversations: u32,
    signals: u32,
}

#[derive(Template)]
#[template(path = "area.html")]
struct AreaPage {
    c: Chrome,
    periods: Vec<Opt>,
    period: String,
    lines: Vec<AreaLine>,
    selected: Option<String>,
    categories: Vec<CountView>,
    tile_url: String,
    map_words: String,
}

/// A buurt's counts in the period, with the team's settings (for labels and names).
type AreaData = (BTreeMap<String, reports::BuurtCounts>, &'static str, Arc<TeamConfig>);

async fn area_data(s: &AppState, v: &Visitor, period: Option<&str>) -> Result<AreaData, Response> {
    let signed = lead(s, v)?.clone();
    let (since_ms, period) = since(period, now_ms());
    let storage = s.storage.clone();
    let model = s.read_model.clone();
    let team_id = signed.team.id.clone();
    let counts = blocking(move || model.with(storage.as_ref(), &team_id, |data| reports::area(data, since_ms))).await?;
    Ok((counts, period, signed.config))
}

async fn area_page(State(s): State<AppState>, v: Visitor, Query(q): Query<AreaQuery>) -> Response {
    let (counts, period, config) = match area_data(&s, &v, q.period.as_deref()).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tr = v.tr;
    let selected = q.buurt.filter(|b| counts.contains_key(b));
    let categories = selected
        .as_ref()
        .and_then(|b| counts.get(b))
        .map(|c| {
            let mut v: Vec<CountView> = c
                .categories
                .iter()
                .map(|(code, n)| CountView {
                    label: label(&config.taxonomy, tr, code),
                    kind: config.taxonomy.get(code).map(|c| kind_label(tr, c.kind)).unwrap_or_default(),
                    count: *n,
                })
                .collect();
            v.sort_by_key(|c| std::cmp::Reverse(c.count));
            v
        })
        .unwrap_or_default();
    let page = AreaPage {
        c: Chrome::new(&v, tr.area, "area"),
        periods: [("7", tr.period_7), ("30", tr.period_30), ("90", tr.period_90), ("all", tr.period_all)]
            .into_iter()
            .map(|(value, label)| Opt { value: value.into(), label: label.into(), selected: value == period })
            .collect(),
        period: period.to_string(),
        lines: counts
            .iter()
            .map(|(code, c)| AreaLine {
                code: percent(code),
                name: buurt_name(&config, code),
                observations: c.observations,
                conversations: c.conversations,
                signals: c.signals,
            })
            .collect(),
        selected: selected.map(|b| buurt_name(&config, &b)),
        categories,
        tile_url: s.web.tile_url.clone().unwrap_or_default(),
        map_words: serde_json::json!({
            "observations": tr.observations_lc, "conversations": tr.conversations_lc, "signals": tr.signals_lc,
            "zoom_in": tr.zoom_in, "zoom_out": tr.zoom_out,
        })
        .to_string(),
    };
    render(&s, StatusCode::OK, &page)
}

fn json_response(s: &AppState, body: String, content_type: &'static str, download: Option<String>) -> Response {
    let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    secure_headers(r.headers_mut(), s.web.tile_url.as_deref());
    if let Some(name) = download.and_then(|n| format!("attachment; filename=\"{n}\"").parse().ok()) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, name);
    }
    r
}

async fn area_json(State(s): State<AppState>, v: Visitor, Query(q): Query<AreaQuery>) -> Response {
    match area_data(&s, &v, q.period.as_deref()).await {
        Ok((counts, _, _)) => {
            json_response(&s, serde_json::to_string(&counts).unwrap_or_default(), "application/json", None)
        }
        Err(r) => r,
    }
}

async fn buurten(State(s): State<AppState>, v: Visitor) -> Response {
    let signed = match lead(&s, &v) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let body = signed
        .config
        .boundaries
        .as_ref()
        .map(|b| b.geojson.clone())
        .unwrap_or(r#"{"type":"FeatureCollection","features":[]}"#.into());
    json_response(&s, body, "application/geo+json", None)
}

// ---------------------------------------------------------------------------------------------
// Exports

async fn walk_export(s: &AppState, v: &Visitor, id: &str) -> Result<(reports::WalkData, serde_json::Value), Response> {
    let signed = lead(s, v)?.clone();
    let storage = s.storage.clone();
    let taxonomy = signed.config.taxonomy.clone();
    let walk_id = id.to_string();
    let found = blocking(move || {
        let Some(data) = reports::load_walk(storage.as_ref(), &signed.team.id, &walk_id)? else { return Ok(None) };
        let features = WalkReport::of(&data.walk, &data.records, &taxonomy, now_ms()).map_features(&data.track);
        Ok(Some((data, features)))
    })
    .await?;
    found.ok_or_else(|| message(s, v, StatusCode::NOT_FOUND, v.tr.not_found))
}

async fn walk_geojson(State(s): State<AppState>, v: Visitor, Path(id): Path<String>) -> Response {
    match walk_export(&s, &v, &id).await {
        Ok((data, features)) => {
            let track: Vec<serde_json::Value> = features["features"]
                .as_array()
                .map(|f| f.iter().filter(|f| f["properties"]["kind"] == "track").cloned().collect())
                .unwrap_or_default();
            let records: Vec<_> = data.records.iter().collect();
            let doc = export::geojson(&records, track);
            json_response(&s, doc.to_string(), "application/geo+json", Some(format!("walk-{id}.geojson")))
        }
        Err(r) => r,
    }
}

async fn walk_csv(State(s): State<AppState>, v: Visitor, Path(id): Path<String>) -> Response {
    match walk_export(&s, &v, &id).await {
        Ok((data, _)) => {
            let mut records: Vec<_> = data.records.iter().collect();
            records.sort_by_key(|r| r.created.utc_ms);
            let Some(t) = v.signed.as_ref().map(|x| x.config.clone()) else { return to_sign_in() };
            let csv = export::csv(&records, &|c| label(&t.taxonomy, v.tr, c));
            let day = data.walk.started;
            let name = format!("wijkverkenning-{}-{}.csv", local(day).format("%Y-%m-%d"), &id[..8.min(id.len())]);
            json_response(&s, csv, "text/csv; charset=utf-8", Some(name))
        }
        Err(r) => r,
    }
}

/// The records of the walks the dashboard's filter admits, in time order (copied out of the
/// read model).
async fn selection(s: &AppState, v: &Visitor, q: &DashboardQuery) -> Result<Vec<wijkverkenner_core::Record>, Response> {
    let signed = lead(s, v)?.clone();
    let (filter, _) = filter_of(q, now_ms());
    let storage = s.storage.clone();
    let model = s.read_model.clone();
    blocking(move || {
        model.with(storage.as_ref(), &signed.team.id, |data| {
            let walks: std::collections::HashSet<_> =
                data.walks.values().filter(|(w, _)| filter.admits(w)).map(|(w, _)| w.id).collect();
            let mut records: Vec<_> = data.records.values().filter(|r| walks.contains(&r.walk_id)).cloned().collect();
            records.sort_by_key(|r| (r.created.utc_ms, r.id));
            records
        })
    })
    .await
}

async fn selection_geojson(State(s): State<AppState>, v: Visitor, Query(q): Query<DashboardQuery>) -> Response {
    match selection(&s, &v, &q).await {
        Ok(data) => {
            let records: Vec<_> = data.iter().collect();
            json_response(
                &s,
                export::geojson(&records, vec![]).to_string(),
                "application/geo+json",
                Some("selection.geojson".into()),
            )
        }
        Err(r) => r,
    }
}

async fn selection_csv(State(s): State<AppState>, v: Visitor, Query(q): Query<DashboardQuery>) -> Response {
    match selection(&s, &v, &q).await {
        Ok(data) => {
            let records: Vec<_> = data.iter().collect();
            let Some(t) = v.signed.as_ref().map(|x| x.config.clone()) else { return to_sign_in() };
            let csv = export::csv(&records, &|c| label(&t.taxonomy, v.tr, c));
            let name = format!(
                "selectie-{}.csv",
                chrono::Utc::now().with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d")
            );
            json_response(&s, csv, "text/csv; charset=utf-8", Some(name))
        }
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions (administrators)

struct SessionLine {
    id: String,
    member: String,
    started: String,
    seen: String,
    agent: String,
    current: bool,
}

struct AuditLine {
    time: String,
    actor: String,
    action: String,
    object: String,
    result: String,
    origin: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    lines: Vec<AuditLine>,
}

/// How far back the audit page and its export look.
const AUDIT_DAYS: i64 = 30;
/// Most entries in one export (about 20 MB).
const AUDIT_EXPORT_ROWS: usize = 100_000;

/// The team's audit trail with members named (an administrator knows the team), newest first.
async fn audit_lines(s: &AppState, signed: &Signed, limit: usize) -> Result<Vec<AuditLine>, Response> {
    let storage = s.storage.clone();
    let team_id = signed.team.id.clone();
    let (events, members) = blocking(move || {
        let since = now_ms() - AUDIT_DAYS * 86_400_000;
        Ok((storage.audit(Some(&team_id), since, limit)?, storage.members(&team_id)?))
    })
    .await?;
    let names: std::collections::HashMap<String, String> =
        members.into_iter().map(|m| (m.id.clone(), format!("{} ({})", m.display_name, m.id))).collect();
    Ok(events
        .into_iter()
        .map(|e| AuditLine {
            time: chrono::DateTime::from_timestamp_millis(e.at_ms)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_default(),
            actor: names.get(&e.actor).cloned().unwrap_or(e.actor),
            action: e.action,
            object: e.object,
            result: e.result,
            origin: e.origin,
        })
        .collect())
}

async fn audit_page(State(s): State<AppState>, v: Visitor) -> Response {
    let signed = match admin(&s, &v) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let lines = match audit_lines(&s, &signed, 1000).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    render(&s, StatusCode::OK, &AuditPage { c: Chrome::new(&v, v.tr.audit, "audit"), lines })
}

/// The audit trail as CSV, newest first, the period's last [`AUDIT_EXPORT_ROWS`] entries, for
/// the municipality's own checks (the command line's `audit` has no limit).
async fn audit_csv(State(s): State<AppState>, v: Visitor) -> Response {
    let signed = match admin(&s, &v) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let lines = match audit_lines(&s, &signed, AUDIT_EXPORT_ROWS).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    // The exports' conventions: semicolons, RFC 4180 quoting, formulas defused, a byte-order
    // mark, CRLF.
    let sep = export::CSV_SEPARATOR;
    let mut out = format!("\u{feff}{}\r\n", ["time", "actor", "action", "object", "result", "origin"].join(sep));
    for l in &lines {
        let row = [&l.time, &l.actor, &l.action, &l.object, &l.result, &l.origin];
        out.push_str(&row.iter().map(|f| export::csv_field(f)).collect::<Vec<_>>().join(sep));
        out.push_str("\r\n");
    }
    json_response(&s, out, "text/csv; charset=utf-8", Some("audit.csv".into()))
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    c: Chrome,
    sessions: Vec<SessionLine>,
}

async fn sessions_page(State(s): State<AppState>, v: Visitor) -> Response {
    let signed = match &v.signed {
        None => return to_sign_in(),
        Some(x) if x.is_admin() => x.clone(),
        Some(_) => return message(&s, &v, StatusCode::FORBIDDEN, v.tr.forbidden),
    };
    let storage = s.storage.clone();
    let team_id = signed.team.id.clone();
    let list = match blocking(move || storage.sessions(&team_id, now_ms())).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let page = SessionsPage {
        c: Chrome::new(&v, v.tr.sessions, "sessions"),
        sessions: list
            .into_iter()
            .map(|(x, m)| SessionLine {
                current: x.token_hash == signed.session.token_hash,
                id: x.id().to_string(),
                member: m.display_name,
                started: server_time(x.created_ms),
                seen: server_time(x.last_seen_ms),
                agent: x.agent,
            })
            .collect(),
    };
    render(&s, StatusCode::OK, &page)
}

async fn end_session(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let signed = match check_action(&s, &v, &headers, &f.csrf, Signed::is_admin) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let storage = s.storage.clone();
    match blocking(move || storage.end_session(&signed.team.id, &id, now_ms())).await {
        Err(r) => r,
        Ok(ended) => {
            if ended {
                tracing::info!(target: "security", member = %v.signed.as_ref().map(|x| x.member.id.clone()).unwrap_or_default(), reason = "session_ended_by_admin", "a session was ended");
            }
            Redirect::to("/sessions").into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Team settings (administrators): categories, office hours, boundaries. Every change goes
// through `settings::change`, one transaction; phones take it at their next sync.

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    c: Chrome,
    notice: Option<String>,
    error: Option<String>,
    updated: Option<String>,
    days: Vec<Opt>,
    start: String,
    end: String,
    time_zone: String,
    boundaries: String,
    kinds: Vec<KindView>,
    /// Uploaded boundaries waiting for the administrator's "yes" (they would change a lot).
    confirm: Option<ConfirmView>,
    /// The grid for shared places, and the retention terms.
    grids: Vec<Opt>,
    terms: Vec<TermView>,
}

struct TermView {
    name: &'static str,
    label: &'static str,
    min: u32,
    value: u32,
}

/// The grids an administrator chooses from (metres).
const GRIDS: [u32; 6] = [50, 100, 250, 500, 1000, 2000];

struct ConfirmView {
    token: String,
    text: String,
}

struct KindView {
    code: &'static str,
    label: &'static str,
    signal: bool,
    role: bool,
    categories: Vec<CategoryView>,
}

struct CategoryView {
    n: usize,
    code: String,
    nl: String,
    en: String,
    sensitive: bool,
    professional: bool,
    retired: bool,
}

#[derive(Deserialize)]
struct SettingsQuery {
    msg: Option<String>,
    restricted: Option<usize>,
    /// Buurten just loaded.
    buurten: Option<usize>,
}

fn kind_code(k: CategoryKind) -> &'static str {
    match k {
        CategoryKind::ObservationTheme => "observation_theme",
        CategoryKind::CounterpartRole => "counterpart_role",
        CategoryKind::SignalCategory => "signal_category",
        CategoryKind::ReferralTarget => "referral_target",
    }
}

/// The signed-in administrator, or the answer for everyone else.
fn admin<'a>(s: &AppState, v: &'a Visitor) -> Result<&'a Signed, Response> {
    match &v.signed {
        None => Err(to_sign_in()),
        Some(x) if x.is_admin() => Ok(x),
        Some(_) => Err(message(s, v, StatusCode::FORBIDDEN, v.tr.forbidden)),
    }
}

fn settings_view(v: &Visitor, config: &TeamConfig, notice: Option<String>, error: Option<String>) -> SettingsPage {
    let tr = v.tr;
    let oh = &config.office_hours;
    let names = [tr.monday, tr.tuesday, tr.wednesday, tr.thursday, tr.friday, tr.saturday, tr.sunday];
    let mut n = 0;
    let kinds = [
        (CategoryKind::ObservationTheme, tr.kind_themes),
        (CategoryKind::CounterpartRole, tr.kind_roles),
        (CategoryKind::SignalCategory, tr.kind_signals),
        (CategoryKind::ReferralTarget, tr.kind_referrals),
    ]
    .into_iter()
    .map(|(kind, label)| KindView {
        code: kind_code(kind),
        label,
        signal: kind == CategoryKind::SignalCategory,
        role: kind == CategoryKind::CounterpartRole,
        categories: config
            .taxonomy
            .categories
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| {
                n += 1;
                CategoryView {
                    n,
                    code: c.code.clone(),
                    nl: c.nl.clone(),
                    en: c.en.clone(),
                    sensitive: c.sensitive,
                    professional: c.professional,
                    retired: c.retired,
                }
            })
            .collect(),
    })
    .collect();
    SettingsPage {
        c: Chrome::new(v, tr.settings, "settings"),
        notice,
        error,
        updated: config.updated.as_ref().map(|(ms, _)| server_time(*ms)),
        days: (1..=7u8)
            .map(|d| Opt { value: d.to_string(), label: names[d as usize - 1].into(), selected: oh.days.contains(&d) })
            .collect(),
        start: oh.start.clone(),
        end: oh.end.clone(),
        time_zone: oh.time_zone.clone(),
        boundaries: match (&config.boundaries, config.own_boundaries) {
            (Some(b), true) => format!("{} {}", b.names.len(), tr.boundaries_own),
            (Some(_), false) => tr.boundaries_default.into(),
            (None, _) => tr.boundaries_none.into(),
        },
        kinds,
        confirm: None,
        grids: GRIDS
            .iter()
            .map(|m| Opt {
                value: m.to_string(),
                label: format!("{m} m"),
                selected: f64::from(*m) == config.shared_cell_m,
            })
            .collect(),
        terms: {
            let r = &config.retention;
            vec![
                TermView {
                    name: "conversation_days",
                    label: tr.term_conversations,
                    min: 1,
                    value: r.conversation_days,
                },
                TermView { name: "observation_days", label: tr.term_observations, min: 1, value: r.observation_days },
                TermView {
                    name: "closed_signal_days",
                    label: tr.term_closed_signals,
                    min: 1,
                    value: r.closed_signal_days,
                },
                TermView { name: "walk_days", label: tr.term_walks, min: 1, value: r.walk_days },
                TermView {
                    name: "raw_fixes_after_review_days",
                    label: tr.term_raw_fixes,
                    min: 0,
                    value: r.raw_fixes_after_review_days,
                },
                TermView { name: "lock_after_days", label: tr.term_lock, min: 0, value: r.lock_after_days },
            ]
        },
    }
}

async fn settings_page(State(s): State<AppState>, v: Visitor, Query(q): Query<SettingsQuery>) -> Response {
    let signed = match admin(&s, &v) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let mut notice = match (q.msg.as_deref(), q.restricted.filter(|n| *n > 0)) {
        (Some("saved"), Some(n)) => Some(format!("{} {n} {}", v.tr.settings_saved, v.tr.settings_restricted)),
        (Some("saved"), None) => Some(v.tr.settings_saved.to_string()),
        (Some("cancelled"), _) => Some(v.tr.upload_cancelled.to_string()),
        _ => None,
    };
    if let (Some(n), Some(text)) = (q.buurten, notice.as_mut()) {
        text.push_str(&format!(" {n} {}", v.tr.buurten_loaded));
    }
    render(&s, StatusCode::OK, &settings_view(&v, &signed.config, notice, None))
}

/// Applies a change for the signed-in administrator: back to the settings page with a notice,
/// or the page again with the reason it was refused.
async fn apply_settings(s: &AppState, v: &Visitor, signed: &Signed, change: crate::settings::Change) -> Response {
    let boundaries_change = matches!(change, crate::settings::Change::Boundaries(_));
    let (storage, teams, member, team) =
        (s.storage.clone(), s.teams.clone(), signed.member.clone(), signed.team.id.clone());
    let outcome = blocking(move || {
        let out =
            crate::settings::change(storage.as_ref(), &teams, &team, crate::settings::By::Member(&member), &change)?;
        let config = teams.config_of(storage.as_ref(), &team)?;
        Ok((out, config))
    })
    .await;
    match outcome {
        Err(r) => r,
        Ok((Ok(changed), config)) => {
            let loaded = match (&boundaries_change, config) {
                (true, Some(c)) => format!("&buurten={}", c.boundaries.as_ref().map_or(0, |b| b.names.len())),
                _ => String::new(),
            };
            Redirect::to(&format!("/settings?msg=saved&restricted={}{loaded}", changed.restricted)).into_response()
        }
        Ok((Err(refused), config)) => {
            let config = config.unwrap_or_else(|| signed.config.clone());
            let why = v.tr.settings_refusal(&refused.0);
            render(s, StatusCode::BAD_REQUEST, &settings_view(v, &config, None, Some(why)))
        }
    }
}

/// The privacy form: numbers as typed (a non-number is refused with the page, not by the
/// form parser).
#[derive(Deserialize)]
struct PrivacyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    grid_m: String,
    #[serde(default)]
    conversation_days: String,
    #[serde(default)]
    observation_days: String,
    #[serde(default)]
    closed_signal_days: String,
    #[serde(default)]
    walk_days: String,
    #[serde(default)]
    raw_fixes_after_review_days: String,
    #[serde(default)]
    lock_after_days: String,
}

/// The team's privacy policy: the grid for shared places and the retention terms (phones take
/// both with the settings).
async fn settings_privacy(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Form(f): Form<PrivacyForm>,
) -> Response {
    let signed = match check_action(&s, &v, &headers, &f.csrf, Signed::is_admin) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let n = |x: &str| x.trim().parse::<u32>().ok();
    let parsed = (|| {
        Some((
            n(&f.grid_m)?,
            crate::retention::Retention {
                conversation_days: n(&f.conversation_days)?,
                observation_days: n(&f.observation_days)?,
                closed_signal_days: n(&f.closed_signal_days)?,
                walk_days: n(&f.walk_days)?,
                raw_fixes_after_review_days: n(&f.raw_fixes_after_review_days)?,
                lock_after_days: n(&f.lock_after_days)?,
            },
        ))
    })();
    let refused = |why: &str| {
        render(&s, StatusCode::BAD_REQUEST, &settings_view(&v, &signed.config, None, Some(why.to_string())))
    };
    let Some((grid, terms)) = parsed.filter(|(g, t)| GRIDS.contains(g) && t.check().is_ok()) else {
        return refused(v.tr.privacy_invalid);
    };
    let (storage, team, config) = (s.storage.clone(), signed.team.id.clone(), signed.config.clone());
    let done = blocking(move || {
        let now = now_ms();
        if terms != config.retention {
            crate::retention::set_terms(storage.as_ref(), &team, &terms, now)?;
        }
        if f64::from(grid) != config.shared_cell_m {
            crate::sync::set_location_grid(storage.as_ref(), &team, grid, now)?;
        }
        Ok(())
    })
    .await;
    match done {
        Ok(()) => Redirect::to("/settings?msg=saved").into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct OfficeHoursForm {
    #[serde(default)]
    csrf: String,
    day1: Option<String>,
    day2: Option<String>,
    day3: Option<String>,
    day4: Option<String>,
    day5: Option<String>,
    day6: Option<String>,
    day7: Option<String>,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
}

async fn settings_office_hours(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Form(f): Form<OfficeHoursForm>,
) -> Response {
    let signed = match check_action(&s, &v, &headers, &f.csrf, Signed::is_admin) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let days = [&f.day1, &f.day2, &f.day3, &f.day4, &f.day5, &f.day6, &f.day7]
        .iter()
        .zip(1u8..)
        .filter(|(d, _)| d.is_some())
        .map(|(_, n)| n)
        .collect();
    // Browsers send `HH:MM` (some `HH:MM:SS`): the minutes are what counts.
    let hhmm = |t: &str| t.get(..5).unwrap_or(t).to_string();
    let oh = wijkverkenner_core::OfficeHours {
        time_zone: signed.config.office_hours.time_zone.clone(),
        days,
        start: hhmm(&f.start),
        end: hhmm(&f.end),
    };
    apply_settings(&s, &v, &signed, crate::settings::Change::OfficeHours(oh)).await
}

#[derive(Deserialize)]
struct CategoryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    nl: String,
    #[serde(default)]
    en: String,
    sensitive: Option<String>,
    professional: Option<String>,
}

/// Saves the categories of one kind: every row of its table in one change (`code_N`, `nl_N`,
/// `en_N`, and the flags `sensitive_N`, `professional_N`, `retired_N` when ticked).
async fn settings_category(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let csrf = f.get("csrf").cloned().unwrap_or_default();
    let signed = match check_action(&s, &v, &headers, &csrf, Signed::is_admin) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let text = |k: String| f.get(&k).cloned().unwrap_or_default();
    let ticked = |k: String| f.contains_key(&k);
    let mut edits = Vec::new();
    for n in 1..=wijkverkenner_core::taxonomy::MAX_CATEGORIES {
        let Some(code) = f.get(&format!("code_{n}")) else { continue };
        edits.push(crate::settings::CategoryEdit {
            code: code.clone(),
            nl: text(format!("nl_{n}")),
            en: text(format!("en_{n}")),
            sensitive: ticked(format!("sensitive_{n}")),
            professional: ticked(format!("professional_{n}")),
            retired: ticked(format!("retired_{n}")),
        });
    }
    if edits.is_empty() {
        return message(&s, &v, StatusCode::BAD_REQUEST, v.tr.decision_refused);
    }
    apply_settings(&s, &v, &signed, crate::settings::Change::EditCategories(edits)).await
}

async fn settings_category_new(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Form(f): Form<CategoryForm>,
) -> Response {
    let signed = match check_action(&s, &v, &headers, &f.csrf, Signed::is_admin) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    let Some(kind) = CategoryKind::ALL.into_iter().find(|k| kind_code(*k) == f.kind) else {
        return message(&s, &v, StatusCode::BAD_REQUEST, v.tr.decision_refused);
    };
    let change = crate::settings::Change::AddCategory {
        kind,
        code: Some(f.code).filter(|c| !c.trim().is_empty()),
        nl: f.nl,
        en: f.en,
        sensitive: f.sensitive.is_some(),
        professional: f.professional.is_some(),
    };
    apply_settings(&s, &v, &signed, change).await
}

/// Largest boundaries upload: the buurten and wijken files with the form around them (the
/// normalised buurten may take 8 MB; a file with every property a source has is larger).
pub const MAX_BOUNDARIES_UPLOAD: usize = 24 * 1024 * 1024;

/// Boundaries parsed one upload at a time: parsing takes many times a file's size in memory.
static PARSING_BOUNDARIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

async fn settings_boundaries(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    // Who and from where first, before a byte of the upload is read (or its form judged); the
    // form's token after.
    let signed = match admin(&s, &v) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    if !same_origin(&headers, &s.web) {
        tracing::warn!(target: "security", member = %signed.member.id, reason = "origin", "an upload from elsewhere");
        return message(&s, &v, StatusCode::FORBIDDEN, v.tr.forbidden);
    }
    let Ok(mut form) = form else {
        return render(
            &s,
            StatusCode::BAD_REQUEST,
            &settings_view(&v, &signed.config, None, Some(v.tr.upload_unreadable.into())),
        );
    };
    let tr = v.tr;
    let (mut csrf, mut buurten, mut wijken) = (String::new(), None, None);
    let refuse =
        |text: &str| render(&s, StatusCode::BAD_REQUEST, &settings_view(&v, &signed.config, None, Some(text.into())));
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return refuse(tr.file_too_large),
        };
        let name = field.name().unwrap_or_default().to_string();
        let Ok(bytes) = field.bytes().await else { return refuse(tr.file_too_large) };
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "buurten" | "wijken" if bytes.is_empty() => {}
            "buurten" | "wijken" => {
                let Ok(text) = String::from_utf8(bytes.to_vec()) else { return refuse(tr.file_not_text) };
                if name == "buurten" {
                    buurten = Some(text);
                } else {
                    wijken = Some(text);
                }
            }
            _ => {}
        }
    }
    if !constant_eq(&csrf, &signed.csrf) {
        tracing::warn!(target: "security", member = %signed.member.id, reason = "csrf", "a form without a valid token");
        return message(&s, &v, StatusCode::FORBIDDEN, v.tr.forbidden);
    }
    let Some(buurten) = buurten else { return refuse(tr.file_missing) };
    let Ok(_turn) = PARSING_BOUNDARIES.acquire().await else { return internal("the upload queue closed") };
    let parsed = match blocking(move || Ok(crate::settings::Boundaries::parse(&buurten, wijken.as_deref()))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let b = match parsed {
        Ok(b) => Arc::new(b),
        Err(why) => return refuse(&tr.settings_refusal(&why)),
    };
    // Boundaries that would leave noted buurten out, or lose half of them, wait for a yes: a
    // wijken file in the buurten field is valid GeoJSON too.
    let (storage, model, team) = (s.storage.clone(), s.read_model.clone(), signed.team.id.clone());
    let used = match blocking(move || {
        model.with(storage.as_ref(), &team, |d| {
            let mut used: std::collections::BTreeSet<String> =
                d.records.values().filter_map(|r| r.buurt.clone()).collect();
            used.extend(d.walks.values().flat_map(|(w, _)| w.buurten.iter().cloned()));
            used
        })
    })
    .await
    {
        Ok(u) => u,
        Err(r) => return r,
    };
    let missing = used.iter().filter(|c| !b.names.contains_key(*c)).count();
    let before = signed.config.boundaries.as_ref().map_or(0, |x| x.names.len());
    if missing == 0 && b.names.len() * 2 >= before {
        return apply_settings(&s, &v, &signed, crate::settings::Change::Boundaries(b)).await;
    }
    let token = auth::token();
    let text = format!(
        "{} {} {} {before}. {}",
        tr.confirm_boundaries_new,
        b.names.len(),
        tr.confirm_boundaries_was,
        if missing > 0 { format!("{missing} {}", tr.confirm_boundaries_missing) } else { String::new() }
    );
    s.web.pending_boundaries.put(&token, &signed.member.id, b);
    let mut page = settings_view(&v, &signed.config, None, None);
    page.confirm = Some(ConfirmView { token, text });
    render(&s, StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

/// The administrator's yes to boundaries that change a lot (see [`settings_boundaries`]).
async fn settings_boundaries_confirm(
    State(s): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let signed = match check_action(&s, &v, &headers, &f.csrf, Signed::is_admin) {
        Ok(x) => x.clone(),
        Err(r) => return r,
    };
    match s.web.pending_boundaries.take(&f.token, &signed.member.id) {
        Some(b) => apply_settings(&s, &v, &signed, crate::settings::Change::Boundaries(b)).await,
        None => message(&s, &v, StatusCode::NOT_FOUND, v.tr.upload_expired),
    }
}

// ---------------------------------------------------------------------------------------------
// Assets: bundled into the binary.

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("leaflet.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/leaflet/leaflet.js")),
    ("leaflet.css", "text/css; charset=utf-8", include_bytes!("../../assets/leaflet/leaflet.css")),
    ("LICENSE-leaflet.txt", "text/plain; charset=utf-8", include_bytes!("../../assets/leaflet/LICENSE")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/app.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../assets/style.css")),
    ("icon.svg", "image/svg+xml", include_bytes!("../../assets/icon.svg")),
];

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
