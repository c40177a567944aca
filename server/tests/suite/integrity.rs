//! One regression test per finding of the sync-integrity review (the "Why" list of the issue
//! that asked for it), each reproducing the attack as it was made — a hostile member's phone
//! sending hand-made requests to a real server over HTTP — and checking it is refused or
//! harmless, with honest phones (real encrypted core stores) on the other side.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use wijkverkenner_core::sync::wire::PROTOCOL_VERSION;
use wijkverkenner_core::*;
use wijkverkenner_server::admin;
use wijkverkenner_server::storage::{Member as ServerMember, Role};

/// A device driven by hand: a real credential, raw JSON.
struct Raw {
    agent: ureq::Agent,
    url: String,
    credential: String,
    cursor: i64,
}

/// What the server answered.
struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    fn codes(&self) -> Vec<String> {
        self.body["rejected"]
            .as_array()
            .map(|a| a.iter().map(|r| r["code"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }
}

impl Raw {
    fn new(server: &TestServer, storage: &dyn wijkverkenner_server::Storage, member: &ServerMember) -> Raw {
        let code = admin::issue_code(storage, &member.id, 1).unwrap();
        let (device, secret, _, _) = admin::redeem(storage, &code, "met de hand").unwrap();
        Raw {
            agent: ureq::Agent::config_builder().http_status_as_error(false).build().into(),
            url: server.url.clone(),
            credential: format!("{}.{}", device.id, secret),
            cursor: 0,
        }
    }

    fn post(&self, path: &str, body: &[u8], encoding: Option<&str>, auth: bool) -> Answer {
        let mut req = self.agent.post(format!("{}{path}", self.url)).header("Content-Type", "application/json");
        if auth {
            req = req.header("Authorization", format!("Bearer {}", self.credential));
        }
        if let Some(e) = encoding {
            req = req.header("Content-Encoding", e);
        }
        let mut resp = req.send(body).unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(100_000_000).read_to_string().unwrap_or_default();
        Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
    }

    fn sync(&mut self, push: Vec<Value>) -> Answer {
        let body = json!({"protocol": PROTOCOL_VERSION, "cursor": self.cursor, "push": push, "pull_limit": 5000});
        let a = self.post("/v1/sync", &serde_json::to_vec(&body).unwrap(), None, true);
        assert!(a.status < 500, "{}", a.text);
        if a.status == 200 {
            self.cursor = a.body["cursor"].as_i64().unwrap();
        }
        a
    }

    /// Everything this device may see, as JSON, by id (the whole feed from the start).
    fn team(&mut self) -> std::collections::BTreeMap<String, Value> {
        self.cursor = 0;
        let mut out = std::collections::BTreeMap::new();
        loop {
            let a = self.sync(vec![]);
            for e in a.body["pull"].as_array().unwrap() {
                out.insert(e["id"].as_str().unwrap().to_string(), e.clone());
            }
            if !a.body["more"].as_bool().unwrap() {
                return out;
            }
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The team's stored version of an entity.
fn stored_entity(
    storage: &dyn wijkverkenner_server::Storage,
    team: &str,
    id: &str,
) -> wijkverkenner_core::sync::Entity {
    let mut found = None;
    storage
        .transaction(&mut |tx| {
            found = tx.get(team, id)?;
            Ok(())
        })
        .unwrap();
    found.expect("stored").entity
}

const MAX_CLOCK: &str = "ffffffffffff.ffff.ffffffffffffffff";

/// A team of two field workers (Sanne, Joost) and a lead with real phones, and a hand-driven
/// device of Joost's.
struct Setup {
    storage: std::sync::Arc<dyn wijkverkenner_server::Storage>,
    server: TestServer,
    t: TestTeam,
    sanne: Phone,
    joost: Phone,
    lead: Phone,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Integriteit", 2);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let joost = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);
    Setup { storage, server, t, sanne, joost, lead, _dir: dir }
}

impl Setup {
    fn raw(&self, member: &ServerMember) -> Raw {
        Raw::new(&self.server, self.storage.as_ref(), member)
    }

    /// Sanne walks and notes an observation and a signal; everyone syncs.
    fn sanne_walks(&self, category: &str) -> (Walk, Record, Record) {
        let walk = self.sanne.store.start_walk(new_walk(0)).unwrap();
        let add = |body| {
            self.sanne
                .store
                .add_record(NewRecord { walk_id: walk.id, body, created: at(3), location: Some(location(52.09, 5.11)) })
                .unwrap()
        };
        let obs = add(observation("Leeg pand, rolluik altijd dicht"));
        let sig = add(signal("Veel aanloop bij de achterdeur", category));
        self.everyone_syncs();
        (walk, obs, sig)
    }

    fn everyone_syncs(&self) {
        for p in [&self.sanne, &self.joost, &self.lead] {
            p.sync().unwrap();
        }
    }

    /// Every honest phone still records and syncs.
    fn honest_phones_still_work(&self) {
        for p in [&self.sanne, &self.joost, &self.lead] {
            let walk = match p.store.active_walk().unwrap() {
                Some(w) => w,
                None => p.store.start_walk(new_walk(1)).unwrap(),
            };
            p.store
                .add_record(NewRecord {
                    walk_id: walk.id,
                    body: observation("gewoon verder"),
                    created: at(4),
                    location: None,
                })
                .unwrap();
            p.sync().unwrap();
            assert_eq!(p.store.pending_count().unwrap(), 0);
        }
    }
}

#[test]
fn why_1_equal_or_missing_clocks_do_not_bypass_the_rights() {
    let s = setup();
    let (walk, obs, sig) = s.sanne_walks("sig.other");
    let mut joost = s.raw(&s.t.workers[1]);
    let seen = joost.team();
    // Sanne's observation with the same clocks, and with none, and a note that sorts higher.
    let mut forged = seen[&obs.id.to_string()].clone();
    forged["fields"]["note"] = json!("~ vervalst door Joost");
    assert_eq!(joost.sync(vec![forged.clone()]).codes(), ["clock_reused"]);
    forged.as_object_mut().unwrap().remove("clocks");
    assert_eq!(joost.sync(vec![forged]).codes(), ["clock_reused"]);
    s.everyone_syncs();
    for p in [&s.lead, &s.joost, &s.sanne] {
        assert_eq!(p.store.record(&obs.id).unwrap().body, obs.body, "every phone keeps Sanne's note");
    }
    // Her own signal: the lead has it in review; she cannot refer it herself, nor reopen it as
    // new once it is closed — not with equal clocks, not with none.
    s.lead.store.review_record(&sig.id, Review { status: Some(SignalStatus::InReview), ..Review::default() }).unwrap();
    s.lead.sync().unwrap();
    let mut sanne = s.raw(&s.t.workers[0]);
    let mut mine = sanne.team()[&sig.id.to_string()].clone();
    mine["fields"]["review_status"] = json!("referred");
    assert!(!sanne.sync(vec![mine.clone()]).codes().is_empty());
    mine.as_object_mut().unwrap().remove("clocks");
    assert!(!sanne.sync(vec![mine]).codes().is_empty());
    s.lead.store.review_record(&sig.id, Review { status: Some(SignalStatus::Closed), ..Review::default() }).unwrap();
    s.lead.sync().unwrap();
    let mut reopen = sanne.team()[&sig.id.to_string()].clone();
    reopen["fields"]["review_status"] = json!("new");
    reopen["clocks"]["review_status"] = json!(format!("{:012x}.0000.0000000000000001", now_ms()));
    reopen["hlc"] = reopen["clocks"]["review_status"].clone();
    assert_eq!(sanne.sync(vec![reopen]).codes(), ["lead_only"]);
    s.everyone_syncs();
    assert_eq!(s.lead.store.record(&sig.id).unwrap().review.status, Some(SignalStatus::Closed));
    // A colleague cannot mark Sanne's walk submitted.
    s.sanne.store.end_walk(&walk.id, at(30)).unwrap();
    s.sanne.sync().unwrap();
    let mut w = joost.team()[&walk.id.to_string()].clone();
    w["fields"]["status"] = json!("submitted");
    assert!(!joost.sync(vec![w]).codes().is_empty());
    s.lead.sync().unwrap();
    assert_eq!(s.lead.store.walk(&walk.id).unwrap().status, WalkStatus::Ended);
    s.honest_phones_still_work();
}

#[test]
fn why_2_clocks_are_bounded_everywhere() {
    let s = setup();
    let (_, obs, sig) = s.sanne_walks("sig.weapons");
    // A field worker's push stamped with the largest clock is refused and never fanned out.
    let mut joost = s.raw(&s.t.workers[1]);
    let jw = json!({
        "kind": "walk", "id": uuid::Uuid::now_v7().to_string(), "author_id": s.t.workers[1].id,
        "created_ms": now_ms(), "created_offset_s": 3600, "hlc": MAX_CLOCK,
        "fields": {"participants": [], "purpose": "", "focus": [], "pauses": [], "status": "active", "ended": null,
                   "summary": null, "buurten": [], "track": null}
    });
    assert_eq!(joost.sync(vec![jw.clone()]).codes(), ["clock_out_of_range"]);
    // A lead's push carrying the largest clock: refused; the team's sync goes on, a fresh
    // phone too.
    let mut lead = s.raw(&s.t.lead);
    let mut q = lead.team()[&obs.id.to_string()].clone();
    q["fields"]["review_question"] = json!("Sinds wanneer?");
    q["clocks"]["review_question"] = json!(MAX_CLOCK);
    q["hlc"] = json!(MAX_CLOCK);
    assert_eq!(lead.sync(vec![q]).codes(), ["clock_out_of_range"]);
    s.honest_phones_still_work();
    let fresh = Phone::enrol(&s.server, s.storage.as_ref(), &s.t.workers[1]);
    fresh.sync().unwrap();
    assert!(fresh.store.record(&obs.id).is_ok());
    // The author stamps her signal's review fields with the largest clock, or just far ahead:
    // refused; the lead's later decision is not lost.
    let mut sanne = s.raw(&s.t.workers[0]);
    let mut stamped = sanne.team()[&sig.id.to_string()].clone();
    for (clock, code) in [
        (MAX_CLOCK.to_string(), "clock_out_of_range"),
        (format!("{:012x}.0000.0000000000000001", now_ms() + 3_600_000), "lead_only"),
    ] {
        for f in ["review_status", "review_referral", "review_question", "reviewed_ms"] {
            stamped["clocks"][f] = json!(clock);
        }
        stamped["hlc"] = json!(clock);
        assert!(sanne.sync(vec![stamped.clone()]).codes().iter().all(|c| c == code));
    }
    s.lead
        .store
        .review_record(
            &sig.id,
            Review { status: Some(SignalStatus::Referred), referral: Some("ref.police".into()), ..Review::default() },
        )
        .unwrap();
    s.lead.sync().unwrap();
    s.sanne.sync().unwrap();
    assert_eq!(s.sanne.store.record(&sig.id).unwrap().review.status, Some(SignalStatus::Referred));
    // Every stored clock is believable.
    for e in lead.team().values() {
        let hlc: Hlc = serde_json::from_value(e["hlc"].clone()).unwrap();
        assert!(hlc.is_plausible(now_ms()), "{hlc}");
    }
}

#[test]
fn why_3_no_entity_is_too_large_and_no_page_unreadable() {
    let s = setup();
    s.sanne_walks("sig.other");
    let mut joost = s.raw(&s.t.workers[1]);
    let walk_id = uuid::Uuid::now_v7().to_string();
    let walk = |fields: Value| {
        let mut f = json!({"participants": [], "purpose": "", "focus": [], "pauses": [], "status": "active", "ended": null,
                           "summary": null, "buurten": [], "track": null});
        for (k, v) in fields.as_object().unwrap() {
            f[k] = v.clone();
        }
        json!({"kind": "walk", "id": walk_id, "author_id": s.t.workers[1].id, "created_ms": now_ms(),
               "created_offset_s": 3600, "hlc": format!("{:012x}.0000.0000000000000001", now_ms()), "fields": f})
    };
    // A megabyte hidden in a participant, under a key no one knows: refused.
    let hidden =
        walk(json!({"participants": [{"type": "guest", "role": "wijkagent", "verborgen": "x".repeat(1_000_000)}]}));
    assert_eq!(joost.sync(vec![hidden]).codes(), ["invalid"]);
    // The longest lists and texts the rules allow, together.
    let track: Vec<Value> = (0..5_000)
        .map(|i| json!({"at_ms": now_ms() - 1_000_000 + i, "lat": 52.012345678901, "lon": 5.012345678901}))
        .collect();
    let wide = |n: usize| "𝄞".repeat(n); // four bytes a character
                                         // Codes are ASCII (letters, digits, '.', '_', '-'): the longest are 64 bytes.
    let buurten: Vec<Value> = (0..500).map(|i| json!(format!("{i:03}{}", "x".repeat(61)))).collect();
    // Members of the team (the rules allow no others), with the longest names and organisations.
    let ids = [&s.t.workers[0].id, &s.t.workers[1].id, &s.t.lead.id];
    let participants: Vec<Value> = (0..20)
        .map(|i| json!({"type": "member", "member_id": ids[i % 3], "display_name": wide(200), "organisation": wide(200)}))
        .collect();
    // Two hours, with two hundred short pauses in order.
    let start = now_ms() - 7_200_000;
    let pauses: Vec<Value> = (0..200)
        .map(|i| json!({"from": {"utc_ms": start + i * 20_000, "offset_s": 3600}, "until": {"utc_ms": start + i * 20_000 + 10_000, "offset_s": 3600}}))
        .collect();
    let mut huge = walk(json!({"status": "ended", "ended": {"utc_ms": now_ms(), "offset_s": 3600}, "track": track,
                               "buurten": buurten, "participants": participants, "purpose": wide(4000),
                               "review_answer": wide(4000), "pauses": pauses}));
    huge["created_ms"] = json!(start);
    // Since codes are ASCII, the longest of everything fits the budget: no valid walk is ever
    // refused for its size (the budget still stops whatever the rules would miss).
    let size = serde_json::to_vec(&huge).unwrap().len();
    assert!(size < wijkverkenner_core::sync::wire::MAX_ENTITY_BYTES, "{size}");
    let a = joost.sync(vec![huge]);
    assert!(a.codes().is_empty(), "{}", &a.text[..a.text.len().min(500)]);
    // Two small pushes that unpack to 40 MB each: refused before they are parsed.
    let bomb_body = {
        let mut b =
            serde_json::to_vec(&json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "push": [], "pull_limit": 1}))
                .unwrap();
        b.splice(1..1, std::iter::repeat_n(b' ', 40 * 1024 * 1024));
        zstd::bulk::compress(&b, 19).unwrap()
    };
    assert!(bomb_body.len() < 8 * 1024);
    for _ in 0..2 {
        let a = joost.post("/v1/sync", &bomb_body, Some("zstd"), true);
        assert_eq!((a.status, a.body["error"].as_str()), (413, Some("payload_too_large")));
    }
    // The team's next pull is fine for everyone.
    s.honest_phones_still_work();
    let fresh = Phone::enrol(&s.server, s.storage.as_ref(), &s.t.lead);
    fresh.sync().unwrap();
}

#[test]
fn walk_participants_name_members_of_the_team_only() {
    let s = setup();
    let other = team(s.storage.as_ref(), "Andere wijk", 1);
    let mut joost = s.raw(&s.t.workers[1]);
    let walk_id = uuid::Uuid::now_v7().to_string();
    let created = now_ms() - 60_000;
    let walk = |participants: Value, clock: i64| {
        json!({"kind": "walk", "id": walk_id, "author_id": s.t.workers[1].id, "created_ms": created,
               "created_offset_s": 3600, "hlc": format!("{clock:012x}.0000.0000000000000001"),
               "clocks": {"participants": format!("{clock:012x}.0000.0000000000000001")},
               "fields": {"participants": participants, "purpose": "", "focus": [], "pauses": [], "status": "active",
                          "ended": null, "summary": null, "buurten": [], "track": null}})
    };
    let member = |id: &str| json!({"type": "member", "member_id": id, "display_name": "Iemand", "organisation": ""});
    // A member of another team: refused; the walk is kept without participants.
    let a = joost.sync(vec![walk(json!([member(&other.workers[0].id)]), now_ms())]);
    assert_eq!(a.codes(), ["not_a_member"]);
    let stored = stored_entity(s.storage.as_ref(), &s.t.team.id, &walk_id);
    assert_eq!(stored.fields["participants"], json!([]));
    // A colleague and a guest: taken.
    let ok = json!([member(&s.t.workers[0].id), {"type": "guest", "role": "wijkagent"}]);
    let a = joost.sync(vec![walk(ok.clone(), now_ms() + 1)]);
    assert!(a.codes().is_empty(), "{}", a.text);
    assert_eq!(stored_entity(s.storage.as_ref(), &s.t.team.id, &walk_id).fields["participants"], ok);
    // Changing them to an invented member id: the team's list stays.
    let made_up = json!([member(&uuid::Uuid::now_v7().to_string())]);
    assert_eq!(joost.sync(vec![walk(made_up, now_ms() + 2)]).codes(), ["not_a_member"]);
    assert_eq!(stored_entity(s.storage.as_ref(), &s.t.team.id, &walk_id).fields["participants"], ok);
    // Members of the team who do not walk — an administrator, a partner organisation's viewer:
    // refused too.
    let admin_member =
        wijkverkenner_server::admin::add_member(s.storage.as_ref(), &s.t.team.id, "Beheer", Role::Admin, "ICT")
            .unwrap();
    let partner =
        wijkverkenner_server::admin::add_partner(s.storage.as_ref(), &s.t.team.id, "Agent", "Politie", "ref.police")
            .unwrap();
    for (i, who) in [&admin_member.id, &partner.id].into_iter().enumerate() {
        let named = json!([member(who)]);
        assert_eq!(joost.sync(vec![walk(named, now_ms() + 3 + i as i64)]).codes(), ["not_a_member"]);
    }
    assert_eq!(stored_entity(s.storage.as_ref(), &s.t.team.id, &walk_id).fields["participants"], ok);
    s.honest_phones_still_work();
}

#[test]
fn why_4_no_member_can_hide_a_colleagues_record() {
    let s = setup();
    let (_, obs, _) = s.sanne_walks("sig.other");
    let mut lead = s.raw(&s.t.lead);
    for raw in [&mut s.raw(&s.t.workers[1]), &mut lead] {
        let mut hide = raw.team()[&obs.id.to_string()].clone();
        hide["sensitive"] = json!(true);
        raw.sync(vec![hide]);
    }
    s.everyone_syncs();
    assert!(s.joost.store.record(&obs.id).is_ok(), "the other field worker keeps the observation");
    assert!(!lead.team()[&obs.id.to_string()]["sensitive"].as_bool().unwrap());
}

#[test]
fn why_5_the_server_enforces_what_the_phone_does() {
    let s = setup();
    let (walk, _, sig) = s.sanne_walks("sig.drug_dealing");
    s.lead
        .store
        .review_record(
            &sig.id,
            Review { status: Some(SignalStatus::Referred), referral: Some("ref.police".into()), ..Review::default() },
        )
        .unwrap();
    s.lead.sync().unwrap();
    // The author, by hand: a new description, then a deletion. Both refused: frozen.
    let mut sanne = s.raw(&s.t.workers[0]);
    let mut changed = sanne.team()[&sig.id.to_string()].clone();
    changed["fields"]["description"] = json!("Toch iets anders");
    changed["clocks"]["description"] = json!(format!("{:012x}.0000.0000000000000001", now_ms()));
    changed["hlc"] = changed["clocks"]["description"].clone();
    assert_eq!(sanne.sync(vec![changed.clone()]).codes(), ["frozen"]);
    let mut deleted = changed.clone();
    deleted["deleted"] = json!(true);
    deleted["fields"] = json!({});
    deleted["clocks"] = json!({});
    assert_eq!(sanne.sync(vec![deleted]).codes(), ["frozen"]);
    s.lead.sync().unwrap();
    assert_eq!(s.lead.store.record(&sig.id).unwrap().body, sig.body, "the lead still has what was referred");
    // Records in a colleague's walk, and in a walk that does not exist: refused.
    let mut joost = s.raw(&s.t.workers[1]);
    let record = |walk_id: String| {
        json!({"kind": "observation", "id": uuid::Uuid::now_v7().to_string(), "walk_id": walk_id,
               "author_id": s.t.workers[1].id, "created_ms": now_ms(), "created_offset_s": 3600,
               "hlc": format!("{:012x}.0000.0000000000000001", now_ms()),
               "fields": {"themes": ["obs.litter"], "tone": "neutral", "note": "ingevoegd",
                          "location": {"at": {"kind": "none"}, "buurt": null, "wijk": null}}})
    };
    assert_eq!(joost.sync(vec![record(walk.id.to_string())]).codes(), ["walk_not_found"]);
    assert_eq!(joost.sync(vec![record(uuid::Uuid::now_v7().to_string())]).codes(), ["walk_not_found"]);
    s.sanne.sync().unwrap();
    assert_eq!(s.sanne.store.walk_timeline(&walk.id, &PageRequest::first(100)).unwrap().items.len(), 2);
}

#[test]
fn why_6_enrolment_takes_little_and_slows_guessing_down() {
    let s = setup();
    let raw = s.raw(&s.t.workers[0]);
    // A body of a few KiB at most, before anything is unpacked.
    let a = raw.post("/v1/enrol", &vec![b' '; 5_000], None, false);
    assert_eq!((a.status, a.body["error"].as_str()), (413, Some("payload_too_large")));
    let bomb = zstd::bulk::compress(&vec![b' '; 64 * 1024 * 1024], 19).unwrap();
    let a = raw.post("/v1/enrol", &bomb, Some("zstd"), false);
    assert_eq!(a.status, 413);
    // Codes have 60 bits, and wrong ones are soon answered with "wait".
    let code = admin::issue_code(s.storage.as_ref(), &s.t.workers[0].id, 1).unwrap();
    assert_eq!(admin::normalise_code(&code).len() * 5, 60);
    let statuses: Vec<u16> = (0..8)
        .map(|i| {
            let body = format!(r#"{{"protocol":3,"code":"ZZZZ-ZZZZ-{i:04}","device_name":"raden"}}"#);
            raw.post("/v1/enrol", body.as_bytes(), None, false).status
        })
        .collect();
    assert_eq!(statuses, [403, 403, 403, 403, 403, 429, 429, 429]);
}

#[test]
fn why_7_errors_names_connections_and_codes() {
    let s = setup();
    let (walk, _, _) = s.sanne_walks("sig.other");
    let mut sanne = s.raw(&s.t.workers[0]);
    // An error names the field and the rule, never the value.
    let planted = json!({"kind": "observation", "id": uuid::Uuid::now_v7().to_string(), "walk_id": walk.id.to_string(),
        "author_id": s.t.workers[0].id, "created_ms": now_ms(), "created_offset_s": 3600,
        "hlc": format!("{:012x}.0000.0000000000000001", now_ms()),
        "fields": {"themes": ["obs.litter"], "tone": "PLANTED-Jan-de-Vries", "note": "",
                   "location": {"at": {"kind": "none"}, "buurt": null, "wijk": null}}});
    let a = sanne.sync(vec![planted.clone()]);
    assert_eq!(a.codes(), ["invalid"]);
    assert!(!a.text.contains("PLANTED"), "{}", a.text);
    assert!(a.text.contains("tone"), "the field is named: {}", a.text);
    // The smallest UTC offset (whose absolute value does not exist) is refused.
    let mut offset = planted.clone();
    offset["fields"]["tone"] = json!("neutral");
    offset["created_offset_s"] = json!(i32::MIN);
    assert_eq!(sanne.sync(vec![offset]).codes(), ["invalid"]);
    // Device names cannot forge lines of the device list.
    let code = admin::issue_code(s.storage.as_ref(), &s.t.workers[0].id, 1).unwrap();
    let body = format!(r#"{{"protocol":3,"code":"{code}","device_name":"x\n{} active Sanne"}}"#, uuid::Uuid::now_v7());
    let a = sanne.post("/v1/enrol", body.replace('\n', "\\n").as_bytes(), None, false);
    assert_eq!((a.status, a.body["error"].as_str()), (400, Some("invalid_enrolment")));
    // Revoking a phone leaves none of its member's codes usable.
    let devices = s.storage.devices(&s.t.team.id).unwrap();
    let (sanne_phone, _) = devices.iter().find(|(_, m)| m.id == s.t.workers[0].id).unwrap();
    assert!(s.storage.revoke_device(&sanne_phone.id, now_ms()).unwrap());
    assert!(admin::redeem(s.storage.as_ref(), &code, "dief").is_err());
    // The lost-answer retry works only for a device that never synced.
    let code = admin::issue_code(s.storage.as_ref(), &s.t.workers[1].id, 1).unwrap();
    let attempt = "0123456789abcdef0123456789abcdef";
    let enrol = |raw: &Raw| {
        let body = format!(r#"{{"protocol":3,"code":"{code}","device_name":"telefoon","attempt":"{attempt}"}}"#);
        raw.post("/v1/enrol", body.as_bytes(), None, false)
    };
    let other = s.raw(&s.t.lead);
    let first = enrol(&other);
    assert_eq!(first.status, 200);
    assert_eq!(enrol(&other).status, 200, "the answer was lost: asked again");
    s.storage.touch_device(first.body["device_id"].as_str().unwrap(), now_ms()).unwrap();
    assert_eq!(enrol(&other).status, 403, "not once the device synced");
}

#[test]
fn why_7_slow_clients_time_out_and_connections_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let limits = wijkverkenner_server::ClientLimits {
        headers: Duration::from_millis(300),
        body_idle: Duration::from_millis(300),
        body_total: Duration::from_secs(5),
        enrol_body_total: Duration::from_secs(1),
        max_connections: 3,
        max_connections_per_address: 2,
        ..Default::default()
    };
    let server = TestServer::start_with(storage.clone(), "127.0.0.1:0".parse().unwrap(), limits);
    let t = team(storage.as_ref(), "Traag", 1);
    let raw = Raw::new(&server, storage.as_ref(), &t.workers[0]);
    let closed_within = |stream: &mut TcpStream, wait: Duration| {
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut buf = Vec::new();
        // Whatever the server writes (a 408, or nothing), it then closes the connection.
        stream.read_to_end(&mut buf).is_ok()
    };
    // Headers that never end.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"POST /v1/sync HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(3)), "a stalled request head is dropped");
    // A body that stalls: answered 408 with a JSON error.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"protocol\"",
        raw.credential
    );
    stalled.write_all(head.as_bytes()).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("request_timeout"), "{answer}");
    // Idle connections fill the server (or one address's share); the next is closed at once,
    // and the server answers again once they are gone.
    let filled = |url: &str, addr: std::net::SocketAddr, idle: usize| {
        let held: Vec<TcpStream> = (0..idle).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(100));
        let mut next = TcpStream::connect(addr).unwrap();
        let _ = next.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut got = String::new();
        next.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = next.read_to_string(&mut got);
        assert!(!got.contains("200 OK"), "a connection beyond the cap is served: {got}");
        drop(held);
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(ureq::get(format!("{url}/health")).call().unwrap().status().as_u16(), 200);
    };
    // One address: two connections at most. (Servers whose header timeout outlasts the check:
    // with 300 ms, a loaded machine could time the idle connections out before the next one is
    // accepted, and that one would rightly be served.)
    let dir1 = tempfile::tempdir().unwrap();
    let patient = wijkverkenner_server::ClientLimits { headers: Duration::from_secs(10), ..limits };
    let capped = TestServer::start_with(sqlite_storage(dir1.path()), "127.0.0.1:0".parse().unwrap(), patient);
    filled(&capped.url, capped.addr, 2);
    // All addresses: three at most (a server that lets one address have many).
    let dir2 = tempfile::tempdir().unwrap();
    let wide = TestServer::start_with(
        sqlite_storage(dir2.path()),
        "127.0.0.1:0".parse().unwrap(),
        wijkverkenner_server::ClientLimits { max_connections_per_address: 100, ..patient },
    );
    filled(&wide.url, wide.addr, 3);
}

#[test]
fn a_device_pushes_no_faster_than_its_budget() {
    // No member fills the team's storage, and every colleague's phone, faster than a person
    // records: a small budget here, 20,000 entities and 64 MiB an hour by default.
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let limits = wijkverkenner_server::ClientLimits { push_per_hour: (50, u64::MAX), ..Default::default() };
    let server = TestServer::start_with(storage.clone(), "127.0.0.1:0".parse().unwrap(), limits);
    let t = team(storage.as_ref(), "Budget", 2);
    let mut flooder = Raw::new(&server, storage.as_ref(), &t.workers[0]);
    let walk = json!({"kind": "walk", "id": uuid::Uuid::now_v7().to_string(), "author_id": t.workers[0].id,
        "created_ms": now_ms() - 60_000, "created_offset_s": 3600, "hlc": format!("{:012x}.0000.0000000000000001", now_ms()),
        "fields": {"participants": [], "purpose": "", "focus": [], "pauses": [], "status": "active", "ended": null,
                   "summary": null, "buurten": [], "track": null}});
    let records = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|_| {
                json!({"kind": "observation", "id": uuid::Uuid::now_v7().to_string(), "walk_id": walk["id"],
                "author_id": t.workers[0].id, "created_ms": now_ms() - 1_000, "created_offset_s": 3600,
                "hlc": format!("{:012x}.0000.0000000000000001", now_ms()),
                "fields": {"themes": ["obs.litter"], "tone": "neutral", "note": "x".repeat(1000),
                           "location": {"at": {"kind": "none"}, "buurt": null, "wijk": null}}})
            })
            .collect()
    };
    let mut first = records(39);
    first.insert(0, walk.clone());
    assert_eq!(flooder.sync(first).status, 200);
    let over = flooder.sync(records(20));
    assert_eq!((over.status, over.body["error"].as_str()), (429, Some("rate_limited")), "{}", over.text);
    // Pulling still works, and so does everyone else.
    assert_eq!(flooder.sync(vec![]).status, 200);
    let other = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let w = other.store.start_walk(new_walk(0)).unwrap();
    other
        .store
        .add_record(NewRecord { walk_id: w.id, body: observation("gewoon"), created: at(1), location: None })
        .unwrap();
    other.sync().unwrap();
    assert_eq!(other.store.record_counts().unwrap().0, 40, "its own and the flooder's first 39");
}

