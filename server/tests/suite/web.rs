//! The review pages over real HTTP: set-up links, sign-in with the second factor, lock-out and
//! rate limits, CSRF and origin checks, who may see and do what (a matrix of visitors and
//! endpoints), a lead's decisions reaching the phones through the sync rules and the answer
//! coming back, and the exports. On both storage backends where storage is involved.

use std::sync::Arc;

use crate::common;
use common::*;
use wijkverkenner_core::*;
use wijkverkenner_server::storage::{Member as ServerMember, Role};
use wijkverkenner_server::web::auth;
use wijkverkenner_server::{admin, Storage};

/// A browser: one cookie, no redirects followed, `Origin` on every POST.
pub(crate) struct Browser {
    agent: ureq::Agent,
    base: String,
    pub(crate) cookie: Option<String>,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) body: String,
    pub(crate) headers: ureq::http::HeaderMap,
}

impl Page {
    /// The headers every page carries (refusals and redirects too): a policy for scripts,
    /// no framing, no sniffing, no caching, HTTPS only.
    pub(crate) fn assert_secure(&self, what: &str) {
        let h = |n: &str| self.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert!(h("content-security-policy").contains("default-src 'self'"), "{what}: no CSP");
        assert!(h("content-security-policy").contains("frame-ancestors 'none'"), "{what}: framing");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("cache-control"), "no-store", "{what}");
        assert!(h("strict-transport-security").starts_with("max-age="), "{what}: no HSTS");
        assert_eq!(h("referrer-policy"), "same-origin", "{what}");
        assert!(h("permissions-policy").contains("geolocation=()"), "{what}: no Permissions-Policy");
    }
}

impl Browser {
    pub(crate) fn new(base: &str) -> Browser {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        Browser { agent, base: base.to_string(), cookie: None }
    }

    fn take(&mut self, mut r: ureq::http::Response<ureq::Body>) -> Page {
        if let Some(c) = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = c.split(';').next().unwrap_or("").to_string();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let headers = r.headers().clone();
        Page { status: r.status().as_u16(), location, body: r.body_mut().read_to_string().unwrap_or_default(), headers }
    }

    pub(crate) fn get(&mut self, path: &str) -> Page {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        let r = req.call().unwrap();
        self.take(r)
    }

    pub(crate) fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut req = self.agent.post(format!("{}{path}", self.base)).header("Origin", &self.base);
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        let r = req.send_form(form.iter().copied()).unwrap();
        self.take(r)
    }

    /// The CSRF token of the signed-in session, as the pages carry it.
    pub(crate) fn csrf(&mut self) -> String {
        let page = self.get("/sign-in");
        between(&page.body, "name=\"csrf\" value=\"", "\"").unwrap_or_default()
    }
}

fn between(s: &str, from: &str, to: &str) -> Option<String> {
    let start = s.find(from)? + from.len();
    let end = s[start..].find(to)? + start;
    Some(s[start..end].to_string())
}

pub(crate) fn code(secret: &str, steps_ahead: i64) -> String {
    code_at(secret, step_now() + steps_ahead)
}

/// The current TOTP step: a test that must name one code twice keeps it (a 30 s step may end
/// between two requests).
fn step_now() -> i64 {
    chrono::Utc::now().timestamp_millis() / 30_000
}

fn code_at(secret: &str, step: i64) -> String {
    let raw = auth::base32_decode(secret).unwrap();
    format!("{:06}", auth::totp_at(&raw, step))
}

pub(crate) const PASSWORD: &str = "een lange zin als wachtwoord";

/// Sets up `member`'s web account through a set-up link (using the current TOTP step);
/// returns the TOTP secret.
fn set_up(server: &TestServer, storage: &dyn Storage, member: &ServerMember, login: &str) -> String {
    let token = admin::issue_web_setup(storage, &member.id, login).unwrap();
    let mut b = Browser::new(&server.url);
    let page = b.get(&format!("/setup/{token}"));
    let secret = between(&page.body, "<code id=\"secret\">", "</code>").unwrap();
    let form = [("password", PASSWORD), ("password_again", PASSWORD), ("code", &code(&secret, 0))];
    assert_eq!(b.post(&format!("/setup/{token}"), &form).status, 303);
    secret
}

/// Sets up `member`'s web account through a set-up link and signs in; returns the browser and
/// the TOTP secret.
pub(crate) fn signed_in(
    server: &TestServer,
    storage: &dyn Storage,
    member: &ServerMember,
    login: &str,
) -> (Browser, String) {
    let token = admin::issue_web_setup(storage, &member.id, login).unwrap();
    let mut b = Browser::new(&server.url);
    let page = b.get(&format!("/setup/{token}"));
    assert_eq!(page.status, 200);
    let secret = between(&page.body, "<code id=\"secret\">", "</code>").unwrap();
    assert!(page.body.contains("<svg"), "the QR code is on the page");
    let done = b.post(
        &format!("/setup/{token}"),
        &[("password", PASSWORD), ("password_again", PASSWORD), ("code", &code(&secret, 0))],
    );
    assert_eq!((done.status, done.location.as_str()), (303, "/sign-in?done=1"));
    let page = b.post("/sign-in", &[("login", login), ("password", PASSWORD), ("code", &code(&secret, 1))]);
    assert_eq!(page.status, 303, "signed in: {}", page.body);
    assert!(b.cookie.is_some());
    (b, secret)
}

/// A team with one walk of a field worker: an observation and a sensitive signal, synced.
struct Scene {
    server: TestServer,
    storage: Arc<dyn Storage>,
    t: TestTeam,
    phone: Phone,
    walk: WalkId,
    signal: RecordId,
    observation: RecordId,
    _dir: tempfile::TempDir,
}

fn scene(storage: Arc<dyn Storage>, dir: tempfile::TempDir) -> Scene {
    let server = TestServer::start_web(storage.clone());
    let t = team(storage.as_ref(), "Overvecht", 1);
    let phone = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let walk = phone.store.start_walk(NewWalk { purpose: "Avondronde Zamenhofdreef".into(), ..new_walk(0) }).unwrap();
    let observation = phone
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: observation("Rolluik half open"),
            created: at(5),
            location: Some(location(52.1120, 5.1100)),
        })
        .unwrap()
        .id;
    let signal = phone
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal("Man in auto spreekt jongeren aan", "sig.youth_recruitment"),
            created: at(10),
            location: Some(location(52.1125, 5.1110)),
        })
        .unwrap()
        .id;
    phone.store.end_walk(&walk.id, at(40)).unwrap();
    phone.sync().unwrap();
    Scene { server, storage, t, phone, walk: walk.id, signal, observation, _dir: dir }
}

