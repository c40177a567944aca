//! An adversarial member. A team of two field workers and a lead with honest phones (real,
//! encrypted core stores syncing over HTTP) does random honest work, while a hostile device —
//! a stolen phone, a disgruntled colleague, a buggy app; a field worker's or a lead's — pushes
//! arbitrary mutations of what it has pulled: other members' records and walks, review fields,
//! `sensitive`, deletions, identity fields, oversized and unknown nested content, records in
//! other walks and in walks that do not exist, with equal, missing, older, newer, maximum,
//! far-future and ancient clocks.
//!
//! After every step the server's state (read through the feed as a lead's device would) is
//! checked by rules written here, independently of the server's code:
//! - no field changed against the rules: content, location and deletion only by the author
//!   and not once a lead reviewed or referred the record; review decisions only by a lead;
//!   the answer only by the author; walk fields only by the walk's author; `sensitive` follows
//!   the category; identity never changes; a new record only in the pusher's own name and in
//!   a walk of its own that exists;
//! - every signal's status history is a legal path and every walk's status only moves on;
//! - every stored clock is bounded; every entity and every pull page is within its byte budget;
//! - every honest phone still records and syncs, and in the end holds the team's state as far
//!   as need-to-know lets it see.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use wijkverkenner_core::review::{ReviewStep, LOGGED_FIELDS};
use wijkverkenner_core::sync::wire::{Entity, EntityKind, PROTOCOL_VERSION};
use wijkverkenner_core::*;
use wijkverkenner_server::storage::{Caller, Member as ServerMember, Role};
use wijkverkenner_server::{admin, sync as server_sync, Storage};

/// How far ahead of the server's clock a stored clock may be (the server's margin plus slack).
const CLOCK_AHEAD_MS: i64 = 2 * 86_400_000 + 60_000;
/// Largest stored entity and largest pull page, in bytes of JSON.
const ENTITY_BYTES: usize = 512 * 1024;
const PAGE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Clone, Copy, Debug)]
enum Clock {
    Equal,
    Missing,
    Older,
    Newer,
    Max,
    FarFuture,
    Ancient,
}

#[derive(Clone, Copy, Debug)]
enum Attack {
    /// A content field of a record or walk changes.
    Content,
    /// The location of a record changes.
    Location,
    /// A review field: status, referral, question, reviewed, answer.
    Review(u8),
    Sensitive(bool),
    Delete,
    /// A tombstone pushed back alive.
    Undelete,
    /// Identity fields: created offset, author, walk, created time.
    Identity(u8),
    /// Unknown keys and oversized values at some depth.
    Oversize(u8),
    /// A new record: in another member's walk, in a walk that does not exist, in another's
    /// name, or a sensitive signal marked not sensitive.
    NewRecord(u8),
    /// A walk's status set back or forward.
    WalkStatus(u8),
}

#[derive(Clone, Debug)]
enum Op {
    Add { phone: usize, kind: u8, text: u16 },
    Edit { phone: usize, pick: usize, text: u16 },
    Delete { phone: usize, pick: usize },
    Review { pick: usize, step: u8 },
    Answer { phone: usize, pick: usize },
    Sync { phone: usize },
    Attack { pick: usize, attack: Attack, clock: Clock },
}

fn clock_kind() -> impl Strategy<Value = Clock> {
    prop_oneof![
        Just(Clock::Equal),
        Just(Clock::Missing),
        Just(Clock::Older),
        Just(Clock::Newer),
        Just(Clock::Max),
        Just(Clock::FarFuture),
        Just(Clock::Ancient),
    ]
}

fn attack() -> impl Strategy<Value = Attack> {
    prop_oneof![
        4 => Just(Attack::Content),
        1 => Just(Attack::Location),
        3 => (0..7u8).prop_map(Attack::Review),
        2 => any::<bool>().prop_map(Attack::Sensitive),
        2 => Just(Attack::Delete),
        1 => Just(Attack::Undelete),
        1 => (0..4u8).prop_map(Attack::Identity),
        2 => (0..7u8).prop_map(Attack::Oversize),
        2 => (0..4u8).prop_map(Attack::NewRecord),
        1 => (0..3u8).prop_map(Attack::WalkStatus),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..3u8, any::<u16>()).prop_map(|(phone, kind, text)| Op::Add { phone, kind, text }),
        2 => (0..2usize, 0..4usize, any::<u16>()).prop_map(|(phone, pick, text)| Op::Edit { phone, pick, text }),
        1 => (0..2usize, 0..4usize).prop_map(|(phone, pick)| Op::Delete { phone, pick }),
        2 => (0..8usize, 0..4u8).prop_map(|(pick, step)| Op::Review { pick, step }),
        1 => (0..2usize, 0..6usize).prop_map(|(phone, pick)| Op::Answer { phone, pick }),
        2 => (0..3usize).prop_map(|phone| Op::Sync { phone }),
        8 => (any::<usize>(), attack(), clock_kind()).prop_map(|(pick, attack, clock)| Op::Attack { pick, attack, clock }),
    ]
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hlc_text(wall_ms: i64, counter: u16, node: u64) -> String {
    format!("{wall_ms:012x}.{counter:04x}.{node:016x}")
}