/// Team settings and review history came after the integrity review; the review log is the
/// server's alone, like `sensitive`.
#[test]
fn the_review_log_is_written_by_the_server_alone_and_reaches_every_phone() {
    let s = setup();
    let (walk, obs, sig) = s.sanne_walks("sig.other");
    let decision = Review {
        status: Some(SignalStatus::Referred),
        referral: Some("ref.police".into()),
        question: Some("Welk huis precies?".into()),
        ..Default::default()
    };
    s.lead.store.review_record(&sig.id, decision).unwrap();
    s.lead.sync().unwrap();
    s.sanne.sync().unwrap();
    s.sanne.store.answer_review(&sig.id, "Nummer drie, naast de bakker").unwrap();
    s.sanne.sync().unwrap();
    s.everyone_syncs();

    // Who did what; the same on every phone, and in the walk report.
    let log = s.lead.store.record(&sig.id).unwrap().review.log;
    let steps: Vec<(&str, &str, &str)> =
        log.iter().map(|l| (l.field.as_str(), l.value.as_str(), l.by_name.as_str())).collect();
    assert_eq!(
        steps,
        [
            ("review_status", "referred", "Teamleider"),
            ("review_referral", "ref.police", "Teamleider"),
            ("review_question", "asked", "Teamleider"),
            ("review_answer", "answered", "Veldwerker 0"),
        ]
    );
    // The question and the answer are kept with their steps (a new question replaces them on
    // the record, not in the log); the status steps carry codes.
    let texts: Vec<Option<&str>> = log.iter().map(|l| l.text.as_deref()).collect();
    assert_eq!(texts, [None, None, Some("Welk huis precies?"), Some("Nummer drie, naast de bakker")]);
    for p in [&s.sanne, &s.joost] {
        assert_eq!(p.store.record(&sig.id).unwrap().review.log, log);
    }
    let report = s.joost.store.walk_report(&walk.id).unwrap();
    assert_eq!(report.signals[0].review.log, log);
    // The server's history holds the same steps.
    let history = s.storage.history(&s.t.team.id, &sig.id.to_string()).unwrap();
    assert_eq!(history.len(), log.len());

    // A hostile device forges a log: on another member's record, and on a record of its own.
    let mut joost = s.raw(&s.t.workers[1]);
    let seen = joost.team();
    let clock = Hlc { wall_ms: now_ms() as u64, counter: 0, node: 77 }.to_string();
    let forged_log = json!([{"at_ms": now_ms() - 3_600_000, "by": s.t.lead.id, "by_name": "Teamleider",
                             "field": "reviewed_ms", "value": "reviewed", "comment": "Alles in orde"}]);
    let mut forged = seen[&obs.id.to_string()].clone();
    forged["fields"]["review_log"] = forged_log.clone();
    forged["clocks"]["review_log"] = json!(clock);
    forged["hlc"] = json!(clock);
    assert_eq!(joost.sync(vec![forged]).codes(), ["server_only"]);
    let own = s.joost.store.start_walk(new_walk(5)).unwrap();
    let r = s
        .joost
        .store
        .add_record(NewRecord { walk_id: own.id, body: observation("eigen"), created: at(6), location: None })
        .unwrap();
    s.joost.sync().unwrap();
    let mut mine = joost.team()[&r.id.to_string()].clone();
    mine["fields"]["review_log"] = forged_log;
    mine["clocks"]["review_log"] = json!(clock);
    mine["hlc"] = json!(clock);
    assert_eq!(joost.sync(vec![mine]).codes(), ["server_only"]);
    for id in [obs.id.to_string(), r.id.to_string()] {
        assert!(!stored_entity(s.storage.as_ref(), &s.t.team.id, &id).fields.contains_key("review_log"), "{id}");
    }
    s.everyone_syncs();
    assert!(s.lead.store.record(&obs.id).unwrap().review.log.is_empty());

    // A phone speaking protocol 3 does not know the field: it never gets it.
    let body = |protocol: u32| json!({"protocol": protocol, "cursor": 0, "push": [], "pull_limit": 5000});
    let old = joost.post("/v1/sync", &serde_json::to_vec(&body(3)).unwrap(), None, true);
    assert_eq!(old.status, 200);
    assert!(old.text.contains(&sig.id.to_string()) && !old.text.contains("review_log"));
    let new = joost.post("/v1/sync", &serde_json::to_vec(&body(PROTOCOL_VERSION)).unwrap(), None, true);
    assert!(new.text.contains("review_log"));
    s.honest_phones_still_work();
}