fn sqlite_scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    scene(sqlite_storage(dir.path()), dir)
}

#[test]
fn a_lead_sets_up_the_account_signs_in_with_the_second_factor_and_signs_out() {
    for s in [sqlite_scene(), scene(postgres_storage(), tempfile::tempdir().unwrap())] {
        let token = admin::issue_web_setup(s.storage.as_ref(), &s.t.lead.id, "marieke").unwrap();
        let mut b = Browser::new(&s.server.url);
        let page = b.get(&format!("/setup/{token}"));
        let secret = between(&page.body, "<code id=\"secret\">", "</code>").unwrap();
        // A short password, different passwords, a wrong code: refused, the link still works.
        let form = |p: &'static str, q: &'static str, c: String| {
            vec![("password", p), ("password_again", q), ("code", Box::leak(c.into_boxed_str()))]
        };
        for f in [
            form("kort", "kort", code(&secret, 0)),
            form(PASSWORD, "een andere lange zin", code(&secret, 0)),
            form(PASSWORD, PASSWORD, "000000".into()),
        ] {
            let page = b.post(&format!("/setup/{token}"), &f);
            assert_eq!(page.status, 400, "{}", page.body);
            assert!(page.body.contains("class=\"error\""));
        }
        let step = step_now();
        let done = b.post(&format!("/setup/{token}"), &form(PASSWORD, PASSWORD, code_at(&secret, step)));
        assert_eq!(done.status, 303);
        // The link works once.
        assert_eq!(b.get(&format!("/setup/{token}")).status, 404);

        // Signed out: every page sends to the sign-in page.
        assert_eq!(b.get("/dashboard").location, "/sign-in");
        // The right password without the second factor, or with a used code: refused.
        let page = b.post("/sign-in", &[("login", "marieke"), ("password", PASSWORD), ("code", "")]);
        assert_eq!(page.status, 401);
        let page =
            b.post("/sign-in", &[("login", "marieke"), ("password", PASSWORD), ("code", &code_at(&secret, step))]);
        assert_eq!(page.status, 401, "the code used at set-up does not work again");
        let page =
            b.post("/sign-in", &[("login", "Marieke "), ("password", PASSWORD), ("code", &code_at(&secret, step + 1))]);
        assert_eq!(page.status, 303);
        let dashboard = b.get("/dashboard");
        assert_eq!(dashboard.status, 200);
        assert!(dashboard.body.contains(&s.walk.to_string()), "the walk is listed");
        assert!(dashboard.body.contains("Werving van jongeren"), "the signal needs attention");

        // Sign out: the cookie is gone and the old session token no longer works.
        let old = b.cookie.clone();
        let csrf = b.csrf();
        assert_eq!(b.post("/sign-out", &[("csrf", &csrf)]).location, "/sign-in");
        assert!(b.cookie.is_none());
        b.cookie = old;
        assert_eq!(b.get("/dashboard").location, "/sign-in");
    }
}

#[test]
fn wrong_second_factors_lock_the_account_and_slow_the_address() {
    let s = sqlite_scene();
    let (mut lead, secret) = signed_in(&s.server, s.storage.as_ref(), &s.t.lead, "lead");
    let mut b = Browser::new(&s.server.url);
    for _ in 0..auth::LOCK_AFTER {
        let page = b.post("/sign-in", &[("login", "lead"), ("password", PASSWORD), ("code", "123456")]);
        assert_eq!(page.status, 401);
        assert!(page.body.contains("role=\"alert\""));
    }
    // The address now waits, whatever it sends.
    let page = b.post("/sign-in", &[("login", "lead"), ("password", PASSWORD), ("code", &code(&secret, 1))]);
    assert_eq!(page.status, 429);
    // And the account is locked: through a second server (whose address limits know nothing
    // of the guesses), the right password and code are refused too.
    let account = s.storage.web_account_by_login("lead").unwrap().unwrap();
    assert!(account.locked_until_ms > admin::now_ms(), "locked");
    assert!(account.failures >= auth::LOCK_AFTER);
    let second = TestServer::start_web(s.storage.clone());
    let page = Browser::new(&second.url)
        .post("/sign-in", &[("login", "lead"), ("password", PASSWORD), ("code", &code(&secret, 1))]);
    assert_eq!(page.status, 401, "locked");
    // The session signed in before keeps working (locking stops guessing, not the lead).
    assert_eq!(lead.get("/dashboard").status, 200);
}