/// The hostile device: a raw HTTP client with a real credential, remembering what it pulled.
struct Hostile {
    agent: ureq::Agent,
    url: String,
    credential: String,
    member_id: String,
    node: u64,
    cursor: i64,
    seen: BTreeMap<String, Value>,
    walk_id: String,
}

impl Hostile {
    fn new(server: &TestServer, storage: &dyn Storage, member: &ServerMember) -> Hostile {
        let code = admin::issue_code(storage, &member.id, 1).unwrap();
        let (device, secret, _, _) = admin::redeem(storage, &code, "gestolen").unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut h = Hostile {
            agent,
            url: server.url.clone(),
            credential: format!("{}.{}", device.id, secret),
            member_id: member.id.clone(),
            node: uuid::Uuid::parse_str(&device.id).unwrap().as_u64_pair().1,
            cursor: 0,
            seen: BTreeMap::new(),
            walk_id: uuid::Uuid::now_v7().to_string(),
        };
        // Its own walk, honestly made, so that it has something of its own to abuse.
        let walk = json!({
            "kind": "walk", "id": h.walk_id, "author_id": h.member_id,
            "created_ms": now_ms() - 60_000, "created_offset_s": 3600,
            "hlc": hlc_text(now_ms(), 0, h.node),
            "fields": {
                "participants": [], "purpose": "ronde", "focus": [], "pauses": [], "status": "active",
                "ended": null, "summary": null, "buurten": [], "track": null,
                "review_question": null, "review_answer": null, "reviewed_ms": null
            }
        });
        let status = h.push(vec![walk.clone()]);
        assert_eq!(status, 200, "the hostile device's honest walk");
        h.seen.insert(h.walk_id.clone(), walk);
        h
    }

    /// One sync request; returns the status. A 200 answer's pull is remembered.
    fn push(&mut self, push: Vec<Value>) -> u16 {
        let body = json!({"protocol": PROTOCOL_VERSION, "cursor": self.cursor, "push": push, "pull_limit": 5000});
        let mut resp = self
            .agent
            .post(format!("{}/v1/sync", self.url))
            .header("Authorization", format!("Bearer {}", self.credential))
            .header("Content-Type", "application/json")
            .send(serde_json::to_vec(&body).unwrap())
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(200_000_000).read_to_string().unwrap_or_default();
        assert!(status < 500, "the server failed on a hostile push: {status} {text}");
        if status == 200 {
            let answer: Value = serde_json::from_str(&text).unwrap();
            for e in answer["pull"].as_array().unwrap() {
                self.seen.insert(e["id"].as_str().unwrap().to_string(), e.clone());
            }
            self.cursor = answer["cursor"].as_i64().unwrap();
        }
        status
    }

    fn pull(&mut self) {
        loop {
            let before = self.cursor;
            assert_eq!(self.push(vec![]), 200);
            if self.cursor == before {
                break;
            }
        }
    }

    fn new_clock(&self, kind: Clock, old: Option<&str>) -> Option<String> {
        let old_wall = old.and_then(|o| i64::from_str_radix(&o[..12], 16).ok());
        match kind {
            Clock::Equal => old.map(str::to_string),
            Clock::Missing => None,
            Clock::Older => Some(hlc_text(old_wall.unwrap_or(now_ms()) - 1_000, 0, self.node)),
            Clock::Newer => Some(hlc_text(now_ms(), 7, self.node)),
            Clock::Max => Some("ffffffffffff.ffff.ffffffffffffffff".into()),
            Clock::FarFuture => Some(hlc_text(now_ms() + 10 * 86_400_000, 0, self.node)),
            Clock::Ancient => Some(hlc_text(978_307_200_000, 0, self.node)),
        }
    }

