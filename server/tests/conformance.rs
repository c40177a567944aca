//! One conformance suite for every storage backend: the same tests run against embedded
//! SQLite and against a real PostgreSQL (started by the test command).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use serde_json::json;
use wijkverkenner_core::sync::wire::{Entity, EntityKind, PROTOCOL_VERSION};
use wijkverkenner_core::Hlc;
use wijkverkenner_server::storage::{Caller, Role};
use wijkverkenner_server::{admin, sync, Error, Storage};

fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn clock(ms: u64) -> Hlc {
    Hlc { wall_ms: ms, counter: 0, node: 1 }
}

/// A device for `member` straight in storage, and the caller it makes.
fn caller(s: &dyn Storage, member: &wijkverkenner_server::storage::Member) -> Caller {
    let code = admin::issue_code(s, &member.id, 1).unwrap();
    let (device, _, _, _) = admin::redeem(s, &code, "test").unwrap();
    s.caller(&device.id).unwrap().unwrap()
}

fn walk(author: &str, id: &str) -> Entity {
    let mut fields = BTreeMap::new();
    for (k, v) in [
        ("participants", json!([])),
        ("purpose", json!("ronde")),
        ("focus", json!([])),
        ("pauses", json!([])),
        ("status", json!("active")),
        ("ended", json!(null)),
        ("summary", json!(null)),
        ("buurten", json!([])),
        ("track", json!(null)),
        ("review_question", json!(null)),
        ("review_answer", json!(null)),
        ("reviewed_ms", json!(null)),
    ] {
        fields.insert(k.to_string(), v);
    }
    Entity {
        kind: EntityKind::Walk,
        id: id.into(),
        walk_id: None,
        author_id: author.into(),
        created_ms: 1_795_539_600_000,
        created_offset_s: 3600,
        sensitive: false,
        deleted: false,
        hlc: clock(1),
        fields,
        clocks: BTreeMap::new(),
    }
}

fn record(author: &str, walk_id: &str, id: &str, note: &str, sensitive_signal: bool) -> Entity {
    let mut fields = BTreeMap::new();
    let kind = if sensitive_signal {
        fields.insert("category".into(), json!("sig.weapons"));
        fields.insert("severity".into(), json!("high"));
        fields.insert("description".into(), json!(note));
        fields.insert("at_known_place".into(), json!(false));
        fields.insert("follow_up".into(), json!(""));
        fields.insert("suggested_referral".into(), json!(null));
        fields.insert("review_status".into(), json!(null));
        fields.insert("review_referral".into(), json!(null));
        EntityKind::Signal
    } else {
        fields.insert("themes".into(), json!(["obs.litter"]));
        fields.insert("tone".into(), json!("neutral"));
        fields.insert("note".into(), json!(note));
        EntityKind::Observation
    };
    fields.insert("location".into(), json!({"at": {"kind": "none"}, "buurt": null, "wijk": null}));
    fields.insert("review_question".into(), json!(null));
    fields.insert("review_answer".into(), json!(null));
    fields.insert("reviewed_ms".into(), json!(null));
    Entity {
        kind,
        id: id.into(),
        walk_id: Some(walk_id.into()),
        author_id: author.into(),
        created_ms: 1_795_539_700_000,
        created_offset_s: 3600,
        sensitive: sensitive_signal,
        deleted: false,
        hlc: clock(2),
        fields,
        clocks: BTreeMap::new(),
    }
}

fn forbidden(r: Result<sync::Pushed, Error>) -> bool {
    matches!(r, Err(Error::Api(e)) if e.status.as_u16() == 403)
}