/// The walk's debrief (protocol 4) follows the rules of the walk's details: its author's, after
/// the end, not once a lead reviewed the walk; never sent to a protocol 3 phone.
#[test]
fn a_walks_debrief_is_its_authors_after_the_end_until_the_review() {
    let s = setup();
    let walk = s.sanne.store.start_walk(new_walk(0)).unwrap();
    let d = Debrief { dominant: Some(Logic::Cultural), note: "Veel vertrouwen bij de jongeren".into() };
    assert!(matches!(s.sanne.store.debrief_walk(&walk.id, d.clone()), Err(Error::WalkState { .. })), "not yet");
    s.sanne.store.end_walk(&walk.id, at(40)).unwrap();
    s.sanne.store.debrief_walk(&walk.id, d.clone()).unwrap();
    s.everyone_syncs();
    assert_eq!(s.lead.store.walk(&walk.id).unwrap().debrief, Some(d.clone()));
    assert_eq!(s.joost.store.walk_report(&walk.id).unwrap().debrief, Some(d.clone()));

    // Joost's hand-driven device rewrites Sanne's debrief: not his.
    let mut joost = s.raw(&s.t.workers[1]);
    let mut forged = joost.team()[&walk.id.to_string()].clone();
    let clock = Hlc { wall_ms: now_ms() as u64, counter: 0, node: 78 }.to_string();
    forged["fields"]["debrief"] = json!({"dominant": "institutional", "note": "vervalst"});
    forged["clocks"]["debrief"] = json!(clock);
    forged["hlc"] = json!(clock);
    assert_eq!(joost.sync(vec![forged]).codes(), ["not_author"]);
    // A debrief on an active walk breaks the walk's story.
    let active = s.joost.store.start_walk(new_walk(50)).unwrap();
    s.joost.sync().unwrap();
    let mut early = joost.team()[&active.id.to_string()].clone();
    early["fields"]["debrief"] = json!({"dominant": null, "note": "te vroeg"});
    early["clocks"]["debrief"] = json!(clock);
    early["hlc"] = json!(clock);
    assert_eq!(joost.sync(vec![early]).codes(), ["invalid"]);

    // Reviewed: frozen for its author too.
    s.lead.store.review_walk(&walk.id, None, true).unwrap();
    s.lead.sync().unwrap();
    s.sanne.sync().unwrap();
    assert!(matches!(s.sanne.store.debrief_walk(&walk.id, Debrief::default()), Err(Error::Reviewed)));
    // A protocol 3 phone gets the walk without it.
    let body = json!({"protocol": 3, "cursor": 0, "push": [], "pull_limit": 5000});
    let old = joost.post("/v1/sync", &serde_json::to_vec(&body).unwrap(), None, true);
    assert!(old.text.contains(&walk.id.to_string()) && !old.text.contains("debrief"));
    s.honest_phones_still_work();
}