#[test]
fn parallel_attempts_neither_pass_the_lock_out_nor_reuse_a_code() {
    let s = sqlite_scene();
    let (_, secret) = signed_in(&s.server, s.storage.as_ref(), &s.t.lead, "lead");
    // Twenty wrong passwords at once, then the right one: the account is locked by then.
    let url = s.server.url.clone();
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                Browser::new(&url)
                    .post(
                        "/sign-in",
                        &[("login", "lead"), ("password", &format!("fout wachtwoord {i}")), ("code", "123456")],
                    )
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = attempts.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), auth::LOCK_AFTER as usize, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429));
    let other = TestServer::start_web(s.storage.clone());
    let page = Browser::new(&other.url)
        .post("/sign-in", &[("login", "lead"), ("password", PASSWORD), ("code", &code(&secret, 1))]);
    assert_eq!(page.status, 401, "locked, whatever raced");

    // One code, eight browsers at once: one session.
    let s = sqlite_scene();
    let secret = set_up(&s.server, s.storage.as_ref(), &s.t.lead, "lead2");
    let c = code(&secret, 1);
    let url = s.server.url.clone();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (url, c) = (url.clone(), c.clone());
            std::thread::spawn(move || {
                Browser::new(&url).post("/sign-in", &[("login", "lead2"), ("password", PASSWORD), ("code", &c)]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = attempts.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "a code works once: {statuses:?}");
}

#[test]
fn every_page_and_action_refuses_the_wrong_visitor() {
    let s = sqlite_scene();
    let storage = s.storage.as_ref();
    let other = team(storage, "Zuidwest", 0);
    let admin_member = admin::add_member(storage, &s.t.team.id, "Beheerder", Role::Admin, "ICT").unwrap();
    let (mut lead, _) = signed_in(&s.server, storage, &s.t.lead, "lead");
    let (worker, _) = signed_in(&s.server, storage, &s.t.workers[0], "worker");
    let (other_lead, _) = signed_in(&s.server, storage, &other.lead, "other-lead");
    let (admin, _) = signed_in(&s.server, storage, &admin_member, "admin");
    let session_id = storage.sessions(&s.t.team.id, admin::now_ms()).unwrap()[0].0.id().to_string();

    let (w, sig, obs) = (s.walk.to_string(), s.signal.to_string(), s.observation.to_string());
    let pages = [
        "/dashboard".to_string(),
        format!("/walks/{w}"),
        format!("/walks/{w}/export.geojson"),
        format!("/walks/{w}/export.csv"),
        "/export.geojson?period=all".into(),
        "/export.csv?period=all".into(),
        format!("/records/{sig}"),
        format!("/records/{obs}"),
        "/signals".into(),
        "/area?period=all".into(),
        "/area.json?period=all".into(),
        "/buurten.geojson".into(),
    ];
    // The lead sees every page (so the refusals below are refusals, not broken pages).
    for p in &pages {
        let page = lead.get(p);
        assert_eq!(page.status, 200, "{p}");
        page.assert_secure(p);
    }
    for p in ["/sign-in", "/sessions", "/settings"] {
        Browser::new(&s.server.url).get(p).assert_secure(p);
    }
    assert!(lead.get(&format!("/records/{sig}")).body.contains("Man in auto spreekt jongeren aan"));

    let before = storage.history(&s.t.team.id, &sig).unwrap();
    let mut visitors = vec![
        ("signed out", Browser::new(&s.server.url)),
        ("field worker", worker),
        ("lead of another team", other_lead),
        ("administrator", admin),
    ];
    for (who, b) in &mut visitors {
        for p in &pages {
            let page = b.get(p);
            // A lead of another team has pages of her own (her team's, empty here); what
            // names this team's walk or records is not found.
            let own_list = *who == "lead of another team" && !p.contains(&w) && !p.contains(&sig) && !p.contains(&obs);
            let refused = if own_list { page.status == 200 } else { matches!(page.status, 303 | 403 | 404) };
            assert!(refused, "{who} on {p}: {}", page.status);
            page.assert_secure(&format!("{who} on {p}"));
            assert!(!page.body.contains("Man in auto") && !page.body.contains(&w), "{who} on {p} sees content");
        }
        let csrf = b.csrf();
        for (action, form) in [
            (format!("/decide/{sig}"), vec![("csrf", csrf.as_str()), ("action", "status"), ("status", "closed")]),
            (format!("/decide/{w}"), vec![("csrf", csrf.as_str()), ("action", "reviewed")]),
            (format!("/decide/{obs}"), vec![("csrf", csrf.as_str()), ("action", "ask"), ("question", "?")]),
        ] {
            let page = b.post(&action, &form);
            assert!(matches!(page.status, 303 | 403 | 404), "{who} on {action}: {}", page.status);
            if page.status == 303 {
                assert!(page.location.starts_with("/sign-in"), "{who} on {action} was not refused");
            }
        }
        if *who != "administrator" {
            let page = b.post(&format!("/sessions/{session_id}/end"), &[("csrf", &csrf)]);
            assert!(matches!(page.status, 303 | 403), "{who} ended a session");
            assert!(page.status == 403 || page.location == "/sign-in");
        }
    }
    // Nothing changed: no history, the lead's session lives, the phone pulls no decision.
    assert_eq!(storage.history(&s.t.team.id, &sig).unwrap(), before);
    assert_eq!(storage.history(&s.t.team.id, &w).unwrap(), vec![]);
    assert_eq!(lead.get("/dashboard").status, 200);
    s.phone.sync().unwrap();
    let r = s.phone.store.record(&s.signal).unwrap();
    assert_eq!(r.review.status, None);
    // The sessions page is the administrator's: it lists sessions and can end the lead's.
    let (_, mut admin) = visitors.pop().unwrap();
    assert_eq!(admin.get("/sessions").status, 200);
    let lead_session = storage
        .sessions(&s.t.team.id, admin::now_ms())
        .unwrap()
        .into_iter()
        .find(|(_, m)| m.id == s.t.lead.id)
        .unwrap()
        .0;
    let csrf = admin.csrf();
    assert_eq!(admin.post(&format!("/sessions/{}/end", lead_session.id()), &[("csrf", &csrf)]).status, 303);
    assert_eq!(lead.get("/dashboard").location, "/sign-in", "an administrator ended the lead's session");
}

#[test]
fn forms_need_the_session_token_and_this_origin() {
    let s = sqlite_scene();
    let (mut lead, _) = signed_in(&s.server, s.storage.as_ref(), &s.t.lead, "lead");
    let sig = s.signal.to_string();
    let form = |csrf: &'static str| vec![("csrf", csrf), ("action", "status"), ("status", "in_review")];
    assert_eq!(lead.post(&format!("/decide/{sig}"), &form("")).status, 403);
    assert_eq!(lead.post(&format!("/decide/{sig}"), &form("0123456789abcdef0123456789abcdef")).status, 403);
    // A page of another site posting with the lead's cookie (SameSite aside): wrong origin.
    let csrf = lead.csrf();
    let cookie = lead.cookie.clone().unwrap();
    let r = lead
        .agent
        .post(format!("{}/decide/{sig}", s.server.url))
        .header("Origin", "https://evil.example")
        .header("Cookie", &cookie)
        .send_form([("csrf", csrf.as_str()), ("action", "status"), ("status", "in_review")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // No Origin and no Referer, or this host under another scheme: refused too.
    for origin in [None, Some("https://".to_string() + s.server.url.trim_start_matches("http://"))] {
        let mut req = lead.agent.post(format!("{}/decide/{sig}", s.server.url)).header("Cookie", &cookie);
        if let Some(o) = &origin {
            req = req.header("Origin", o);
        }
        let r = req.send_form([("csrf", csrf.as_str()), ("action", "status"), ("status", "in_review")]).unwrap();
        assert_eq!(r.status().as_u16(), 403, "origin {origin:?}");
    }
    assert!(s.storage.history(&s.t.team.id, &sig).unwrap().is_empty());
    // `back` leads only to this site's pages: anything else goes to the dashboard.
    for back in ["//evil.example/x", "/\t/evil.example", "/\u{7f}", "https://evil.example", "/walks/../sign-out"] {
        let page = lead.post(
            &format!("/decide/{sig}"),
            &[("csrf", csrf.as_str()), ("action", "ask"), ("question", "?"), ("back", back)],
        );
        assert_eq!(page.location, "/dashboard?msg=saved", "back {back:?}");
    }
    let ok =
        lead.post(&format!("/decide/{sig}"), &[("csrf", csrf.as_str()), ("action", "status"), ("status", "in_review")]);
    assert_eq!(ok.location, "/dashboard?msg=saved", "without a page to go back to: the dashboard");
}

#[test]
fn a_decision_in_the_browser_reaches_the_phone_and_the_answer_comes_back() {
    for s in [sqlite_scene(), scene(postgres_storage(), tempfile::tempdir().unwrap())] {
        let (mut lead, _) = signed_in(&s.server, s.storage.as_ref(), &s.t.lead, "lead");
        let csrf = lead.csrf();
        let sig = s.signal.to_string();
        let back = format!("/records/{sig}");
        let decide = |b: &mut Browser, form: &[(&str, &str)]| {
            let mut f = vec![("csrf", csrf.as_str()), ("back", back.as_str())];
            f.extend_from_slice(form);
            b.post(&format!("/decide/{sig}"), &f)
        };
        // new → in review → referred (to the police), each with a comment.
        let page = decide(&mut lead, &[("action", "status"), ("status", "in_review"), ("comment", "Eerst navragen")]);
        assert_eq!(page.location, format!("{back}?msg=saved"));
        // Referred without a target: refused by the rules, nothing changes.
        let page = decide(&mut lead, &[("action", "status"), ("status", "referred"), ("referral", "")]);
        assert_eq!(page.location, format!("{back}?msg=referral_missing"));
        let page = decide(
            &mut lead,
            &[
                ("action", "status"),
                ("status", "referred"),
                ("referral", "ref.police"),
                ("comment", "Wijkagent ingelicht"),
            ],
        );
        assert_eq!(page.location, format!("{back}?msg=saved"));
        // referred → new is not a transition.
        let page = decide(&mut lead, &[("action", "status"), ("status", "new")]);
        assert_eq!(page.location, format!("{back}?msg=refused"));
        let page = decide(&mut lead, &[("action", "ask"), ("question", "Welke auto was het?")]);
        assert_eq!(page.location, format!("{back}?msg=saved"));

        // The phone takes the decisions at its next sync.
        s.phone.sync().unwrap();
        let r = s.phone.store.record(&s.signal).unwrap();
        assert_eq!(r.review.status, Some(SignalStatus::Referred));
        assert_eq!(r.review.referral.as_deref(), Some("ref.police"));
        assert_eq!(r.review.question.as_deref(), Some("Welke auto was het?"));
        // The author answers; the lead sees the answer after the next sync.
        s.phone.store.answer_review(&s.signal, "Een grijze Audi").unwrap();
        s.phone.sync().unwrap();
        let page = lead.get(&back);
        assert!(page.body.contains("Een grijze Audi"), "the answer is on the page");
        let history = between(&page.body, "<ol class=\"history\" id=\"history\">", "</ol>").unwrap();
        for needle in
            ["in behandeling", "Eerst navragen", "doorverwezen", "Politie", "Wijkagent ingelicht", "Teamleider"]
        {
            assert!(history.contains(needle), "history lacks {needle}: {history}");
        }
        let entries = s.storage.history(&s.t.team.id, &sig).unwrap();
        let fields: Vec<&str> = entries.iter().map(|h| h.field.as_str()).collect();
        assert_eq!(
            fields,
            ["review_status", "review_status", "review_referral", "review_question", "review_answer"],
            "append-only, in order"
        );
        assert_eq!(entries[4].member_id, s.t.workers[0].id, "the answer is the author's");
        // A second question replaces the first: the old answer goes with it, and both stay
        // readable as earlier questions.
        let page = decide(&mut lead, &[("action", "ask"), ("question", "Hoe laat precies?")]);
        assert_eq!(page.location, format!("{back}?msg=saved"));
        let page = lead.get(&back);
        let earlier = between(&page.body, "<ol class=\"thread\" id=\"earlier\"", "</ol>").unwrap();
        assert!(earlier.contains("Welke auto was het?") && earlier.contains("Een grijze Audi"), "{earlier}");
        assert!(!page.body.contains("id=\"answer\""), "no answer under the new question");
        assert!(page.body.contains("Hoe laat precies?"));
        assert!(!lead.get("/signals").body.contains("vraag beantwoord"), "the new question is open");
        s.phone.sync().unwrap();
        let r = s.phone.store.record(&s.signal).unwrap();
        assert_eq!((r.review.question.as_deref(), r.review.answer.as_deref()), (Some("Hoe laat precies?"), None));
        s.phone.store.answer_review(&s.signal, "Rond half tien").unwrap();
        s.phone.sync().unwrap();
        let page = lead.get(&back);
        assert!(between(&page.body, "id=\"answer\">", "</p>").unwrap().contains("Rond half tien"));
        assert!(between(&page.body, "id=\"earlier\"", "</ol>").unwrap().contains("Een grijze Audi"));
        // Reviewed: the author's content is frozen on the phone too.
        let page = lead.post(
            &format!("/decide/{}", s.walk),
            &[("csrf", &csrf), ("action", "reviewed"), ("back", &format!("/walks/{}", s.walk))],
        );
        assert_eq!(page.location, format!("/walks/{}?msg=saved", s.walk));
        s.phone.sync().unwrap();
        assert!(s.phone.store.walk(&s.walk).unwrap().reviewed_ms.is_some());
        // A walk reviewed means its records too, as on a lead's phone.
        for id in [s.signal, s.observation] {
            assert!(s.phone.store.record(&id).unwrap().reviewed_ms.is_some(), "{id}");
        }
    }
}

/// A tiny RFC 4180 reader, to check the export round-trips.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ';') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn exports_hold_what_the_walk_holds_and_no_free_text() {
    let s = sqlite_scene();
    let (mut lead, _) = signed_in(&s.server, s.storage.as_ref(), &s.t.lead, "lead");
    let geo = lead.get(&format!("/walks/{}/export.geojson", s.walk));
    let doc: serde_json::Value = serde_json::from_str(&geo.body).unwrap();
    let features = doc["features"].as_array().unwrap();
    let kinds: Vec<&str> = features.iter().map(|f| f["properties"]["kind"].as_str().unwrap_or("track")).collect();
    assert_eq!(kinds.iter().filter(|k| **k != "track").count(), 2, "two located records");
    for f in features {
        let c = &f["geometry"]["coordinates"];
        if f["geometry"]["type"] == "Point" {
            assert!((5.0..6.0).contains(&c[0].as_f64().unwrap()), "longitude first (RFC 7946)");
        }
    }
    assert!(!geo.body.contains("Rolluik") && !geo.body.contains("Man in auto"), "no free text leaves");

    let csv = lead.get(&format!("/walks/{}/export.csv", s.walk));
    // For a Dutch spreadsheet: a byte-order mark, semicolons, the labels beside the codes.
    let body = csv.body.strip_prefix('\u{feff}').expect("a byte-order mark");
    let rows = read_csv(body);
    assert_eq!(rows[0].join(","), wijkverkenner_server::reports::export::CSV_COLUMNS.join(","));
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().any(|r| r.contains(&"Werving van jongeren (jonge aanwas)".to_string())), "{rows:?}");
    let timeline = s.phone.store.walk_timeline(&s.walk, &PageRequest::first(10)).unwrap().items;
    for (row, r) in rows[1..].iter().zip(&timeline) {
        assert_eq!(row[0], r.id.to_string());
        assert_eq!(row[2], r.body.kind().as_str());
        let p = r.location.point().unwrap();
        assert_eq!(row[6].parse::<f64>().unwrap(), (p.lat * 1e6).round() / 1e6);
        assert_eq!(row[8], r.buurt.clone().unwrap_or_default());
    }
    assert!(!csv.body.contains("Rolluik"));
    // Quoting: a field with a comma or quote survives; a formula does not run.
    use wijkverkenner_server::reports::export::csv_field;
    for v in ["a;b", "a,b", "zeg \"hallo\"", "regel\nregel"] {
        assert_eq!(read_csv(&format!("{}\n", csv_field(v)))[0][0], v);
    }
    assert!(read_csv(&format!("{}\n", csv_field("=HYPERLINK(\"x\")")))[0][0].starts_with('\''));
}

#[test]
fn a_session_slides_with_use_until_its_twelve_hours_are_over() {
    let s = sqlite_scene();
    let storage = s.storage.as_ref();
    let now = admin::now_ms();
    let session = |token: &str, created: i64| wijkverkenner_server::storage::WebSession {
        token_hash: admin::sha256_hex(token),
        member_id: s.t.lead.id.clone(),
        created_ms: created,
        last_seen_ms: created,
        expires_ms: now + 30_000,
        ended_ms: None,
        agent: "test".into(),
    };
    let mut b = Browser::new(&s.server.url);
    // Used two minutes after sign-in, half a minute before it would lapse: it slides an hour.
    storage.create_session(&session("sliding-token", now - 120_000)).unwrap();
    b.cookie = Some("wv_session=sliding-token".into());
    assert_eq!(b.get("/dashboard").status, 200);
    assert!(storage.session(&admin::sha256_hex("sliding-token"), now + 30 * 60_000).unwrap().is_some());
    // Signed in almost twelve hours ago: use does not carry it past the twelve hours.
    storage.create_session(&session("old-token", now - wijkverkenner_server::web::SESSION_MAX_MS + 60_000)).unwrap();
    b.cookie = Some("wv_session=old-token".into());
    assert_eq!(b.get("/dashboard").status, 200);
    assert!(storage.session(&admin::sha256_hex("old-token"), now + 2 * 60_000).unwrap().is_none());
}

/// A multipart form as a browser sends a file upload: `(name, file name or none, content)`.
pub(crate) fn multipart(b: &mut Browser, path: &str, parts: &[(&str, Option<&str>, &str)]) -> Page {
    let boundary = "----wv-test-boundary-7d1f";
    let mut body = String::new();
    for (name, file, content) in parts {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""));
        if let Some(f) = file {
            body.push_str(&format!("; filename=\"{f}\"\r\nContent-Type: application/geo+json"));
        }
        body.push_str(&format!("\r\n\r\n{content}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let mut req = b
        .agent
        .post(format!("{}{path}", b.base))
        .header("Origin", &b.base)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"));
    if let Some(c) = &b.cookie {
        req = req.header("Cookie", c);
    }
    let r = req.send(body.as_bytes()).unwrap();
    b.take(r)
}

#[test]
fn an_administrator_changes_the_team_settings_in_the_browser_and_the_phones_take_them() {
    for s in [sqlite_scene(), scene(postgres_storage(), tempfile::tempdir().unwrap())] {
        let storage = s.storage.as_ref();
        let admin_member = admin::add_member(storage, &s.t.team.id, "Beheerder", Role::Admin, "ICT").unwrap();
        let (mut admin, _) = signed_in(&s.server, storage, &admin_member, "beheer");
        assert_eq!(admin.get("/").location, "/sessions");
        let page = admin.get("/settings");
        assert_eq!(page.status, 200);
        assert!(page.body.contains("obs.vacancy") && page.body.contains("Kantoortijden"));
        assert!(page.body.contains("De grenzen van de server"), "the server's default boundaries");
        let csrf = admin.csrf();

        let saved = "/settings?msg=saved&restricted=0";
        let hours = [
            ("csrf", csrf.as_str()),
            ("day1", "1"),
            ("day2", "1"),
            ("day4", "1"),
            ("start", "09:00"),
            ("end", "17:30"),
        ];
        assert_eq!(admin.post("/settings/office-hours", &hours).location, saved);
        let late = [("csrf", csrf.as_str()), ("day1", "1"), ("start", "18:00"), ("end", "09:00")];
        let page = admin.post("/settings/office-hours", &late);
        assert_eq!(page.status, 400);
        assert!(
            page.body.contains("id=\"settings-error\"") && page.body.contains("het begin moet vóór het einde liggen")
        );

        let new = [
            ("csrf", csrf.as_str()),
            ("kind", "signal_category"),
            ("nl", "Illegale gokhal"),
            ("en", "Illegal gambling den"),
            ("code", ""),
            ("sensitive", "1"),
        ];
        assert_eq!(admin.post("/settings/categories/new", &new).location, saved);
        let again =
            [("csrf", csrf.as_str()), ("kind", "signal_category"), ("nl", "X"), ("en", "X"), ("code", "sig.weapons")];
        let page = admin.post("/settings/categories/new", &again);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("nooit opnieuw gebruikt"), "in Dutch");
        // The same form sent twice (a double click): the second is refused, not a duplicate.
        let page = admin.post("/settings/categories/new", &new);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("Er is al een categorie met deze naam: sig.illegale_gokhal"));
        // A kind's table is saved whole: a retirement and a relabel in one go.
        let retire = [
            ("csrf", csrf.as_str()),
            ("kind", "observation_theme"),
            ("code_1", "obs.litter"),
            ("nl_1", "Zwerfafval"),
            ("en_1", "Litter"),
            ("retired_1", "1"),
            ("code_2", "obs.lighting"),
            ("nl_2", "Straatverlichting kapot"),
            ("en_2", "Broken street lighting"),
        ];
        assert_eq!(admin.post("/settings/categories", &retire).location, saved);
        let relabel = [
            ("csrf", csrf.as_str()),
            ("kind", "signal_category"),
            ("code_1", "sig.youth_recruitment"),
            ("nl_1", "Ronselen van jongeren"),
            ("en_1", "Recruiting youths"),
            ("sensitive_1", "1"),
        ];
        assert_eq!(admin.post("/settings/categories", &relabel).location, saved);
        let blank = [("csrf", csrf.as_str()), ("code_1", "obs.neglect"), ("nl_1", " "), ("en_1", "Decay")];
        assert_eq!(admin.post("/settings/categories", &blank).status, 400);

        // Boundaries: a bad file is refused with the rule, a good one replaces the server's.
        let bad = multipart(
            &mut admin,
            "/settings/boundaries",
            &[("csrf", None, &csrf), ("buurten", Some("b.geojson"), "{}")],
        );
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("FeatureCollection"), "{}", bad.body);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");
        let buurten = std::fs::read_to_string(format!("{dir}/buurt.geojson")).unwrap();
        let no_token = multipart(&mut admin, "/settings/boundaries", &[("buurten", Some("b.geojson"), &buurten)]);
        assert_eq!(no_token.status, 403);
        // The wijken file in the buurten field: valid, but it would leave the noted buurten
        // out, so it waits for a yes.
        let wijken = std::fs::read_to_string(format!("{dir}/wijk.geojson")).unwrap();
        let wrong = multipart(
            &mut admin,
            "/settings/boundaries",
            &[("csrf", None, &csrf), ("buurten", Some("w.geojson"), &wijken)],
        );
        assert_eq!(wrong.status, 200);
        let confirm = between(&wrong.body, "id=\"confirm-boundaries\">", "</div>").unwrap();
        assert!(confirm.contains("10 buurten") && confirm.contains("111"), "{confirm}");
        let token = between(&confirm, "name=\"token\" value=\"", "\"").unwrap();
        assert_eq!(admin.post("/settings/boundaries/confirm", &[("csrf", &csrf), ("token", "nope")]).status, 404);
        let done = admin.post("/settings/boundaries/confirm", &[("csrf", &csrf), ("token", &token)]);
        assert_eq!(done.location, "/settings?msg=saved&restricted=0&buurten=10");
        let again = admin.post("/settings/boundaries/confirm", &[("csrf", &csrf), ("token", &token)]);
        assert_eq!(again.status, 404, "a confirmation works once");
        let ok = multipart(
            &mut admin,
            "/settings/boundaries",
            &[("csrf", None, &csrf), ("buurten", Some("b.geojson"), &buurten), ("wijken", Some("w.geojson"), "")],
        );
        assert_eq!(ok.location, "/settings?msg=saved&restricted=0&buurten=111", "{}", ok.body);
        let page = admin.get("/settings");
        assert!(page.body.contains("111 buurten, door het team ingesteld"));
        assert!(page.body.contains("sig.illegale_gokhal"));

        // The phone takes all of it at its next sync.
        let out = s.phone.sync().unwrap();
        assert!(out.settings_taken);
        let t = s.phone.store.taxonomy();
        assert!(t.get("sig.illegale_gokhal").unwrap().sensitive);
        assert!(t.get("obs.litter").unwrap().retired);
        let oh = s.phone.store.settings().office_hours;
        assert_eq!((oh.days, oh.start.as_str(), oh.end.as_str()), (vec![1, 2, 4], "09:00", "17:30"));
        assert_eq!(s.phone.store.neighbourhoods().unwrap().unwrap().len(), 111);
        assert_eq!(t.get("sig.youth_recruitment").unwrap().nl, "Ronselen van jongeren");
        // The lead's pages use the team's labels.
        let (mut lead, _) = signed_in(&s.server, storage, &s.t.lead, "lead");
        let record = lead.get(&format!("/records/{}", s.signal)).body;
        assert!(record.contains("Ronselen van jongeren") && !record.contains("Werving van jongeren"));
        assert!(lead.get("/dashboard").body.contains("Ronselen van jongeren"));
    }
}