fn teams_members_and_devices(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Kanaleneiland", 1);
    assert_eq!(s.team(&t.team.id).unwrap().unwrap().name, "Kanaleneiland");
    assert_eq!(s.member(&t.lead.id).unwrap().unwrap().role, Role::Lead);
    let c = caller(s.as_ref(), &t.workers[0]);
    assert_eq!(c.team.id, t.team.id);
    assert_eq!(c.member.id, t.workers[0].id);
    let devices = s.devices(&t.team.id).unwrap();
    assert_eq!(devices.len(), 1);
    assert!(s.revoke_device(&c.device.id, 5).unwrap());
    assert_eq!(s.caller(&c.device.id).unwrap().unwrap().device.revoked_ms, Some(5));
    assert!(!s.revoke_device(&uuid(), 5).unwrap());
    assert!(s.caller(&uuid()).unwrap().is_none());
}

fn enrolment_codes_are_one_time_and_expire(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Zuilen", 1);
    let code = admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap();
    assert!(admin::redeem(s.as_ref(), &code, "a").is_ok());
    assert!(admin::redeem(s.as_ref(), &code, "b").is_err());
    // Expired: stored with a time in the past.
    s.create_enrolment(&admin::sha256_hex("ABCD1234"), &t.workers[0].id, 1).unwrap();
    assert!(admin::redeem(s.as_ref(), "abcd-1234", "c").is_err());
    assert!(admin::redeem(s.as_ref(), "nonsense", "d").is_err());
}

fn a_lost_enrolment_answer_can_be_asked_again(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Hoograven", 1);
    let member = &t.workers[0];
    let code = admin::issue_code(s.as_ref(), &member.id, 1).unwrap();
    let attempt = "8f3a0c9e5b7d4e21a6c0f1b2d3e4f5a6";
    let (first, lost, _, _) = admin::redeem_attempt(s.as_ref(), &code, Some(attempt), "telefoon").unwrap();
    // The answer never arrived; the phone asks again with the same attempt.
    let (again, credential, m, _) = admin::redeem_attempt(s.as_ref(), &code, Some(attempt), "telefoon").unwrap();
    assert_eq!(again.id, first.id, "the same device, not a second one");
    assert_eq!(m.id, member.id);
    assert_ne!(credential, lost);
    let stored = s.caller(&first.id).unwrap().unwrap().device;
    assert_eq!(stored.credential_hash, admin::sha256_hex(&credential), "only the newest credential is valid");
    assert_eq!(s.devices(&t.team.id).unwrap().len(), 1);
    // Anyone else with the code is still refused: another attempt, or none.
    assert!(admin::redeem_attempt(s.as_ref(), &code, Some("0000000000000000ffffffffffffffff"), "x").is_err());
    assert!(admin::redeem(s.as_ref(), &code, "x").is_err());
    // Not after the code expired, and not for a revoked device.
    let hash = admin::sha256_hex(&admin::normalise_code(&code));
    let late = s.redeem_enrolment(&hash, Some(&admin::sha256_hex(attempt)), i64::MAX, &stored).unwrap();
    assert_eq!(late, wijkverkenner_server::storage::Redeemed::Invalid);
    assert!(s.revoke_device(&first.id, 5).unwrap());
    assert!(admin::redeem_attempt(s.as_ref(), &code, Some(attempt), "telefoon").is_err());
}

fn pushes_are_idempotent_and_sequenced(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Noordwest", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "zwerfvuil", false);
    let push = vec![w.clone(), r.clone()];
    assert_eq!(sync::apply_push(s.as_ref(), &a, &push).unwrap().changed, 2);
    for _ in 0..3 {
        assert_eq!(sync::apply_push(s.as_ref(), &a, &push).unwrap().changed, 0, "a repeated push changes nothing");
    }
    // Reordered: the record before its walk is fine too.
    assert_eq!(sync::apply_push(s.as_ref(), &a, &[r.clone(), w.clone()]).unwrap().changed, 0);
    let page = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100).unwrap();
    assert_eq!(page.docs.len(), 2);
    assert!(!page.more);
    assert_eq!(sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, page.cursor, 100).unwrap().docs.len(), 0);
    // The pusher is not sent its own changes back.
    assert_eq!(sync::pull(s.as_ref(), &a, PROTOCOL_VERSION, 0, 100).unwrap().docs.len(), 0);
}

