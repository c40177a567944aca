//! Who may see and do what, as one table: every page, every form, every API endpoint and every
//! sync path, for every role — signed out, the author of a walk, a colleague, the team's lead,
//! its administrator, a partner organisation the lead referred a signal to, a partner it was
//! not referred to, and a lead of another team. The table is checked against the routes the
//! server declares, so a new route without a line here fails this test.
//!
//! The team: a field worker's walk with an observation, a conversation, a sensitive signal the
//! lead asked about and then referred to the police, and a signal that is not sensitive.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use wijkverkenner_core::sync::wire::{Entity, SyncResponse};
use wijkverkenner_core::*;
use wijkverkenner_server::storage::Role;
use wijkverkenner_server::{admin, Storage};

use crate::common::*;
use crate::web::{multipart, signed_in, Browser, Page};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    SignedOut,
    Author,
    Colleague,
    Lead,
    Admin,
    /// The partner the sensitive signal was referred to (`ref.police`).
    Police,
    /// A partner nothing was referred to (`ref.care`).
    Care,
    OtherLead,
}
use Who::*;

const EVERYONE: [Who; 8] = [SignedOut, Author, Colleague, Lead, Admin, Police, Care, OtherLead];

/// What a visitor gets from a page.
#[derive(Debug)]
enum Want {
    /// Anyone may ask: no server error, and nothing of the team's.
    Public,
    /// 200, and these of the team's texts are on it (a lead may see more).
    Sees(&'static [&'static str]),
    /// 200, these texts on it and no other of the team's.
    Only(&'static [&'static str]),
    /// 200 (their own, empty view) with nothing of the team's.
    Empty,
    /// Sign in first, forbidden, or not found; nothing of the team's.
    Refused,
}

/// What the team holds that pages may show, by the names [`Want`] uses.
struct Secrets(Vec<(&'static str, String)>);

impl Secrets {
    fn check(&self, who: Who, what: &str, page: &Page, want: &Want) {
        let on_page = |key: &str| {
            let text = &self.0.iter().find(|(k, _)| *k == key).unwrap_or_else(|| panic!("no secret {key}")).1;
            page.body.contains(text.as_str())
        };
        let none_but = |allowed: &[&str]| {
            for (key, _) in &self.0 {
                // Her own name is on every page of the author's (who is signed in).
                let own = who == Author && *key == "author's name";
                assert!(allowed.contains(key) || own || !on_page(key), "{who:?} on {what} sees the {key}");
            }
        };
        let at = format!("{who:?} on {what}: {} {}", page.status, page.location);
        match want {
            Want::Public => {
                assert!(page.status < 500, "{at}");
                none_but(&[]);
            }
            Want::Sees(keys) | Want::Only(keys) => {
                assert_eq!(page.status, 200, "{at}");
                for k in *keys {
                    assert!(on_page(k), "{at}: the {k} is missing");
                }
                if matches!(want, Want::Only(_)) {
                    none_but(keys);
                }
            }
            Want::Empty => {
                assert_eq!(page.status, 200, "{at}");
                none_but(&[]);
            }
            Want::Refused => {
                let refused = matches!(page.status, 403 | 404) || (page.status == 303 && page.location == "/sign-in");
                assert!(refused, "{at}: not refused");
                none_but(&[]);
            }
        }
        // Every answer carries the security headers; assets are cacheable (and content-free).
        if !what.starts_with("/assets/") && what != "/favicon.ico" {
            page.assert_secure(&at);
        }
    }
}

/// The routes the server declares (`.route("…"` in its sources).
fn declared_routes() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for file in ["src/web/pages.rs", "src/api.rs"] {
        let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        for part in text.split(".route(").skip(1) {
            let route = part.trim_start().trim_start_matches('"').split('"').next().unwrap();
            routes.insert(route.to_string());
        }
    }
    assert!(routes.len() > 30, "the routes were not found: {routes:?}");
    routes
}

/// A raw device credential for `member` (`<device id>.<secret>`), enrolled through the API.
fn credential(server: &TestServer, storage: &dyn Storage, member: &str) -> String {
    let code = admin::issue_code(storage, member, 1).unwrap();
    let (status, body) = api(server, "POST", "/v1/enrol", None, &enrol_body(&code));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    format!("{}.{}", v["device_id"].as_str().unwrap(), v["credential"].as_str().unwrap())
}

fn enrol_body(code: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"protocol": 3, "code": code, "device_name": "Testtelefoon"})).unwrap()
}