#[test]
fn only_the_teams_administrators_change_its_settings() {
    let s = sqlite_scene();
    let storage = s.storage.as_ref();
    let other = team(storage, "Zuidwest", 0);
    let other_admin = admin::add_member(storage, &other.team.id, "Beheerder Zuidwest", Role::Admin, "ICT").unwrap();
    let (lead, _) = signed_in(&s.server, storage, &s.t.lead, "lead");
    let (worker, _) = signed_in(&s.server, storage, &s.t.workers[0], "worker");
    let (other_admin, _) = signed_in(&s.server, storage, &other_admin, "other-admin");
    let before = wijkverkenner_server::settings::Teams::default().config_of(storage, &s.t.team.id).unwrap().unwrap();
    let mut visitors = vec![
        ("signed out", Browser::new(&s.server.url)),
        ("field worker", worker),
        ("lead", lead),
        ("admin of another team", other_admin),
    ];
    for (who, b) in &mut visitors {
        let page = b.get("/settings");
        if *who == "admin of another team" {
            // Her own team's settings: nothing of this team's.
            assert_eq!(page.status, 200);
        } else {
            assert!(matches!(page.status, 303 | 403), "{who}: {}", page.status);
        }
        let csrf = b.csrf();
        let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("/settings/office-hours", vec![("csrf", &csrf), ("day7", "1"), ("start", "10:00"), ("end", "11:00")]),
            (
                "/settings/categories",
                vec![
                    ("csrf", &csrf),
                    ("code_1", "sig.other"),
                    ("nl_1", "Overig"),
                    ("en_1", "Other"),
                    ("sensitive_1", "1"),
                ],
            ),
            (
                "/settings/categories/new",
                vec![("csrf", &csrf), ("kind", "observation_theme"), ("nl", "Nieuw"), ("en", "New")],
            ),
        ];
        for (path, form) in forms {
            let page = b.post(path, &form);
            if *who == "admin of another team" {
                // Applied to her own team, never to this one (checked below).
                assert!(matches!(page.status, 303 | 400), "{who} on {path}: {}", page.status);
            } else {
                assert!(matches!(page.status, 303 | 403), "{who} on {path}: {}", page.status);
                assert!(page.status == 403 || page.location == "/sign-in", "{who} on {path} was not refused");
            }
        }
        let page = multipart(b, "/settings/boundaries", &[("csrf", None, &csrf), ("buurten", Some("b.geojson"), "{}")]);
        assert!(matches!(page.status, 303 | 400 | 403), "{who} uploaded: {}", page.status);
    }
    let after = wijkverkenner_server::settings::Teams::default().config_of(storage, &s.t.team.id).unwrap().unwrap();
    assert_eq!((after.version, &after.tag), (before.version, &before.tag), "this team's settings are as they were");
}