fn edits_merge_per_field(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Oost", 1);
    let a = caller(s.as_ref(), &t.workers[0]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "eerst", false);
    sync::apply_push(s.as_ref(), &a, &[w, r.clone()]).unwrap();
    // The author edits the note; the lead, concurrently, asks a question.
    let mut edit = r.clone();
    edit.fields.insert("note".into(), json!("later"));
    edit.clocks.insert("note".into(), clock(10));
    edit.hlc = clock(10);
    let mut question = r.clone();
    question.fields.insert("review_question".into(), json!("Waar precies?"));
    question.clocks.insert("review_question".into(), clock(9));
    question.hlc = clock(9);
    assert_eq!(sync::apply_push(s.as_ref(), &lead, &[question]).unwrap().changed, 1);
    assert_eq!(sync::apply_push(s.as_ref(), &a, &[edit]).unwrap().changed, 1);
    let page = sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, 0, 100).unwrap();
    let entities = page.entities().unwrap();
    let merged = entities.iter().find(|e| e.id == r.id).unwrap();
    assert_eq!(merged.fields["note"], json!("later"));
    assert_eq!(merged.fields["review_question"], json!("Waar precies?"));
}

fn rights_are_enforced_and_a_refused_push_stores_nothing(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "West", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "van a", false);
    sync::apply_push(s.as_ref(), &a, &[w.clone(), r.clone()]).unwrap();

    // b may not create in a's name, nor edit a's record, nor review.
    let forged = record(&a.member.id, &w.id, &uuid(), "namens a", false);
    assert!(forbidden(sync::apply_push(s.as_ref(), &b, &[forged])));
    let mut edit = r.clone();
    edit.fields.insert("note".into(), json!("door b"));
    edit.clocks.insert("note".into(), clock(20));
    assert!(forbidden(sync::apply_push(s.as_ref(), &b, &[edit.clone()])));
    let mut review = r.clone();
    review.fields.insert("reviewed_ms".into(), json!(5));
    review.clocks.insert("reviewed_ms".into(), clock(21));
    assert!(forbidden(sync::apply_push(s.as_ref(), &a, &[review.clone()])));
    // A push with one forbidden change among good ones stores none of them.
    let fine = record(&b.member.id, &w.id, &uuid(), "van b", false);
    let before = sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, 0, 100).unwrap().cursor;
    assert!(forbidden(sync::apply_push(s.as_ref(), &b, &[fine.clone(), edit])));
    assert_eq!(sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, 0, 100).unwrap().cursor, before);
    assert_eq!(sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, 0, 100).unwrap().docs.len(), 2);
    // The lead may review; a delete only by the author.
    assert_eq!(sync::apply_push(s.as_ref(), &lead, &[review]).unwrap().changed, 1);
    let mut delete = r.clone();
    delete.deleted = true;
    delete.fields.clear();
    delete.hlc = clock(30);
    assert!(forbidden(sync::apply_push(s.as_ref(), &b, &[delete.clone()])));
    assert_eq!(sync::apply_push(s.as_ref(), &a, &[delete]).unwrap().changed, 1);
}