    /// Sets `fields[name] = value` with a clock of `kind`, and the version clock with it.
    fn stamp(&self, e: &mut Value, name: &str, value: Value, kind: Clock) {
        let old = e["clocks"].get(name).and_then(|c| c.as_str()).map(str::to_string);
        e["fields"][name] = value;
        if !e["clocks"].is_object() {
            e["clocks"] = json!({});
        }
        match self.new_clock(kind, old.as_deref()) {
            Some(c) => {
                e["clocks"][name] = json!(c);
                if c.as_str() > e["hlc"].as_str().unwrap_or("") {
                    e["hlc"] = json!(c);
                }
            }
            None => {
                e["clocks"].as_object_mut().unwrap().remove(name);
            }
        }
    }

    /// What the hostile device pushes for one attack on the entity `pick` selects.
    fn forge(&self, pick: usize, attack: Attack, kind: Clock, others_walk: Option<&str>) -> Vec<Value> {
        let all: Vec<&Value> = self.seen.values().collect();
        let target = all[pick % all.len()].clone();
        let is_walk = target["kind"] == "walk";
        let deleted = target["deleted"].as_bool().unwrap_or(false);
        let mut e = target.clone();
        let forged = Value::String(format!("GEFORCEERD {pick}"));
        match attack {
            Attack::Content if deleted => return vec![],
            Attack::Content => {
                let name = match target["kind"].as_str().unwrap() {
                    "walk" => "purpose",
                    "observation" => "note",
                    "conversation" => "gist",
                    _ => "description",
                };
                self.stamp(&mut e, name, forged, kind);
            }
            Attack::Location if is_walk || deleted => return vec![],
            Attack::Location => {
                let loc = json!({"at": {"kind": "fix", "lat": 52.1, "lon": 5.2, "accuracy_m": 3.0, "fix_ms": now_ms(), "source": "manual_pin"}, "buurt": null, "wijk": null});
                self.stamp(&mut e, "location", loc, kind);
            }
            Attack::Review(_) if deleted => return vec![],
            Attack::Review(which) => {
                let (name, value) = match which {
                    0 => ("review_status", json!(["new", "in_review", "referred", "closed"][pick % 4])),
                    1 => ("review_referral", json!("ref.police")),
                    2 => ("review_question", forged),
                    3 => ("reviewed_ms", json!(now_ms())),
                    4 => ("review_answer", forged),
                    // The server's log, forged: a lead "referred" it, long ago.
                    6 => (
                        "review_log",
                        json!([{"at_ms": now_ms() - 86_400_000, "by": e["author_id"], "by_name": "Teamleider",
                                "field": "review_status", "value": "referred", "comment": forged}]),
                    ),
                    _ => ("review_status", json!("referred")),
                };
                if which == 5 {
                    self.stamp(&mut e, "review_referral", json!("ref.riec"), kind);
                }
                if is_walk && name.starts_with("review_s") | name.starts_with("review_r") {
                    return vec![];
                }
                self.stamp(&mut e, name, value, kind);
            }
            Attack::Sensitive(flag) => e["sensitive"] = json!(flag),
            Attack::Delete if is_walk => return vec![],
            Attack::Delete => {
                e["deleted"] = json!(true);
                e["fields"] = json!({});
                e["clocks"] = json!({});
                if let Some(c) = self.new_clock(kind, e["hlc"].as_str()) {
                    e["hlc"] = json!(c);
                }
            }
            Attack::Undelete if !deleted => return vec![],
            Attack::Undelete => {
                e["deleted"] = json!(false);
                e["fields"] = json!({"themes": ["obs.other"], "tone": "neutral", "note": forged,
                    "location": {"at": {"kind": "none"}, "buurt": null, "wijk": null}});
                e["kind"] = json!("observation");
            }
            Attack::Identity(which) => match which {
                0 => e["created_offset_s"] = json!(-36_000),
                1 => e["author_id"] = json!(self.member_id),
                2 if !is_walk => e["walk_id"] = json!(self.walk_id),
                _ => e["created_ms"] = json!(e["created_ms"].as_i64().unwrap() - 1),
            },
            Attack::Oversize(_) if deleted => return vec![],
            Attack::Oversize(which) => {
                let big = "x".repeat(1_000_000);
                // Always on something of its own as well: the author may change it, so only the
                // limits stand in the way.
                if is_walk {
                    match which {
                        0 => self.stamp(
                            &mut e,
                            "participants",
                            json!([{"type": "guest", "role": "wijkagent", "verborgen": big}]),
                            kind,
                        ),
                        1 => self.stamp(
                            &mut e,
                            "pauses",
                            Value::Array(
                                (0..60_000)
                                    .map(|i| json!({"from": {"utc_ms": 1_795_539_600_000i64 + i, "offset_s": 3600}, "until": null}))
                                    .collect(),
                            ),
                            kind,
                        ),
                        2 => self.stamp(&mut e, "buurten", Value::Array((0..60_000).map(|i| json!(format!("BU{i:08}"))).collect()), kind),
                        3 => self.stamp(
                            &mut e,
                            "track",
                            Value::Array((0..60_000).map(|i| json!({"at_ms": 1_795_539_600_000i64 + i, "lat": 52.09, "lon": 5.11})).collect()),
                            kind,
                        ),
                        4 => self.stamp(
                            &mut e,
                            "summary",
                            json!({"distance_m": 1.0, "walking_ms": 1, "outside_office_hours_ms": 0, "outside_office_hours_share": 0.0,
                                   "fixes": 1, "flagged_fixes": 0, "track_points": 1, "records": 0, "verborgen": big}),
                            kind,
                        ),
                        5 => self.stamp(&mut e, "focus", Value::Array((0..5_000).map(|_| json!("obs.other")).collect()), kind),
                        _ => self.stamp(&mut e, "purpose", Value::String(big), kind),
                    }
                } else {
                    match which {
                        0 | 1 => {
                            let loc = json!({"at": {"kind": "fix", "lat": 52.1, "lon": 5.2, "accuracy_m": 3.0, "fix_ms": now_ms(), "source": "gps", "verborgen": big}, "buurt": null, "wijk": null});
                            self.stamp(&mut e, "location", loc, kind);
                        }
                        2 => {
                            let loc = json!({"at": {"kind": "none"}, "buurt": big, "wijk": null});
                            self.stamp(&mut e, "location", loc, kind);
                        }
                        3 => self.stamp(&mut e, "verborgen", Value::String(big), kind),
                        4 => self.stamp(&mut e, "review_question", Value::String(big), kind),
                        _ => {
                            let name = if target["kind"] == "observation" { "themes" } else { "review_referral" };
                            self.stamp(
                                &mut e,
                                name,
                                Value::Array((0..5_000).map(|_| json!("obs.other")).collect()),
                                kind,
                            );
                        }
                    }
                }
            }
            Attack::NewRecord(which) => {
                let walk = match which {
                    0 => others_walk.unwrap_or(&self.walk_id).to_string(),
                    1 => uuid::Uuid::now_v7().to_string(),
                    _ => self.walk_id.clone(),
                };
                let author = if which == 2 {
                    all.iter()
                        .map(|v| v["author_id"].as_str().unwrap())
                        .find(|a| *a != self.member_id)
                        .unwrap_or(&self.member_id)
                        .to_string()
                } else {
                    self.member_id.clone()
                };
                let mut r = json!({
                    "kind": "signal", "id": uuid::Uuid::now_v7().to_string(), "walk_id": walk, "author_id": author,
                    "created_ms": now_ms() - 1_000, "created_offset_s": 3600, "sensitive": false,
                    "hlc": hlc_text(now_ms(), 0, self.node),
                    "fields": {
                        "category": if which == 3 { "sig.weapons" } else { "sig.other" }, "severity": "low",
                        "description": forged, "at_known_place": false, "follow_up": "", "suggested_referral": null,
                        "location": {"at": {"kind": "none"}, "buurt": null, "wijk": null},
                        "review_status": if pick % 3 == 0 { json!("referred") } else { json!(null) },
                        "review_referral": if pick % 3 == 0 { json!("ref.police") } else { json!(null) },
                        "review_question": null, "review_answer": null, "reviewed_ms": null
                    }
                });
                if let Some(c) = self.new_clock(kind, r["hlc"].as_str()) {
                    r["hlc"] = json!(c);
                }
                return vec![r];
            }
            Attack::WalkStatus(_) if !is_walk => return vec![],
            Attack::WalkStatus(which) => {
                let status = ["active", "ended", "submitted"][which as usize];
                self.stamp(&mut e, "status", json!(status), kind);
            }
        }
        vec![e]
    }
}