fn sync_body(push: &[Entity]) -> Vec<u8> {
    serde_json::to_vec(&json!({"protocol": 3, "cursor": 0, "push": push, "pull_limit": 1000})).unwrap()
}

/// One request with a fresh connection; the status and the body.
fn api(server: &TestServer, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
    let url = format!("{}{path}", server.url);
    let mut resp = if method == "GET" {
        let mut req = agent.get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", format!("Bearer {a}"));
        }
        req.call().unwrap()
    } else {
        let mut req = agent.post(&url).header("Content-Type", "application/json");
        if let Some(a) = auth {
            req = req.header("Authorization", format!("Bearer {a}"));
        }
        req.send(body).unwrap()
    };
    let status = resp.status().as_u16();
    (status, resp.body_mut().with_config().limit(50_000_000).read_to_string().unwrap_or_default())
}

fn place(e: &Entity) -> Option<Location> {
    match serde_json::from_value::<RecordLocation>(e.fields.get("location")?.get("at")?.clone()).ok()? {
        RecordLocation::Fix(l) | RecordLocation::Inherited(l) => Some(l),
        RecordLocation::None => None,
    }
}

#[test]
fn every_role_sees_and_does_exactly_what_its_table_line_says() {
    let dir = tempfile::tempdir().unwrap();
    let shared = sqlite_storage(dir.path());
    let storage = shared.as_ref();
    let server = TestServer::start_web(shared.clone());
    let t = team(storage, "Overvecht", 3);
    let other = team(storage, "Zuidwest", 0);
    let admin_member = admin::add_member(storage, &t.team.id, "Beheerder", Role::Admin, "ICT").unwrap();
    let police = admin::add_partner(storage, &t.team.id, "Wijkagent", "Politie Utrecht", "ref.police").unwrap();
    let care = admin::add_partner(storage, &t.team.id, "Zorgcoördinator", "Zorgorganisatie", "ref.care").unwrap();

    // The walk, recorded on the author's phone.
    let phone = Phone::enrol(&server, storage, &t.workers[0]);
    let walk = phone.store.start_walk(NewWalk { purpose: "Avondronde Zamenhofdreef".into(), ..new_walk(0) }).unwrap();
    let add = |body: RecordBody, mins: i64, lat: f64, lon: f64| {
        let r = NewRecord { walk_id: walk.id, body, created: at(mins), location: Some(location(lat, lon)) };
        phone.store.add_record(r).unwrap().id
    };
    let obs = add(observation("Rolluik half open bij de wasstraat"), 5, 52.11201, 5.11003);
    let conv = add(conversation("Praatje met bewoner over de speeltuin"), 8, 52.11233, 5.11047);
    let sig = add(signal("Man in auto spreekt jongeren aan", "sig.youth_recruitment"), 10, 52.11252, 5.11104);
    let plain = add(signal("Scooters zonder kenteken bij de flat", "sig.other"), 12, 52.11277, 5.11158);
    phone.store.end_walk(&walk.id, at(40)).unwrap();
    // A photo of the sensitive signal: the whole photo and its thumbnail are the lead's alone.
    let shot = phone.store.attach_photo(&sig, &crate::photos::camera_jpeg(160, 120, 9)).unwrap();
    assert_eq!(phone.sync().unwrap().photos_uploaded, 1);
    let precise: Vec<(String, Location)> = [obs, conv, sig, plain]
        .iter()
        .map(|id| match phone.store.record(id).unwrap().location {
            RecordLocation::Fix(l) => (id.to_string(), l),
            other => panic!("{other:?}"),
        })
        .collect();
    let precise_of = |id: &RecordId| precise.iter().find(|(i, _)| *i == id.to_string()).unwrap().1;

    // Everyone who signs in, in the browser.
    let (mut lead, _) = signed_in(&server, storage, &t.lead, "lead");
    let csrf = lead.csrf();
    let decide = |b: &mut Browser, id: &RecordId, form: &[(&str, &str)]| {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(form);
        let page = b.post(&format!("/decide/{id}"), &f);
        assert_eq!(page.status, 303, "{}", page.body);
    };
    decide(&mut lead, &sig, &[("action", "ask"), ("question", "Welke auto was het, welk merk?")]);
    decide(&mut lead, &sig, &[("action", "status"), ("status", "referred"), ("referral", "ref.police")]);
    let (author_b, _) = signed_in(&server, storage, &t.workers[0], "author");
    let mut browsers: Vec<(Who, Browser)> = vec![
        (SignedOut, Browser::new(&server.url)),
        (Author, author_b),
        (Colleague, signed_in(&server, storage, &t.workers[1], "colleague").0),
        (Lead, lead),
        (Admin, signed_in(&server, storage, &admin_member, "admin").0),
        (Police, signed_in(&server, storage, &police, "police").0),
        (Care, signed_in(&server, storage, &care, "care").0),
        (OtherLead, signed_in(&server, storage, &other.lead, "other-lead").0),
    ];
    assert_eq!(browsers.iter().map(|(w, _)| *w).collect::<Vec<_>>(), EVERYONE, "every role is in the table");
    // The care partner's session, for the administrator to end (the last form of all).
    let second = storage
        .sessions(&t.team.id, admin::now_ms())
        .unwrap()
        .into_iter()
        .find(|(_, m)| m.id == care.id)
        .map(|(s, _)| s.id().to_string())
        .unwrap();

    let secrets = Secrets(vec![
        ("observation", "Rolluik half open bij de wasstraat".into()),
        ("conversation", "Praatje met bewoner over de speeltuin".into()),
        ("sensitive signal", "Man in auto spreekt jongeren aan".into()),
        ("plain signal", "Scooters zonder kenteken".into()),
        ("lead's question", "Welke auto was het".into()),
        ("walk", walk.id.to_string()),
        ("walk's purpose", "Avondronde Zamenhofdreef".into()),
        ("author's name", t.workers[0].display_name.clone()),
        ("sensitive signal's id", sig.to_string()),
        ("plain signal's id", plain.to_string()),
    ]);

    // ------------------------------------------------------------------------------------
    // Pages
    let (w, s, p, o, c) = (walk.id.to_string(), sig.to_string(), plain.to_string(), obs.to_string(), conv.to_string());
    let lead_only = |who: Who, sees: &'static [&'static str], other_team: bool| match who {
        Lead => Want::Sees(sees),
        OtherLead if other_team => Want::Empty,
        _ => Want::Refused,
    };
    let admin_only = |who: Who| if who == Admin { Want::Sees(&[]) } else { Want::Refused };
    type Line<'a> = (&'static str, String, Box<dyn Fn(Who) -> Want + 'a>);
    let pages: Vec<Line> = vec![
        ("/", "/".into(), Box::new(|_| Want::Public)),
        ("/sign-in", "/sign-in".into(), Box::new(|_| Want::Public)),
        ("/setup/{token}", "/setup/0123456789abcdef".into(), Box::new(|_| Want::Public)),
        ("/lang/{lang}", "/lang/en".into(), Box::new(|_| Want::Public)),
        ("/dashboard", "/dashboard".into(), Box::new(|who| lead_only(who, &["walk", "author's name"], true))),
        ("/walks/{id}", format!("/walks/{w}"), Box::new(|who| lead_only(who, &["walk's purpose"], false))),
        (
            "/walks/{id}/export.geojson",
            format!("/walks/{w}/export.geojson"),
            Box::new(|who| lead_only(who, &[], false)),
        ),
        ("/walks/{id}/export.csv", format!("/walks/{w}/export.csv"), Box::new(|who| lead_only(who, &[], false))),
        ("/export.geojson", "/export.geojson?period=all".into(), Box::new(|who| lead_only(who, &[], true))),
        ("/export.csv", "/export.csv?period=all".into(), Box::new(|who| lead_only(who, &[], true))),
        ("/records/{id}", format!("/records/{s}"), Box::new(|who| lead_only(who, &["sensitive signal"], false))),
        ("/records/{id}", format!("/records/{p}"), Box::new(|who| lead_only(who, &["plain signal"], false))),
        ("/records/{id}", format!("/records/{o}"), Box::new(|who| lead_only(who, &["observation"], false))),
        ("/records/{id}", format!("/records/{c}"), Box::new(|who| lead_only(who, &["conversation"], false))),
        ("/photos/{id}", format!("/photos/{}", shot.id), Box::new(|who| lead_only(who, &[], false))),
        ("/photos/{id}/thumb", format!("/photos/{}/thumb", shot.id), Box::new(|who| lead_only(who, &[], false))),
        ("/signals", "/signals".into(), Box::new(|who| lead_only(who, &["sensitive signal's id"], true))),
        (
            "/referrals",
            "/referrals".into(),
            Box::new(|who| match who {
                Police => Want::Only(&["sensitive signal's id"]),
                Care => Want::Empty,
                _ => Want::Refused,
            }),
        ),
        (
            "/referrals/{id}",
            format!("/referrals/{s}"),
            Box::new(|who| if who == Police { Want::Only(&["sensitive signal"]) } else { Want::Refused }),
        ),
        ("/referrals/{id}", format!("/referrals/{p}"), Box::new(|_| Want::Refused)),
        ("/referrals/{id}", format!("/referrals/{o}"), Box::new(|_| Want::Refused)),
        ("/area", "/area?period=all".into(), Box::new(|who| lead_only(who, &[], true))),
        ("/area.json", "/area.json?period=all".into(), Box::new(|who| lead_only(who, &[], true))),
        ("/buurten.geojson", "/buurten.geojson".into(), Box::new(|who| lead_only(who, &[], true))),
        ("/sessions", "/sessions".into(), Box::new(admin_only)),
        ("/audit", "/audit".into(), Box::new(admin_only)),
        ("/audit.csv", "/audit.csv".into(), Box::new(admin_only)),
        ("/settings", "/settings".into(), Box::new(admin_only)),
        ("/assets/{file}", "/assets/style.css".into(), Box::new(|_| Want::Public)),
        ("/favicon.ico", "/favicon.ico".into(), Box::new(|_| Want::Public)),
    ];
    for (who, b) in &mut browsers {
        for (_, path, want) in &pages {
            let cookie = b.cookie.clone();
            let page = b.get(path);
            b.cookie = cookie; // `/lang/…` sets its own cookie; the session stays.
            secrets.check(*who, path, &page, &want(*who));
        }
    }
    // The lead's view of the whole photo is in the audit trail; a thumbnail is part of the
    // page that shows it.
    let trail = storage.audit(Some(&t.team.id), 0, 10_000).unwrap();
    let photo_views: Vec<_> = trail.iter().filter(|e| e.object.starts_with("/photos/")).collect();
    assert!(
        photo_views
            .iter()
            .any(|e| e.object == format!("/photos/{}", shot.id) && e.result == "200" && e.action == "view"),
        "{photo_views:?}"
    );
    assert!(!photo_views.iter().any(|e| e.object.ends_with("/thumb")), "{photo_views:?}");

    // ------------------------------------------------------------------------------------
    // Forms. Refused ones first (nothing may change), then each allowed one.
    let history = |id: &RecordId| storage.history(&t.team.id, &id.to_string()).unwrap();
    let before = (history(&sig), history(&plain), history(&obs));
    let settings_before =
        wijkverkenner_server::settings::Teams::default().config_of(storage, &t.team.id).unwrap().unwrap().tag.clone();
    /// A form: its route, where it is posted, its fields (besides the token), and who may.
    type Form<'a> = (&'static str, String, Vec<(&'a str, &'a str)>, Who);
    let forms: Vec<Form> = vec![
        ("/decide/{id}", format!("/decide/{s}"), vec![("action", "status"), ("status", "closed")], Lead),
        ("/decide/{id}", format!("/decide/{p}"), vec![("action", "ask"), ("question", "Waar precies?")], Lead),
        ("/decide/{id}", format!("/decide/{o}"), vec![("action", "reviewed")], Lead),
        ("/sessions/{id}/end", format!("/sessions/{second}/end"), vec![], Admin),
        (
            "/settings/office-hours",
            "/settings/office-hours".into(),
            vec![("day7", "1"), ("start", "10:00"), ("end", "11:00")],
            Admin,
        ),
        (
            "/settings/categories",
            "/settings/categories".into(),
            vec![("code_1", "sig.other"), ("nl_1", "Overig"), ("en_1", "Other")],
            Admin,
        ),
        (
            "/settings/categories/new",
            "/settings/categories/new".into(),
            vec![("kind", "observation_theme"), ("nl", "Nieuw thema"), ("en", "New theme")],
            Admin,
        ),
        ("/settings/boundaries/confirm", "/settings/boundaries/confirm".into(), vec![("token", "0123456789")], Admin),
        (
            "/settings/privacy",
            "/settings/privacy".into(),
            vec![
                ("grid_m", "100"),
                ("conversation_days", "365"),
                ("observation_days", "730"),
                ("closed_signal_days", "1825"),
                ("walk_days", "730"),
                ("raw_fixes_after_review_days", "30"),
                ("lock_after_days", "45"),
            ],
            Admin,
        ),
    ];
    let allowed_answer = |who: Who, what: &str, page: &Page| {
        // Confirming an upload that does not exist is "expired", not "forbidden".
        let expired = what.ends_with("/confirm") && page.status == 404 && page.body.contains("verlopen");
        let refused = !expired && (matches!(page.status, 401 | 403 | 404) || page.location.starts_with("/sign-in"));
        assert!(!refused && page.status < 500, "{who:?} on {what} was refused: {} {}", page.status, page.location);
    };
    for pass in [false, true] {
        for (who, b) in &mut browsers {
            let csrf = b.csrf();
            for (_, path, form, allowed) in &forms {
                if (*who == *allowed) != pass {
                    continue;
                }
                let mut f = vec![("csrf", csrf.as_str())];
                f.extend_from_slice(form);
                let page = b.post(path, &f);
                if pass {
                    allowed_answer(*who, path, &page);
                } else {
                    secrets.check(*who, path, &page, &Want::Refused);
                }
            }
            // An upload that is not a multipart form at all: judged by who sends it first.
            if !pass {
                let page = b.post("/settings/boundaries", &[("csrf", csrf.as_str())]);
                if *who == Admin {
                    assert_eq!(page.status, 400, "the administrator's malformed upload");
                } else {
                    secrets.check(*who, "/settings/boundaries (not multipart)", &page, &Want::Refused);
                }
            }
            let upload = [("csrf", None, csrf.as_str()), ("buurten", Some("b.geojson"), "{}")];
            if (*who == Admin) == pass {
                let page = multipart(b, "/settings/boundaries", &upload);
                if pass {
                    assert_eq!(page.status, 400, "an empty upload is refused as such");
                } else {
                    secrets.check(*who, "/settings/boundaries", &page, &Want::Refused);
                }
            }
            // Public forms: a failed sign-in, a set-up link that does not exist.
            if !pass {
                let cookie = b.cookie.clone();
                let page = b.post("/sign-in", &[("login", "niemand"), ("password", "fout"), ("code", "000000")]);
                secrets.check(*who, "/sign-in (POST)", &page, &Want::Public);
                let page =
                    b.post("/setup/0123456789abcdef", &[("password", "x"), ("password_again", "x"), ("code", "1")]);
                secrets.check(*who, "/setup (POST)", &page, &Want::Public);
                b.cookie = cookie;
            }
        }
        if !pass {
            assert_eq!((history(&sig), history(&plain), history(&obs)), before, "a refused form changed a record");
            let tag = wijkverkenner_server::settings::Teams::default()
                .config_of(storage, &t.team.id)
                .unwrap()
                .unwrap()
                .tag
                .clone();
            assert_eq!(tag, settings_before, "a refused form changed the settings");
            assert!(storage.sessions(&t.team.id, admin::now_ms()).unwrap().iter().any(|(s, _)| s.id() == second));
        }
    }
    assert!(!storage.sessions(&t.team.id, admin::now_ms()).unwrap().iter().any(|(s, _)| s.id() == second));
    assert_eq!(history(&plain).len(), before.1.len() + 1, "the lead's question was applied");
    // Everyone signed in signs out, and is signed out.
    for (who, b) in &mut browsers {
        let csrf = b.csrf();
        let page = b.post("/sign-out", &[("csrf", &csrf)]);
        assert_eq!(page.status, 303, "{who:?} signs out");
        let page = b.get("/referrals");
        assert_eq!((page.status, page.location.as_str()), (303, "/sign-in"), "{who:?} is signed out");
    }

    // ------------------------------------------------------------------------------------
    // The API: who may enrol a phone, and what each device's sync, settings and categories
    // answer. Administrators and partners never hold a phone.
    let mut devices: Vec<(Who, Option<String>)> = vec![(SignedOut, None)];
    for (who, member) in [
        (Author, &t.workers[0]),
        (Colleague, &t.workers[1]),
        (Lead, &t.lead),
        (Admin, &admin_member),
        (Police, &police),
        (Care, &care),
        (OtherLead, &other.lead),
    ] {
        let issued = admin::issue_code(storage, &member.id, 1);
        assert_eq!(issued.is_ok(), member.role.syncs(), "{who:?} got an enrolment code: {issued:?}");
        devices.push((who, member.role.syncs().then(|| credential(&server, storage, &member.id))));
    }
    // A code issued to a field worker who becomes a partner before using it enrols nothing.
    let code = admin::issue_code(storage, &t.workers[2].id, 1).unwrap();
    assert!(storage.set_role(&t.workers[2].id, Role::Partner, Some("ref.care"), admin::now_ms()).unwrap());
    let (status, _) = api(&server, "POST", "/v1/enrol", None, &enrol_body(&code));
    assert!(matches!(status, 400 | 401 | 403), "a partner's phone was enrolled: {status}");
    // A partner's device that exists anyway (a database edited behind the server's back) is refused.
    assert!(storage.set_role(&t.workers[2].id, Role::FieldWorker, None, admin::now_ms()).unwrap());
    let tampered = credential(&server, storage, &t.workers[2].id);
    rusqlite::Connection::open(dir.path().join("wijkverkenner-server.db"))
        .unwrap()
        .execute("UPDATE members SET role = 'partner', referral = 'ref.care' WHERE id = ?1", [&t.workers[2].id])
        .unwrap();

    for (who, cred) in devices.iter().chain([(Care, Some(tampered))].iter()) {
        let cred = cred.as_deref();
        for (path, method) in [("/health", "GET"), ("/openapi.json", "GET")] {
            assert_eq!(api(&server, method, path, cred, b"").0, 200, "{who:?} on {path}");
        }
        let want = match (who, cred) {
            (_, None) => 401,
            (Care, Some(_)) => 403,
            _ => 200,
        };
        let settings = serde_json::to_vec(&json!({"protocol": 3})).unwrap();
        assert_eq!(api(&server, "POST", "/v1/settings", cred, &settings).0, want, "{who:?} on /v1/settings");
        assert_eq!(api(&server, "GET", "/v1/taxonomy", cred, b"").0, want, "{who:?} on /v1/taxonomy");
        // Photos: a listing of nothing is empty for whom may sync; an unknown photo is unknown.
        let listing = serde_json::to_vec(&json!({"protocol": 5, "record_ids": []})).unwrap();
        assert_eq!(api(&server, "POST", "/v1/photos/list", cred, &listing).0, want, "{who:?} on /v1/photos/list");
        let unknown = uuid::Uuid::now_v7().to_string();
        let not_found = if want == 200 { 404 } else { want };
        let fetch = serde_json::to_vec(&json!({"protocol": 5, "id": unknown})).unwrap();
        assert_eq!(api(&server, "POST", "/v1/photos/fetch", cred, &fetch).0, not_found, "{who:?} on /v1/photos/fetch");
        let chunk = format!("/v1/photos/{unknown}/bytes?offset=0");
        assert_eq!(api(&server, "POST", &chunk, cred, b"x").0, not_found, "{who:?} on a photo's bytes");
        let offer = serde_json::to_vec(&json!({"protocol": 5, "photo": {"id": unknown, "record_id": s,
            "position": 1, "sha256": "0".repeat(64), "size": 10, "width": 1, "height": 1}}))
        .unwrap();
        let offered = api(&server, "POST", "/v1/photos/offer", cred, &offer).0;
        let may_offer = match who {
            Author => 200,
            _ if want != 200 => want,
            Lead => 403,
            // The sensitive signal does not exist for a colleague.
            _ => 409,
        };
        assert_eq!(offered, may_offer, "{who:?} on /v1/photos/offer");
        let (status, body) = api(&server, "POST", "/v1/sync", cred, &sync_body(&[]));
        assert_eq!(status, want, "{who:?} on /v1/sync: {body}");
        if status != 200 {
            assert!(!body.contains(&s) && !body.contains("Man in auto"), "{who:?} refused with content");
            continue;
        }

        // The pull: exactly what the role may see, at the precision it may see it.
        let pulled: SyncResponse = serde_json::from_str(&body).unwrap();
        let got: BTreeSet<String> = pulled.pull.iter().map(|e| e.id.clone()).collect();
        let want_ids: BTreeSet<String> = match who {
            Author | Lead => [&w, &o, &c, &s, &p].into_iter().cloned().collect(),
            Colleague => [&w, &o, &c, &p].into_iter().cloned().collect(),
            _ => BTreeSet::new(),
        };
        assert_eq!(got, want_ids, "{who:?} pulled");
        if got.is_empty() {
            continue;
        }
        for e in &pulled.pull {
            let Ok(id) = e.id.parse::<RecordId>() else { continue };
            if e.id == w {
                continue;
            }
            let given = place(e).unwrap();
            let exact = precise_of(&id);
            let coarse = match RecordLocation::Fix(exact).coarsened(wijkverkenner_server::sync::SHARED_CELL_M) {
                RecordLocation::Fix(l) => l,
                _ => unreachable!(),
            };
            let precise_for = match who {
                Author => true,
                Lead => id != conv,
                _ => id == obs,
            };
            let expected = if precise_for { exact } else { coarse };
            assert_eq!((given.lat, given.lon), (expected.lat, expected.lon), "{who:?}: the place of {id}");
        }
        let walk_doc = pulled.pull.iter().find(|e| e.id == w).unwrap();
        let counted = walk_doc.fields["summary"]["records"].as_u64().unwrap();
        assert_eq!(counted, if *who == Colleague { 3 } else { 4 }, "{who:?}: the walk's count");

        // A push that edits the author's conversation: only the author's lands.
        let mut edit = pulled.pull.iter().find(|e| e.id == c).unwrap().clone();
        let gist = format!("overschreven door {who:?}");
        edit.fields.insert("gist".into(), Value::String(gist.clone()));
        let clock = Hlc { wall_ms: admin::now_ms() as u64, counter: 0, node: 7 };
        edit.clocks.insert("gist".into(), clock);
        edit.hlc = clock;
        let (status, body) = api(&server, "POST", "/v1/sync", cred, &sync_body(&[edit]));
        assert!(status == 200 || (400..500).contains(&status), "{who:?} pushed: {status}");
        let stored = stored_field(storage, &t.team.id, &conv, "gist");
        assert_eq!(stored == gist, *who == Author, "{who:?}'s edit of the author's conversation: {body}");
        let place_now = stored_field(storage, &t.team.id, &conv, "location");
        assert!(place_now.contains(&precise_of(&conv).lat.to_string()), "{who:?}'s push moved the place: {place_now}");
    }

    // The table covers every route the server declares.
    let covered: BTreeSet<String> = pages
        .iter()
        .map(|(r, _, _)| r.to_string())
        .chain(forms.iter().map(|(r, _, _, _)| r.to_string()))
        .chain(
            [
                "/sign-out",
                "/settings/boundaries",
                "/health",
                "/openapi.json",
                "/v1/enrol",
                "/v1/sync",
                "/v1/settings",
                "/v1/taxonomy",
                "/v1/photos/offer",
                "/v1/photos/{id}/bytes",
                "/v1/photos/list",
                "/v1/photos/fetch",
            ]
            .map(String::from),
        )
        .collect();
    let missing: Vec<_> = declared_routes().difference(&covered).cloned().collect();
    assert!(missing.is_empty(), "routes without a line in the role table: {missing:?}");
}