/// A lead's question and comment are checked for personal data as the walker's notes are: what
/// the core finds is replaced by placeholders (the page says so) unless the lead sends it as
/// typed.
#[test]
fn personal_data_in_a_leads_question_is_replaced_unless_kept() {
    let s = sqlite_scene();
    let storage = s.storage.as_ref();
    let (mut lead, _) = signed_in(&s.server, storage, &s.t.lead, "lead");
    let csrf = lead.csrf();
    let obs = s.observation.to_string();
    let back = format!("/records/{obs}");
    let page = lead.post(
        &format!("/decide/{obs}"),
        &[("csrf", &csrf), ("action", "ask"), ("question", "Heb je mevrouw gebeld op 06-12345678?"), ("back", &back)],
    );
    assert_eq!(page.location, format!("{back}?msg=saved_redacted"));
    assert!(lead.get(&page.location).body.contains("[telefoonnummer]"), "the page says what happened");
    s.phone.sync().unwrap();
    let asked = s.phone.store.record(&s.observation).unwrap().review.question.unwrap();
    assert_eq!(asked, "Heb je mevrouw gebeld op [telefoonnummer]?");
    let sig = s.signal.to_string();
    let page = lead.post(
        &format!("/decide/{sig}"),
        &[
            ("csrf", &csrf),
            ("action", "status"),
            ("status", "in_review"),
            ("comment", "Kenteken 12-ABC-3 doorgeven"),
            ("keep_personal", "1"),
            ("back", &format!("/records/{sig}")),
        ],
    );
    assert_eq!(page.location, format!("/records/{sig}?msg=saved"));
    let history = storage.history(&s.t.team.id, &sig).unwrap();
    assert_eq!(history.last().unwrap().comment.as_deref(), Some("Kenteken 12-ABC-3 doorgeven"), "kept as typed");
}