/// The team's state as a lead's device reads it through the feed: every entity, tombstones
/// too. Also checks that every page is within its byte budget.
fn server_state(storage: &dyn Storage, audit: &Caller) -> BTreeMap<String, Entity> {
    let mut out = BTreeMap::new();
    let mut cursor = 0;
    loop {
        let p = server_sync::pull(storage, audit, PROTOCOL_VERSION, cursor, 5000, server_sync::SHARED_CELL_M).unwrap();
        let bytes: usize = p.docs.iter().map(String::len).sum();
        assert!(bytes <= PAGE_BYTES, "a pull page of {bytes} bytes");
        for doc in &p.docs {
            assert!(doc.len() <= ENTITY_BYTES, "an entity of {} bytes is stored", doc.len());
            let e: Entity = serde_json::from_str(doc).expect("every stored entity can be read");
            out.insert(e.id.clone(), e);
        }
        cursor = p.cursor;
        if !p.more {
            return out;
        }
    }
}

fn text_of(e: &Entity, name: &str) -> Option<String> {
    e.fields.get(name).and_then(|v| v.as_str()).map(str::to_string)
}

/// Referred or reviewed: the author can no longer change the content or delete it.
fn frozen(e: &Entity) -> bool {
    e.kind != EntityKind::Walk
        && (e.fields.get("reviewed_ms").is_some_and(|v| !v.is_null())
            || text_of(e, "review_status").as_deref() == Some("referred"))
}