/// A field of a record as the server holds it (a text as it is, anything else as JSON).
fn stored_field(storage: &dyn Storage, team: &str, id: &RecordId, field: &str) -> String {
    let mut row = None;
    storage
        .transaction(&mut |tx| {
            row = tx.get_row(team, &id.to_string())?;
            Ok(())
        })
        .unwrap();
    let e: Entity = serde_json::from_str(&row.unwrap().doc).unwrap();
    match &e.fields[field] {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// A signal referred, closed, taken back into review and referred again to the same
/// organisation: the partner sees when and by whom it was referred the last time (its target
/// stays the same, so only its status step says so), and it is on their list only while it is
/// referred there.
#[test]
fn a_partner_sees_who_referred_the_signal_last() {
    let dir = tempfile::tempdir().unwrap();
    let shared = sqlite_storage(dir.path());
    let storage = shared.as_ref();
    let server = TestServer::start_web(shared.clone());
    let t = team(storage, "Hoograven", 1);
    let second = admin::add_member(storage, &t.team.id, "Tweede Leider", Role::Lead, "Gemeente Utrecht").unwrap();
    let police = admin::add_partner(storage, &t.team.id, "Wijkagent", "Politie Utrecht", "ref.police").unwrap();
    let phone = Phone::enrol(&server, storage, &t.workers[0]);
    let walk = phone.store.start_walk(new_walk(0)).unwrap();
    let sig = phone
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal("Steeds andere mensen bij de deur", "sig.drug_dealing"),
            created: at(5),
            location: None,
        })
        .unwrap()
        .id;
    phone.store.end_walk(&walk.id, at(20)).unwrap();
    phone.sync().unwrap();
    let (mut first, _) = signed_in(&server, storage, &t.lead, "eerste");
    let (mut other, _) = signed_in(&server, storage, &second, "tweede");
    let (mut agent, _) = signed_in(&server, storage, &police, "agent");
    let decide = |b: &mut Browser, form: &[(&str, &str)]| {
        let csrf = b.csrf();
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(form);
        assert_eq!(b.post(&format!("/decide/{sig}"), &f).status, 303);
    };
    decide(&mut first, &[("action", "status"), ("status", "referred"), ("referral", "ref.police")]);
    let page = agent.get(&format!("/referrals/{sig}"));
    assert!(page.body.contains("Teamleider"), "referred by the first lead");
    assert!(page.body.contains("geen plaats bekend") && !page.body.contains(" · geen"), "no place, said plainly");
    decide(&mut first, &[("action", "status"), ("status", "closed")]);
    assert_eq!(agent.get(&format!("/referrals/{sig}")).status, 404, "closed: no longer the partner's");
    std::thread::sleep(std::time::Duration::from_millis(5));
    decide(&mut other, &[("action", "status"), ("status", "in_review")]);
    decide(&mut other, &[("action", "status"), ("status", "referred"), ("referral", "ref.police")]);
    let page = agent.get(&format!("/referrals/{sig}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Tweede Leider") && !page.body.contains("Teamleider"),
        "referred again, by the second lead: {}",
        between_tags(&page.body)
    );
    // Switching the language keeps the partner on their page.
    let plain: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let r = plain
        .get(format!("{}/lang/en", server.url))
        .header("Referer", format!("{}/referrals/{sig}", server.url))
        .call()
        .unwrap();
    let back = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(back, format!("/referrals/{sig}"));
}

fn between_tags(body: &str) -> &str {
    body.split_once("<dl").map_or(body, |(_, r)| r.split_once("</dl>").map_or(r, |(d, _)| d))
}