fn signal_status_follows_the_transitions(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Zuidwest", 1);
    let a = caller(s.as_ref(), &t.workers[0]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let sig = record(&a.member.id, &w.id, &uuid(), "wapen gezien", true);
    sync::apply_push(s.as_ref(), &a, &[w, sig.clone()]).unwrap();
    let set = |e: &Entity, status: &str, referral: Option<&str>, at: u64| {
        let mut e = e.clone();
        e.fields.insert("review_status".into(), json!(status));
        e.fields.insert("review_referral".into(), json!(referral));
        e.clocks.insert("review_status".into(), clock(at));
        e.clocks.insert("review_referral".into(), clock(at));
        e.hlc = clock(at);
        e
    };
    let closed = set(&sig, "closed", None, 40);
    assert_eq!(sync::apply_push(s.as_ref(), &lead, std::slice::from_ref(&closed)).unwrap().changed, 1);
    // Closed → referred is not allowed (reopen through review first): the push is applied,
    // the status kept, stamped after the refused change, and the refusal reported.
    let referred = set(&closed, "referred", Some("ref.police"), 41);
    let out = sync::apply_push(s.as_ref(), &lead, std::slice::from_ref(&referred)).unwrap();
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].field, "review_status");
    // The pushing phone gets the server's version back, with a clock that wins over its own.
    let back = sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, 0, 100).unwrap();
    let back = back.entities().unwrap();
    let kept = back.iter().find(|e| e.id == sig.id).expect("the refused change comes back");
    assert_eq!(kept.fields["review_status"], json!("closed"));
    assert!(kept.clock("review_status") > referred.clock("review_status"));
    let reopened = set(kept, "in_review", None, 42);
    let reopened = Entity { hlc: kept.hlc.max(clock(42)), ..reopened };
    let mut reopened = reopened;
    let later = kept.clock("review_status").tick(kept.clock("review_status").wall_ms + 1, 1);
    reopened.clocks.insert("review_status".into(), later);
    reopened.clocks.insert("review_referral".into(), later);
    assert_eq!(sync::apply_push(s.as_ref(), &lead, &[reopened]).unwrap().changed, 1);
    assert!(
        sync::apply_push(s.as_ref(), &lead, &[closed]).unwrap().rejected.is_empty(),
        "an old version changes nothing"
    );
}

fn the_feed_is_need_to_know_and_paged(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Binnenstad", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let mut push = vec![w.clone()];
    for i in 0..25 {
        push.push(record(&a.member.id, &w.id, &uuid(), &format!("r{i}"), i % 5 == 0));
    }
    sync::apply_push(s.as_ref(), &a, &push).unwrap();
    let all = |c: &Caller| {
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let p = sync::pull(s.as_ref(), c, PROTOCOL_VERSION, cursor, 4).unwrap();
            assert!(p.docs.len() <= 4);
            seen.extend(p.entities().unwrap().into_iter().map(|e| (e.id, e.sensitive)));
            cursor = p.cursor;
            if !p.more {
                break;
            }
        }
        seen
    };
    let for_b = all(&b);
    assert_eq!(for_b.len(), 26 - 5, "b sees the walk and the 20 non-sensitive records");
    assert!(for_b.iter().all(|(_, sensitive)| !sensitive));
    assert_eq!(all(&lead).len(), 26, "the lead sees everything");
    // The author's other phone sees the author's own sensitive signals.
    let a2 = caller(s.as_ref(), &t.workers[0]);
    assert_eq!(all(&a2).len(), 26);
}