fn status_of(e: &Entity) -> SignalStatus {
    e.fields
        .get("review_status")
        .and_then(|v| serde_json::from_value::<Option<SignalStatus>>(v.clone()).ok().flatten())
        .unwrap_or(SignalStatus::New)
}

fn walk_rank(e: &Entity) -> u8 {
    match text_of(e, "status").as_deref() {
        Some("active") => 0,
        Some("ended") => 1,
        _ => 2,
    }
}

fn derived_sensitive(e: &Entity, taxonomy: &Taxonomy) -> bool {
    e.kind == EntityKind::Signal
        && text_of(e, "category").is_none_or(|c| taxonomy.get(&c).is_none_or(|cat| cat.sensitive))
}

const LEAD_ONLY: [&str; 4] = ["review_status", "review_referral", "review_question", "reviewed_ms"];
const WALK_DETAILS: [&str; 3] = ["participants", "purpose", "focus"];

/// Checks one step from `before` to `after`, taken by `pusher` (role, member id).
/// The review log of `after` is the log of `before` (its oldest steps perhaps dropped) with
/// steps of `me` appended, one for each review field that changed.
fn log_appended(before: &Entity, after: &Entity, me: &str) -> bool {
    let log = |e: &Entity| -> Vec<ReviewStep> {
        e.fields.get("review_log").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    };
    let (old, new) = (log(before), log(after));
    let Some(keep) = (0..=old.len()).find(|k| new.starts_with(&old[*k..])) else { return false };
    let added = &new[old.len() - keep..];
    let value = |e: &Entity, f: &str| e.fields.get(f).filter(|v| !v.is_null()).cloned();
    let new_question = value(after, "review_question").is_some()
        && value(after, "review_question") != value(before, "review_question");
    let changed: Vec<&str> = LOGGED_FIELDS
        .iter()
        .copied()
        .filter(|f| value(before, f) != value(after, f))
        // The answer of a replaced question goes without a step of its own.
        .filter(|f| !(*f == "review_answer" && new_question && value(after, f).is_none()))
        .collect();
    !added.is_empty()
        && added.len() == changed.len()
        && added.iter().zip(&changed).all(|(s, f)| s.by == me && s.field == *f)
}