/// The team's privacy policy in the browser: the grid for shared places and the retention
/// terms, bounded, reaching the phones with the settings.
#[test]
fn an_administrator_sets_the_teams_grid_and_retention_terms() {
    let s = sqlite_scene();
    let storage = s.storage.as_ref();
    let admin_member = admin::add_member(storage, &s.t.team.id, "Beheerder", Role::Admin, "ICT").unwrap();
    let (mut b, _) = signed_in(&s.server, storage, &admin_member, "admin");
    let page = b.get("/settings");
    assert!(page.body.contains("id=\"privacy-form\"") && page.body.contains("<option value=\"100\" selected>"));
    let csrf = b.csrf();
    let form = |grid: &'static str, lock: &'static str| {
        vec![
            ("grid_m", grid),
            ("conversation_days", "200"),
            ("observation_days", "730"),
            ("closed_signal_days", "1825"),
            ("walk_days", "730"),
            ("raw_fixes_after_review_days", "7"),
            ("lock_after_days", lock),
        ]
    };
    for (grid, lock) in [("75", "10"), ("250", "-1"), ("250", "veertien"), ("250", "99999")] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(form(grid, lock));
        let page = b.post("/settings/privacy", &f);
        assert_eq!(page.status, 400, "grid {grid}, lock {lock}");
        assert!(page.body.contains("id=\"settings-error\""));
    }
    let before = wijkverkenner_server::settings::Teams::default().config_of(storage, &s.t.team.id).unwrap().unwrap();
    assert_eq!((before.shared_cell_m, before.retention.lock_after_days), (100.0, 30), "nothing changed");
    let mut f = vec![("csrf", csrf.as_str())];
    f.extend(form("250", "10"));
    let page = b.post("/settings/privacy", &f);
    assert_eq!((page.status, page.location.as_str()), (303, "/settings?msg=saved"));
    let after = wijkverkenner_server::settings::Teams::default().config_of(storage, &s.t.team.id).unwrap().unwrap();
    assert_eq!(after.shared_cell_m, 250.0);
    assert_eq!((after.retention.conversation_days, after.retention.lock_after_days), (200, 10));
    assert_ne!(after.tag, before.tag, "the phones fetch the settings again");
    assert!(b.get("/settings").body.contains("<option value=\"250\" selected>"));
    s.phone.sync().unwrap();
    let terms = s.phone.store.retention().unwrap().unwrap();
    assert_eq!((terms.conversation_days, terms.raw_fixes_after_review_days, terms.lock_after_days), (200, 7, 10));
}