/// A lead's phone that pulls a walk's notes before the walk (the walk changed last: ended,
/// submitted) keeps the walk's own start, not the first note's; its question about the walk is
/// then taken by the server and reaches the walker. (Found by the app's Robolectric walk: every
/// such question was refused as an identity conflict.)
#[test]
fn a_walk_pulled_after_its_notes_keeps_its_start_and_takes_a_leads_question() {
    let s = setup();
    let walk = s.sanne.store.start_walk(new_walk(0)).unwrap();
    s.sanne
        .store
        .add_record(NewRecord { walk_id: walk.id, body: observation("eerst"), created: at(5), location: None })
        .unwrap();
    s.sanne.sync().unwrap();
    s.sanne.store.end_walk(&walk.id, at(30)).unwrap();
    s.sanne.store.submit_walk(&walk.id).unwrap();
    s.sanne.sync().unwrap();
    s.lead.sync().unwrap();
    assert_eq!(s.lead.store.walk(&walk.id).unwrap().started, walk.started);
    s.lead.store.review_walk(&walk.id, Some("Waarom die route?".into()), false).unwrap();
    let out = s.lead.sync().unwrap();
    assert_eq!(out.refused, 0, "{:?}", s.lead.store.sync_status().unwrap().refused);
    s.sanne.sync().unwrap();
    assert_eq!(s.sanne.store.walk(&walk.id).unwrap().review.question.as_deref(), Some("Waarom die route?"));
    s.honest_phones_still_work();
}