fn check_step(
    before: &BTreeMap<String, Entity>,
    after: &BTreeMap<String, Entity>,
    pusher: (Role, &str),
    taxonomy: &Taxonomy,
) -> Result<(), String> {
    let (role, me) = pusher;
    let lead = role == Role::Lead;
    let now = now_ms();
    for (id, a) in after {
        // Clocks are bounded.
        for c in a.clocks.values().chain([&a.hlc]) {
            if c.wall_ms as i64 > now + CLOCK_AHEAD_MS {
                return Err(format!("{id}: a stored clock {c} lies beyond the margin"));
            }
        }
        if !a.deleted && a.sensitive != (derived_sensitive(a, taxonomy) || before.get(id).is_some_and(|b| b.sensitive))
        {
            return Err(format!("{id}: sensitive={} does not follow from its category", a.sensitive));
        }
        let Some(b) = before.get(id) else {
            // Created in this step.
            if a.author_id != me {
                return Err(format!("{id}: created in another member's name"));
            }
            if let Some(w) = &a.walk_id {
                match after.get(w) {
                    Some(walk) if walk.kind == EntityKind::Walk && walk.author_id == me => {}
                    _ => return Err(format!("{id}: a record in a walk that is not the pusher's or does not exist")),
                }
            }
            if !lead && LEAD_ONLY.iter().any(|f| a.fields.get(*f).is_some_and(|v| !v.is_null())) {
                return Err(format!("{id}: a field worker created a reviewed record"));
            }
            if a.kind == EntityKind::Signal && !SignalStatus::New.can_become(status_of(a)) {
                return Err(format!("{id}: created with an illegal status"));
            }
            continue;
        };
        if (b.kind, &b.author_id, &b.walk_id, b.created_ms, b.created_offset_s)
            != (a.kind, &a.author_id, &a.walk_id, a.created_ms, a.created_offset_s)
        {
            return Err(format!("{id}: identity changed"));
        }
        if b.deleted {
            if !a.deleted {
                return Err(format!("{id}: a tombstone came back"));
            }
            continue;
        }
        let author = a.author_id == me;
        if a.deleted {
            if !author || frozen(b) {
                return Err(format!(
                    "{id}: deleted by {} (frozen: {})",
                    if author { "its author" } else { "another" },
                    frozen(b)
                ));
            }
            continue;
        }
        if b.sensitive && !a.sensitive {
            return Err(format!("{id}: sensitive was cleared"));
        }
        let names: BTreeSet<&String> = a.fields.keys().chain(b.fields.keys()).collect();
        for f in names {
            if a.fields.get(f) == b.fields.get(f) && a.clock(f) == b.clock(f) {
                continue;
            }
            let allowed = if LEAD_ONLY.contains(&f.as_str()) {
                lead
            } else if f == "review_answer" {
                // A lead's new question takes its predecessor's answer with it.
                let question = |e: &Entity| e.fields.get("review_question").filter(|v| !v.is_null()).cloned();
                author
                    || (lead
                        && a.fields.get(f).is_none_or(|v| v.is_null())
                        && question(a).is_some()
                        && question(a) != question(b))
            } else if f == "review_log" {
                // The server's: only ever appended to, with the pusher's steps on the review
                // fields this step changed.
                log_appended(b, a, me)
            } else if a.kind == EntityKind::Walk {
                author
                    && !(WALK_DETAILS.contains(&f.as_str())
                        && b.fields.get("reviewed_ms").is_some_and(|v| !v.is_null()))
            } else {
                author && !frozen(b)
            };
            if !allowed {
                return Err(format!("{id}: field {f} of a {:?} changed by a {role:?} (author: {author})", a.kind));
            }
        }
        if a.kind == EntityKind::Signal && !status_of(b).can_become(status_of(a)) {
            return Err(format!("{id}: status {:?} → {:?}", status_of(b), status_of(a)));
        }
        if a.kind == EntityKind::Walk && walk_rank(a) < walk_rank(b) {
            return Err(format!("{id}: a walk's status went back"));
        }
    }
    for id in before.keys() {
        if !after.contains_key(id) {
            return Err(format!("{id}: vanished from the team's feed"));
        }
    }
    Ok(())
}

fn edited(r: &Record, text: u16) -> RecordBody {
    match &r.body {
        RecordBody::Observation(o) => {
            RecordBody::Observation(Observation { note: format!("bewerkt {text}"), ..o.clone() })
        }
        RecordBody::Signal(s) => RecordBody::Signal(Signal { description: format!("bewerkt {text}"), ..s.clone() }),
        RecordBody::Conversation(c) => {
            RecordBody::Conversation(Conversation { gist: format!("bewerkt {text}"), ..c.clone() })
        }
    }
}

/// An honest phone's own records that it may still change.
fn own_open_records(store: &Store) -> Vec<Record> {
    let me = store.identity().unwrap().member.id;
    let mut all = store.latest_records(&PageRequest::first(500)).unwrap().items;
    all.retain(|r| r.author_id == me && r.reviewed_ms.is_none() && r.review.status != Some(SignalStatus::Referred));
    all.sort_by_key(|r| r.id);
    all
}

#[derive(Default)]
struct Totals {
    runs: u32,
    attacks: u32,
    refused_or_harmless: u32,
}