/// The audit trail (BIO): every view, export and change by a person is recorded with action,
/// object, result, origin, actor and time — refused ones too, a phone's syncs too — without a
/// record's content; the team's administrators see it and export it, nobody else; the
/// database refuses to change or delete it.
#[test]
fn every_view_export_and_change_is_in_the_audit_trail_and_only_administrators_read_it() {
    let pg = postgres_database();
    let pg_storage: Arc<dyn Storage> =
        Arc::new(wijkverkenner_server::storage::postgres::PostgresStorage::open(&pg).unwrap());
    for (s, raw) in [(sqlite_scene(), "sqlite"), (scene(pg_storage, tempfile::tempdir().unwrap()), "postgres")] {
        let storage = s.storage.as_ref();
        let admin_member = admin::add_member(storage, &s.t.team.id, "Beheerder", Role::Admin, "ICT").unwrap();
        let (mut lead, _) = signed_in(&s.server, storage, &s.t.lead, "lead");
        let (mut admin, _) = signed_in(&s.server, storage, &admin_member, "admin");
        let (w, sig) = (s.walk.to_string(), s.signal.to_string());
        let before = admin::now_ms();
        assert_eq!(lead.get(&format!("/records/{sig}")).status, 200);
        assert_eq!(lead.get(&format!("/walks/{w}/export.csv")).status, 200);
        let csrf = lead.csrf();
        assert_eq!(
            lead.post(&format!("/decide/{sig}"), &[("csrf", &csrf), ("action", "status"), ("status", "in_review")])
                .status,
            303
        );
        assert_eq!(lead.get("/audit").status, 403, "a lead does not read the trail");

        let trail = storage.audit(Some(&s.t.team.id), before, 1000).unwrap();
        let lead_id = s.t.lead.id.clone();
        let find = |action: &str, object: &str, result: &str| {
            trail.iter().find(|e| e.actor == lead_id && e.action == action && e.object == object && e.result == result)
        };
        let viewed = find("view", &format!("/records/{sig}"), "200").expect("the view");
        assert_eq!(viewed.origin, "127.0.0.1");
        assert!(viewed.at_ms >= before && viewed.at_ms <= admin::now_ms());
        assert!(find("export", &format!("/walks/{w}/export.csv"), "200").is_some(), "the export: {trail:?}");
        assert!(find("change", &format!("/decide/{sig}"), "303").is_some(), "the decision");
        assert!(find("view", "/audit", "403").is_some(), "a refusal is recorded too");
        // A name typed into the address is not kept.
        assert_eq!(lead.get("/records/Jan%20Jansen%2006-12345678?note=Jan&period=all").status, 404);
        let typed = storage.audit(Some(&s.t.team.id), before, 1).unwrap().remove(0);
        assert_eq!(typed.object, "/records/…?period=all", "{typed:?}");
        // The phone's enrolment and sync, earlier, by the field worker; the lead's sign-in.
        let all = storage.audit(Some(&s.t.team.id), 0, 1000).unwrap();
        assert!(all.iter().any(|e| e.actor == s.t.workers[0].id && e.action == "enrol" && e.result == "ok"));
        assert!(all.iter().any(|e| e.actor == lead_id && e.action == "sign-in" && e.result == "ok"));
        assert!(all.iter().any(|e| e.actor == s.t.workers[0].id && e.action == "sync" && e.result.starts_with("200")));
        let text = format!("{all:?}");
        assert!(!text.contains("Man in auto") && !text.contains("Rolluik"), "no content in the trail");

        // The administrator reads and exports it, with names.
        let page = admin.get("/audit");
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&format!("/records/{sig}")) && page.body.contains("Teamleider"));
        let csv = admin.get("/audit.csv");
        assert_eq!(csv.status, 200);
        let rows = read_csv(csv.body.strip_prefix('\u{feff}').expect("a byte-order mark"));
        assert_eq!(rows[0], ["time", "actor", "action", "object", "result", "origin"]);
        assert!(rows.iter().any(|r| r[2] == "export" && r[3] == format!("/walks/{w}/export.csv")));
        // A lead of another team finds nothing of this one.
        let other = team(storage, "Zuidwest", 0);
        let other_admin = admin::add_member(storage, &other.team.id, "Beheerder 2", Role::Admin, "ICT").unwrap();
        let (mut outsider, _) = signed_in(&s.server, storage, &other_admin, "admin-2");
        assert!(!outsider.get("/audit").body.contains(&sig));

        // Append-only, in the database itself.
        let refused = match raw {
            "sqlite" => {
                let c = rusqlite::Connection::open(s._dir.path().join("wijkverkenner-server.db")).unwrap();
                [
                    c.execute("UPDATE audit_log SET actor = 'x'", []).is_err(),
                    c.execute("DELETE FROM audit_log", []).is_err(),
                ]
            }
            _ => {
                let mut c = postgres::Client::connect(&pg, postgres::NoTls).unwrap();
                let update = c.execute("UPDATE audit_log SET actor = 'x'", &[]).is_err();
                let delete = c.execute("DELETE FROM audit_log", &[]).is_err();
                let truncate = c.batch_execute("TRUNCATE audit_log").is_err();
                [update, delete && truncate]
            }
        };
        assert!(!storage.audit(Some(&s.t.team.id), 0, 10).unwrap().is_empty(), "{raw}: still there");
        assert_eq!(refused, [true, true], "{raw}");

        // Its own term: entries older than it go, the purge says so in the trail; the cutoff
        // only moves forward and never into the last 180 days, whoever writes it, and nothing
        // younger can be deleted.
        use wijkverkenner_server::retention;
        let now = admin::now_ms();
        let kept = storage.audit(Some(&s.t.team.id), 0, 100_000).unwrap().len();
        for i in 0..5 {
            storage
                .append_audit(&wijkverkenner_server::storage::AuditEvent {
                    team_id: s.t.team.id.clone(),
                    at_ms: now - 800 * 86_400_000 + i,
                    actor: s.t.lead.id.clone(),
                    action: "view".into(),
                    object: "/dashboard".into(),
                    result: "200".into(),
                    origin: "127.0.0.1".into(),
                })
                .unwrap();
        }
        assert!(retention::purge_audit(storage, now, 10).is_err(), "{raw}: a term below 180 days");
        assert_eq!(
            retention::purge_audit(storage, now, retention::AUDIT_DAYS).unwrap(),
            5,
            "{raw}: exactly the old ones"
        );
        assert_eq!(storage.audit(Some(&s.t.team.id), 0, 100_000).unwrap().len(), kept, "{raw}: the rest stays");
        let purge = storage.audit(None, 0, 100_000).unwrap().into_iter().find(|e| e.action == "purge").unwrap();
        assert_eq!(purge.result, "5 entries deleted");
        let refused = match raw {
            "sqlite" => {
                let c = rusqlite::Connection::open(s._dir.path().join("wijkverkenner-server.db")).unwrap();
                [
                    c.execute("UPDATE audit_cutoff SET cutoff_ms = 0", []).is_err(),
                    c.execute("UPDATE audit_cutoff SET cutoff_ms = ?1", [now]).is_err(),
                    c.execute("DELETE FROM audit_log", []).is_err(),
                ]
            }
            _ => {
                let mut c = postgres::Client::connect(&pg, postgres::NoTls).unwrap();
                [
                    c.execute("UPDATE audit_cutoff SET cutoff_ms = 0", &[]).is_err(),
                    c.execute("UPDATE audit_cutoff SET cutoff_ms = $1", &[&now]).is_err(),
                    c.execute("DELETE FROM audit_log", &[]).is_err(),
                ]
            }
        };
        assert_eq!(refused, [true, true, true], "{raw}: the cutoff moved back or too far, or a young entry went");
    }
}