/// Found by the convergence test: a lead refers a signal with a question and, before the
/// author's answer arrives, closes it with a new one. The server logged the closing under the
/// clock the log already had (the answer's), so the author's phone kept the older log and never
/// saw that the signal was closed, nor by whom.
#[test]
fn a_leads_steps_made_before_the_answer_arrived_reach_the_author() {
    let s = setup();
    let (_, _, sig) = s.sanne_walks("sig.other");
    let refer = Review {
        status: Some(SignalStatus::Referred),
        referral: Some("ref.care".into()),
        question: Some("Wie woont er?".into()),
        ..Default::default()
    };
    s.lead.store.review_record(&sig.id, refer).unwrap();
    s.lead.sync().unwrap();
    let close =
        Review { status: Some(SignalStatus::Closed), question: Some("Nog iets gezien?".into()), ..Default::default() };
    s.lead.store.review_record(&sig.id, close).unwrap();
    s.sanne.sync().unwrap();
    s.sanne.store.answer_review(&sig.id, "Een gezin").unwrap();
    // The author's answer reaches the server first, then the lead's closing.
    s.sanne.sync().unwrap();
    s.lead.sync().unwrap();
    s.everyone_syncs();

    let log = s.lead.store.record(&sig.id).unwrap().review.log;
    let steps: Vec<(&str, &str)> = log.iter().map(|l| (l.field.as_str(), l.value.as_str())).collect();
    assert!(steps.contains(&("review_status", "closed")), "{steps:?}");
    for p in [&s.sanne, &s.joost] {
        let r = p.store.record(&sig.id).unwrap();
        assert_eq!(r.review.log, log);
        assert_eq!(r.review.status, Some(SignalStatus::Closed));
    }
    s.honest_phones_still_work();
}