fn run_case(
    storage: std::sync::Arc<dyn Storage>,
    ops: &[Op],
    hostile_lead: bool,
    totals: &std::sync::Mutex<Totals>,
) -> Result<(), TestCaseError> {
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Tegenspeler", 3);
    let taxonomy = Taxonomy::default_taxonomy();
    let phones: Vec<Phone> =
        [&t.workers[0], &t.workers[1], &t.lead].iter().map(|m| Phone::enrol(&server, storage.as_ref(), m)).collect();
    let hostile_member = if hostile_lead {
        admin::add_member(storage.as_ref(), &t.team.id, "Tweede leider", Role::Lead, "Gemeente").unwrap()
    } else {
        t.workers[2].clone()
    };
    let hostile_role = hostile_member.role;
    let audit = {
        let code = admin::issue_code(storage.as_ref(), &t.lead.id, 1).unwrap();
        let (device, _, _, _) = admin::redeem(storage.as_ref(), &code, "controle").unwrap();
        storage.caller(&device.id).unwrap().unwrap()
    };
    let walks: Vec<WalkId> = phones.iter().take(2).map(|p| p.store.start_walk(new_walk(0)).unwrap().id).collect();
    for p in &phones {
        p.sync().unwrap();
    }
    let mut hostile = Hostile::new(&server, storage.as_ref(), &hostile_member);
    let mut state = server_state(storage.as_ref(), &audit);

    for (step, op) in ops.iter().enumerate() {
        let mut pusher = None;
        match op {
            Op::Add { phone, kind, text } => {
                let Some(w) = walks.get(*phone) else { continue };
                phones[*phone]
                    .store
                    .add_record(NewRecord {
                        walk_id: *w,
                        body: random_body(*kind, *text),
                        created: at(1),
                        location: Some(location(52.09, 5.11)),
                    })
                    .unwrap();
            }
            Op::Edit { phone, pick, text } => {
                let own = own_open_records(&phones[*phone].store);
                if let Some(r) = own.get(pick % own.len().max(1)) {
                    phones[*phone].store.edit_record(&r.id, edited(r, *text), None).unwrap();
                }
            }
            Op::Delete { phone, pick } => {
                let own = own_open_records(&phones[*phone].store);
                if let Some(r) = own.get(pick % own.len().max(1)) {
                    phones[*phone].store.delete_record(&r.id).unwrap();
                }
            }
            Op::Review { pick, step } => {
                let lead = &phones[2].store;
                let all = lead.latest_records(&PageRequest::first(500)).unwrap().items;
                if let Some(r) = all.get(pick % all.len().max(1)) {
                    let status = match (&r.body, step) {
                        (RecordBody::Signal(_), 0) => Some(SignalStatus::InReview),
                        (RecordBody::Signal(_), 1) => Some(SignalStatus::Referred),
                        (RecordBody::Signal(_), 2) => Some(SignalStatus::Closed),
                        _ => r.review.status,
                    };
                    let from = r.review.status.unwrap_or(SignalStatus::New);
                    if status.is_none_or(|s| from.can_become(s)) {
                        let referral = (status == Some(SignalStatus::Referred)).then(|| "ref.care".to_string());
                        lead.review_record(
                            &r.id,
                            Review { status, referral, question: Some(format!("vraag {step}")), ..Default::default() },
                        )
                        .unwrap();
                    }
                    if *step == 3 {
                        lead.mark_record_reviewed(&r.id).unwrap();
                    }
                }
            }
            Op::Answer { phone, pick } => {
                let store = &phones[*phone].store;
                let me = store.identity().unwrap().member.id;
                let asked: Vec<Record> = store
                    .latest_records(&PageRequest::first(500))
                    .unwrap()
                    .items
                    .into_iter()
                    .filter(|r| r.author_id == me && r.review.question.is_some())
                    .collect();
                if let Some(r) = asked.get(pick % asked.len().max(1)) {
                    store.answer_review(&r.id, &format!("antwoord {pick}")).unwrap();
                }
            }
            Op::Sync { phone } => {
                let out = phones[*phone].sync();
                prop_assert!(out.is_ok(), "step {step}: an honest phone could not sync: {:?}", out.err());
            }
            Op::Attack { pick, attack, clock } => {
                hostile.pull();
                let push = hostile.forge(*pick, *attack, *clock, Some(&walks[pick % 2].to_string()));
                if push.is_empty() {
                    continue;
                }
                totals.lock().unwrap().attacks += 1;
                hostile.push(push);
                pusher = Some((hostile_role, hostile_member.id.as_str()));
            }
        }
        let next = server_state(storage.as_ref(), &audit);
        if let Some(p) = pusher {
            if let Err(e) = check_step(&state, &next, p, &taxonomy) {
                return Err(TestCaseError::fail(format!("step {step} ({op:?}): {e}")));
            }
            totals.lock().unwrap().refused_or_harmless += 1;
            // Every honest phone still syncs and records after the attack.
            let honest = &phones[step % phones.len()];
            let synced = honest.sync();
            prop_assert!(
                synced.is_ok(),
                "step {step}: an honest phone could not sync after {op:?}: {:?}",
                synced.err()
            );
            if let Some(w) = walks.get(step % phones.len()) {
                let added = honest.store.add_record(NewRecord {
                    walk_id: *w,
                    body: observation("na de aanval"),
                    created: at(2),
                    location: None,
                });
                prop_assert!(
                    added.is_ok(),
                    "step {step}: an honest phone could not record after {op:?}: {:?}",
                    added.err()
                );
            }
        }
        // Every status history is a legal path; walks only move on (any pusher).
        for (id, a) in &next {
            if let Some(b) = state.get(id) {
                if !a.deleted && !b.deleted {
                    prop_assert!(
                        status_of(b).can_become(status_of(a)),
                        "step {step}: {id} {:?} → {:?}",
                        status_of(b),
                        status_of(a)
                    );
                    prop_assert!(walk_rank(a) >= walk_rank(b), "step {step}: walk {id} went back");
                }
            }
        }
        state = server_state(storage.as_ref(), &audit);
    }

    // In the end every honest phone syncs, records, and holds what the team holds as far as
    // need-to-know lets it see.
    for _ in 0..3 {
        for p in &phones {
            let out = p.sync();
            prop_assert!(out.is_ok(), "final sync failed: {:?}", out.err());
        }
    }
    let state = server_state(storage.as_ref(), &audit);
    for (i, p) in phones.iter().enumerate() {
        prop_assert_eq!(p.store.pending_count().unwrap(), 0, "phone {} keeps an outbox", i);
        let me = p.store.identity().unwrap().member.id.to_string();
        let lead = i == 2;
        let expected: BTreeSet<String> = state
            .values()
            .filter(|e| e.kind != EntityKind::Walk && !e.deleted && (lead || !e.sensitive || e.author_id == me))
            .map(|e| e.id.clone())
            .collect();
        let held: BTreeSet<String> = snapshot(&p.store).into_iter().map(|(id, _)| id).collect();
        prop_assert_eq!(held, expected, "phone {} differs from the team's state", i);
        // Content as on the server, field for field, for the records it holds.
        for r in p.store.latest_records(&PageRequest::first(500)).unwrap().items {
            let e = &state[&r.id.to_string()];
            let local = wijkverkenner_core::sync::codec::record_fields(&r).unwrap();
            for (k, v) in &local {
                // A place only its author (and for a signal the leads) holds precisely: both
                // sides as the team shares it (the server's state here is a lead's view).
                let coarse = matches!(e.kind, EntityKind::Conversation | EntityKind::Signal);
                let (v, expected) = match (k.as_str(), e.fields.get(k)) {
                    ("location", Some(place)) if coarse => (shared(v), Some(shared(place))),
                    (_, other) => (v.clone(), other.cloned()),
                };
                let v = &v;
                prop_assert_eq!(Some(v), expected.as_ref(), "phone {} record {} field {}", i, r.id, k);
            }
        }
    }
    totals.lock().unwrap().runs += 1;
    Ok(())
}