fn a_record_that_becomes_sensitive_is_withdrawn(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Zuidwest", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    // A signal in a category everyone may see, and one sensitive from the start.
    let mut open = record(&a.member.id, &w.id, &uuid(), "eerst een gewoon signaal", true);
    open.fields.insert("category".into(), json!("sig.other"));
    open.sensitive = false;
    let secret = record(&a.member.id, &w.id, &uuid(), "meteen gevoelig", true);
    sync::apply_push(s.as_ref(), &a, &[w.clone(), open.clone(), secret.clone()]).unwrap();
    let first = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100).unwrap();
    assert_eq!(first.docs.len(), 2, "b sees the walk and the open signal");
    assert!(first.withdrawn.is_empty());

    // The author re-categorises the open signal: now only the author and the leads may see it.
    let mut now_secret = open.clone();
    now_secret.fields.insert("category".into(), json!("sig.exploitation"));
    now_secret.clocks.insert("category".into(), clock(5));
    now_secret.hlc = clock(5);
    now_secret.sensitive = true;
    assert_eq!(sync::apply_push(s.as_ref(), &a, &[now_secret]).unwrap().changed, 1);
    let next = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, first.cursor, 100).unwrap();
    assert!(next.docs.is_empty(), "b is not sent the sensitive version");
    assert_eq!(next.withdrawn, vec![open.id.clone()], "b is told to delete its copy");
    // A new phone of b: the walk, the withdrawal, and never a word of the always-secret one.
    let b2 = caller(s.as_ref(), &t.workers[1]);
    let fresh = sync::pull(s.as_ref(), &b2, PROTOCOL_VERSION, 0, 100).unwrap();
    assert_eq!(fresh.entities().unwrap().iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![w.id.clone()]);
    assert_eq!(fresh.withdrawn, vec![open.id.clone()]);
    // A protocol-1 app is not sent withdrawals (it would not understand them).
    assert!(sync::pull(s.as_ref(), &b, 1, first.cursor, 100).unwrap().withdrawn.is_empty());
    // The lead and the author's other phone get the sensitive version itself.
    for c in [&lead, &caller(s.as_ref(), &t.workers[0])] {
        let page = sync::pull(s.as_ref(), c, PROTOCOL_VERSION, 0, 100).unwrap();
        assert!(page.withdrawn.is_empty());
        let got = page.entities().unwrap();
        let r = got.iter().find(|e| e.id == open.id).unwrap();
        assert!(r.sensitive);
        assert_eq!(r.fields["category"], json!("sig.exploitation"));
        assert!(got.iter().any(|e| e.id == secret.id));
    }
}

fn teams_are_isolated(s: Arc<dyn Storage>) {
    let ta = team(s.as_ref(), "Team A", 1);
    let tb = team(s.as_ref(), "Team B", 1);
    let a = caller(s.as_ref(), &ta.workers[0]);
    let b = caller(s.as_ref(), &tb.workers[0]);
    let lead_b = caller(s.as_ref(), &tb.lead);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "alleen voor team A", false);
    sync::apply_push(s.as_ref(), &a, &[w.clone(), r.clone()]).unwrap();
    assert!(sync::pull(s.as_ref(), &lead_b, PROTOCOL_VERSION, 0, 100).unwrap().docs.is_empty());
    assert!(sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100).unwrap().docs.is_empty());
    // Pushing A's ids from team B cannot touch A's data: it is refused (not the author) ...
    let mut overwrite = r.clone();
    overwrite.fields.insert("note".into(), json!("door B"));
    overwrite.clocks.insert("note".into(), clock(99));
    assert!(forbidden(sync::apply_push(s.as_ref(), &b, &[overwrite])));
    // ... and A's record is unchanged.
    let lead_a = caller(s.as_ref(), &ta.lead);
    let seen = sync::pull(s.as_ref(), &lead_a, PROTOCOL_VERSION, 0, 100).unwrap();
    let seen = seen.entities().unwrap();
    assert_eq!(seen.iter().find(|e| e.id == r.id).unwrap().fields["note"], json!("alleen voor team A"));
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $test() {
                let dir = tempfile::tempdir().unwrap();
                super::$test(super::sqlite_storage(dir.path()));
            })*
        }
        mod postgres {
            $(#[test] fn $test() { super::$test(super::postgres_storage()); })*
        }
    };
}

conformance!(
    teams_members_and_devices,
    enrolment_codes_are_one_time_and_expire,
    a_lost_enrolment_answer_can_be_asked_again,
    pushes_are_idempotent_and_sequenced,
    edits_merge_per_field,
    rights_are_enforced_and_a_refused_push_stores_nothing,
    signal_status_follows_the_transitions,
    the_feed_is_need_to_know_and_paged,
    a_record_that_becomes_sensitive_is_withdrawn,
    teams_are_isolated,
);