/// A record's place field as others than its author see it: the point at its cell's centre.
fn shared(place: &Value) -> Value {
    let mut place = place.clone();
    if let Some(at) = place.get_mut("at") {
        let at_cell = serde_json::from_value::<RecordLocation>(at.take()).unwrap();
        *at = serde_json::to_value(at_cell.coarsened(wijkverkenner_server::sync::SHARED_CELL_M)).unwrap();
    }
    place
}

fn run(storage: impl Fn() -> std::sync::Arc<dyn Storage>, cases: u32) {
    let totals = std::sync::Mutex::new(Totals::default());
    let config =
        ProptestConfig { cases, max_shrink_iters: 100, failure_persistence: None, ..ProptestConfig::default() };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&(prop::collection::vec(op(), 10..50), any::<bool>()), |(ops, hostile_lead)| {
        run_case(storage(), &ops, hostile_lead, &totals)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = totals.into_inner().unwrap();
    eprintln!(
        "adversary: {} runs, {} hostile pushes, every one refused or within the rules ({} checked)",
        t.runs, t.attacks, t.refused_or_harmless
    );
    assert_eq!(t.attacks, t.refused_or_harmless);
}

#[test]
fn a_hostile_member_cannot_change_what_is_not_theirs_sqlite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    let cases = std::env::var("WV_ADVERSARY_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(16);
    run(
        || {
            let dir = tempfile::tempdir().unwrap();
            let s = sqlite_storage(dir.path());
            dirs.lock().unwrap().push(dir);
            s
        },
        cases,
    );
}

#[test]
fn a_hostile_member_cannot_change_what_is_not_theirs_postgres() {
    run(postgres_storage, 6);
}
