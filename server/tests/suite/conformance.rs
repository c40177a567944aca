//! One conformance suite for every storage backend: the same tests run against embedded
//! SQLite and against a real PostgreSQL (started by the test command).

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use serde_json::json;
use wijkverkenner_core::sync::wire::{Entity, EntityKind, Rejection, MAX_PULL_BYTES, PROTOCOL_VERSION};
use wijkverkenner_core::{Hlc, Taxonomy};
use wijkverkenner_server::storage::{Caller, Role};
use wijkverkenner_server::{admin, sync, Storage};

fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Clock values of this evening: `ms` after a fixed moment in 2026.
fn clock(ms: u64) -> Hlc {
    Hlc { wall_ms: 1_795_539_600_000 + ms, counter: 0, node: 1 }
}

fn push(s: &dyn Storage, c: &Caller, entities: &[Entity]) -> sync::Pushed {
    sync::apply_push(s, c, entities, sync::Rules { taxonomy: &Taxonomy::default_taxonomy(), settings_version: 0 })
        .unwrap()
}

/// The codes of a push's refusals, in order.
fn codes(p: &sync::Pushed) -> Vec<&str> {
    p.rejected.iter().map(|r| r.code.as_str()).collect()
}

/// The entity as the team holds it, read as a new device of the lead would.
fn team_version(s: &dyn Storage, lead: &Caller, id: &str) -> Option<Entity> {
    let viewer = wijkverkenner_server::storage::Viewer {
        team_id: lead.team.id.clone(),
        member_id: lead.member.id.clone(),
        device_id: "-".into(),
        sees_sensitive: true,
        withdrawals: false,
    };
    let mut cursor = 0;
    loop {
        let p = s.feed(&viewer, cursor, 1000).unwrap();
        if let Some(e) = p.entities().unwrap().into_iter().find(|e| e.id == id) {
            return Some(e);
        }
        cursor = p.cursor;
        if !p.more {
            return None;
        }
    }
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
    assert_eq!(s.members(&t.team.id).unwrap().len(), 2);
}

fn enrolment_codes_are_one_time_and_expire(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Zuilen", 1);
    let code = admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap();
    assert_eq!(admin::normalise_code(&code).len(), admin::CODE_CHARS, "60 bits: {code}");
    assert!(admin::redeem(s.as_ref(), &code, "a").is_ok());
    assert!(admin::redeem(s.as_ref(), &code, "b").is_err());
    // Expired: stored with a time in the past.
    s.create_enrolment(&admin::sha256_hex("ABCD1234EFGH"), &t.workers[0].id, 0, 1).unwrap();
    assert!(admin::redeem(s.as_ref(), "abcd-1234-efgh", "c").is_err());
    assert!(admin::redeem(s.as_ref(), "nonsense", "d").is_err());
    // Stored keyed with the server's secret: the plain SHA-256 of a code finds nothing.
    let code = admin::normalise_code(&admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap());
    let device = s
        .caller(
            &admin::redeem(s.as_ref(), &admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap(), "e").unwrap().0.id,
        )
        .unwrap()
        .unwrap()
        .device;
    assert_eq!(
        s.redeem_enrolment(&admin::sha256_hex(&code), None, admin::now_ms(), &device).unwrap(),
        wijkverkenner_server::storage::Redeemed::Invalid
    );
    assert!(admin::redeem(s.as_ref(), &code, "f").is_ok());
    // A code issued before codes were keyed (a plain SHA-256) is good until it expires.
    let now = admin::now_ms();
    s.create_enrolment(&admin::sha256_hex("ABCD5678WXYZ"), &t.workers[0].id, now, now + 3_600_000).unwrap();
    assert!(admin::redeem(s.as_ref(), "abcd-5678-wxyz", "g").is_ok());
    assert!(admin::redeem(s.as_ref(), "abcd-5678-wxyz", "h").is_err(), "and once");
    // A device name that could forge a line of the device list is refused.
    let code = admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap();
    assert!(admin::redeem(s.as_ref(), &code, "telefoon\nnep-regel\tactive").is_err());
    assert!(admin::redeem(s.as_ref(), &code, "telefoon").is_ok(), "the refused name did not spend the code");
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
    // Not after the code expired, not minutes later, not once the device synced, and not for
    // a revoked device.
    let hash = admin::code_hash(&admin::normalise_code(&code));
    let attempt_hash = admin::sha256_hex(attempt);
    let late = s.redeem_enrolment(&hash, Some(&attempt_hash), i64::MAX, &stored).unwrap();
    assert_eq!(late, wijkverkenner_server::storage::Redeemed::Invalid);
    let later = admin::now_ms() + wijkverkenner_server::storage::ENROL_RETRY_MS + 60_000;
    assert_eq!(
        s.redeem_enrolment(&hash, Some(&attempt_hash), later, &stored).unwrap(),
        wijkverkenner_server::storage::Redeemed::Invalid
    );
    s.touch_device(&first.id, admin::now_ms()).unwrap();
    assert!(admin::redeem_attempt(s.as_ref(), &code, Some(attempt), "telefoon").is_err(), "the device has synced");
    let code = admin::issue_code(s.as_ref(), &member.id, 1).unwrap();
    let (second, _, _, _) = admin::redeem_attempt(s.as_ref(), &code, Some(attempt), "telefoon 2").unwrap();
    assert!(s.revoke_device(&second.id, 5).unwrap());
    assert!(admin::redeem_attempt(s.as_ref(), &code, Some(attempt), "telefoon 2").is_err());
}

fn operators_manage_codes_members_and_roles(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Lunetten", 2);
    let other = team(s.as_ref(), "Elders", 1);
    // Codes are listed by an id, never the code; one can be cancelled, and only in its team.
    let code = admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap();
    let listed = s.codes(&t.team.id).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].id.is_empty() && !code.contains(&listed[0].id));
    assert!(listed[0].used_ms.is_none() && listed[0].issued_ms.is_some());
    assert!(!s.cancel_code(&other.team.id, &listed[0].id, 5).unwrap());
    assert!(s.cancel_code(&t.team.id, &listed[0].id, 5).unwrap());
    assert!(admin::redeem(s.as_ref(), &code, "telefoon").is_err(), "a cancelled code is dead");
    // Revoking a phone kills its member's unused codes.
    let phone = caller(s.as_ref(), &t.workers[0]);
    let spare = admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap();
    assert!(s.revoke_device(&phone.device.id, 6).unwrap());
    assert!(admin::redeem(s.as_ref(), &spare, "dief").is_err(), "a revoked phone's member's code is dead");
    // Disabling a member revokes every phone, kills every code, and allows no new one.
    let a = caller(s.as_ref(), &t.workers[1]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let open = admin::issue_code(s.as_ref(), &t.workers[1].id, 1).unwrap();
    assert!(s.disable_member(&t.workers[1].id, 7).unwrap());
    for d in [&a, &b] {
        assert!(s.caller(&d.device.id).unwrap().unwrap().device.revoked_ms.is_some());
    }
    assert!(admin::redeem(s.as_ref(), &open, "x").is_err());
    assert!(admin::issue_code(s.as_ref(), &t.workers[1].id, 1).is_err());
    assert!(s.member(&t.workers[1].id).unwrap().unwrap().disabled_ms.is_some());
    // A role changes, and the member's phones go (a demoted lead's phone holds every sensitive
    // signal; a phone learns its role when it enrols).
    let phone = caller(s.as_ref(), &t.workers[0]);
    assert!(s.set_role(&t.workers[0].id, Role::Lead, None, 8).unwrap());
    assert_eq!(s.member(&t.workers[0].id).unwrap().unwrap().role, Role::Lead);
    assert_eq!(s.caller(&phone.device.id).unwrap().unwrap().device.revoked_ms, Some(8));
    assert!(!s.set_role(&t.workers[0].id, Role::Lead, None, 9).unwrap(), "already a lead");
    assert!(!s.set_role(&uuid(), Role::Lead, None, 9).unwrap());
    // A partner-organisation viewer: the referral target is kept with the role, a code issued
    // before the change no longer enrols, and none can be issued.
    let code = admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap();
    assert!(s.set_role(&t.workers[0].id, Role::Partner, Some("ref.police"), 10).unwrap());
    let m = s.member(&t.workers[0].id).unwrap().unwrap();
    assert_eq!((m.role, m.referral.as_deref()), (Role::Partner, Some("ref.police")));
    assert!(!s.set_role(&t.workers[0].id, Role::Partner, Some("ref.police"), 11).unwrap(), "the same already");
    assert!(s.set_role(&t.workers[0].id, Role::Partner, Some("ref.care"), 11).unwrap(), "another organisation");
    assert!(admin::redeem(s.as_ref(), &code, "x").is_err(), "a partner's old code enrolled a phone");
    assert!(admin::issue_code(s.as_ref(), &t.workers[0].id, 1).is_err());
    let partner = admin::add_partner(s.as_ref(), &t.team.id, "Wijkagent", "Politie Utrecht", "ref.police").unwrap();
    assert_eq!(s.member(&partner.id).unwrap().unwrap(), partner);
    assert!(admin::add_partner(s.as_ref(), &t.team.id, "X", "Y", "obs.vacancy").is_err(), "not a referral target");
    assert!(admin::add_member(s.as_ref(), &t.team.id, "X", Role::Partner, "Y").is_err(), "a partner without a target");
    assert!(s.set_role(&t.workers[0].id, Role::FieldWorker, None, 12).unwrap());
    assert_eq!(s.member(&t.workers[0].id).unwrap().unwrap().referral, None);
    // A role change cancels the codes not used yet (they were issued for the old role).
    let code = admin::issue_code(s.as_ref(), &t.workers[0].id, 1).unwrap();
    assert!(s.set_role(&t.workers[0].id, Role::Lead, None, 12).unwrap());
    assert!(s.set_role(&t.workers[0].id, Role::FieldWorker, None, 12).unwrap());
    assert!(admin::redeem(s.as_ref(), &code, "x").is_err(), "a code from before two role changes enrolled");
    // The team's grid for shared places: bounded, kept, and the settings version counts up.
    assert_eq!(s.location_cell(&t.team.id).unwrap(), None);
    let version = s.team(&t.team.id).unwrap().unwrap().settings_version;
    for bad in [0, 49, 2_001, u32::MAX] {
        assert!(sync::set_location_grid(s.as_ref(), &t.team.id, bad, 13).is_err(), "{bad} m");
    }
    sync::set_location_grid(s.as_ref(), &t.team.id, 250, 13).unwrap();
    assert_eq!(s.location_cell(&t.team.id).unwrap(), Some(250));
    assert_eq!(s.team(&t.team.id).unwrap().unwrap().settings_version, version + 1);
}

fn pushes_are_idempotent_and_sequenced(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Noordwest", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "zwerfvuil", false);
    let both = vec![w.clone(), r.clone()];
    assert_eq!(push(s.as_ref(), &a, &both).changed, 2);
    for _ in 0..3 {
        assert_eq!(push(s.as_ref(), &a, &both).changed, 0, "a repeated push changes nothing");
    }
    // Reordered: the record before its walk is fine too.
    assert_eq!(push(s.as_ref(), &a, &[r.clone(), w.clone()]).changed, 0);
    let page = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(page.docs.len(), 2);
    assert!(!page.more);
    assert_eq!(
        sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, page.cursor, 100, sync::SHARED_CELL_M).unwrap().docs.len(),
        0
    );
    // The pusher is not sent its own changes back.
    assert_eq!(sync::pull(s.as_ref(), &a, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap().docs.len(), 0);
    // A new walk and its record in one push, record first, also work.
    let w2 = walk(&a.member.id, &uuid());
    let r2 = record(&a.member.id, &w2.id, &uuid(), "later", false);
    let p = push(s.as_ref(), &a, &[r2, w2]);
    assert_eq!((p.changed, p.rejected.len()), (2, 0));
}

fn edits_merge_per_field(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Oost", 1);
    let a = caller(s.as_ref(), &t.workers[0]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "eerst", false);
    push(s.as_ref(), &a, &[w, r.clone()]);
    // The author edits the note; the lead, concurrently, asks a question.
    let edit = with(&r, "note", json!("later"), 10);
    let question = with(&r, "review_question", json!("Waar precies?"), 9);
    assert_eq!(push(s.as_ref(), &lead, &[question]).changed, 1);
    assert_eq!(push(s.as_ref(), &a, &[edit]).changed, 1);
    let merged = team_version(s.as_ref(), &lead, &r.id).unwrap();
    assert_eq!(merged.fields["note"], json!("later"));
    assert_eq!(merged.fields["review_question"], json!("Waar precies?"));
}

/// `e` with `field` set to `value` under `clock(at)`.
fn with(e: &Entity, field: &str, value: serde_json::Value, at: u64) -> Entity {
    let mut e = e.clone();
    e.fields.insert(field.into(), value);
    e.clocks.insert(field.into(), clock(at));
    e.hlc = e.hlc.max(clock(at));
    e
}

fn a_refused_change_is_reported_and_the_rest_applies(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "West", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "van a", false);
    push(s.as_ref(), &a, &[w.clone(), r.clone()]);

    // b may not create in a's name, nor in a's walk, nor edit a's record, nor review.
    let forged = record(&a.member.id, &w.id, &uuid(), "namens a", false);
    assert_eq!(codes(&push(s.as_ref(), &b, std::slice::from_ref(&forged))), ["not_author"]);
    let in_a_walk = record(&b.member.id, &w.id, &uuid(), "in de ronde van a", false);
    assert_eq!(codes(&push(s.as_ref(), &b, &[in_a_walk])), ["walk_not_found"]);
    let nowhere = record(&b.member.id, &uuid(), &uuid(), "in geen ronde", false);
    assert_eq!(codes(&push(s.as_ref(), &b, &[nowhere])), ["walk_not_found"]);
    let edit = with(&r, "note", json!("door b"), 20);
    let p = push(s.as_ref(), &b, std::slice::from_ref(&edit));
    assert_eq!(codes(&p), ["not_author"]);
    // The refusal carries the team's version, so b's phone can take it.
    let current = p.rejected[0].current.as_ref().expect("b may see a's observation");
    assert_eq!(current.fields["note"], json!("van a"));
    let review = with(&r, "reviewed_ms", json!(1_795_539_600_000i64), 21);
    assert_eq!(codes(&push(s.as_ref(), &a, std::slice::from_ref(&review))), ["lead_only"]);
    // A push with a refused change among good ones applies the good ones.
    let w_b = walk(&b.member.id, &uuid());
    let fine = record(&b.member.id, &w_b.id, &uuid(), "van b", false);
    let p = push(s.as_ref(), &b, &[w_b, fine.clone(), edit]);
    assert_eq!((p.changed, codes(&p)), (2, vec!["not_author"]));
    assert_eq!(team_version(s.as_ref(), &lead, &r.id).unwrap().fields["note"], json!("van a"));
    assert!(team_version(s.as_ref(), &lead, &fine.id).is_some());
    // The lead may review; a delete only by the author, and not once reviewed.
    assert_eq!(push(s.as_ref(), &lead, &[review]).changed, 1);
    let mut delete = r.clone();
    delete.deleted = true;
    delete.fields.clear();
    delete.hlc = clock(30);
    assert_eq!(codes(&push(s.as_ref(), &b, std::slice::from_ref(&delete))), ["not_author"]);
    assert_eq!(codes(&push(s.as_ref(), &a, &[delete])), ["frozen"]);
    assert!(!team_version(s.as_ref(), &lead, &r.id).unwrap().deleted);
    // A record the author may still change can be deleted.
    let mut gone = fine.clone();
    gone.deleted = true;
    gone.fields.clear();
    gone.hlc = clock(31);
    assert_eq!(push(s.as_ref(), &b, &[gone]).changed, 1);
    assert!(team_version(s.as_ref(), &lead, &fine.id).unwrap().deleted);
}

fn equal_or_missing_clocks_change_nothing_that_is_not_the_pushers(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Vleuten", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let r = with(&record(&a.member.id, &w.id, &uuid(), "van a", false), "tone", json!("neutral"), 5);
    push(s.as_ref(), &a, &[w.clone(), r.clone()]);
    // The same clocks (none for the note: it dates from creation) and another note that sorts
    // higher: refused, the note stays.
    let mut forged = r.clone();
    forged.fields.insert("note".into(), json!("~ vervalst"));
    assert_eq!(codes(&push(s.as_ref(), &b, std::slice::from_ref(&forged))), ["clock_reused"]);
    forged.clocks.insert("tone".into(), clock(5));
    forged.fields.insert("tone".into(), json!("positive"));
    let p = push(s.as_ref(), &b, &[forged]);
    assert!(p.rejected.iter().all(|r| r.code == "clock_reused") && p.rejected.len() == 2);
    assert_eq!(team_version(s.as_ref(), &lead, &r.id).unwrap().fields["note"], json!("van a"));
    // Not even the author reuses a clock.
    let mut own = r.clone();
    own.fields.insert("note".into(), json!("~ zelf, zonder klok"));
    assert_eq!(codes(&push(s.as_ref(), &a, &[own])), ["clock_reused"]);
    // Marking someone else's walk submitted, or one's own walk active again, is refused.
    let submitted = with(
        &with(&w, "status", json!("submitted"), 6),
        "ended",
        json!({"utc_ms": 1_795_539_900_000i64, "offset_s": 3600}),
        6,
    );
    assert_eq!(codes(&push(s.as_ref(), &b, std::slice::from_ref(&submitted))), ["not_author", "not_author"]);
    assert_eq!(push(s.as_ref(), &a, std::slice::from_ref(&submitted)).changed, 1);
    let again = with(&with(&submitted, "status", json!("active"), 7), "ended", json!(null), 7);
    assert!(!push(s.as_ref(), &a, &[again]).rejected.is_empty());
    assert_eq!(team_version(s.as_ref(), &lead, &w.id).unwrap().fields["status"], json!("submitted"));
    // `sensitive` is the server's to derive: pushed on a colleague's observation it is ignored.
    let mut hide = r.clone();
    hide.sensitive = true;
    push(s.as_ref(), &b, &[hide]);
    let kept = team_version(s.as_ref(), &lead, &r.id).unwrap();
    assert!(!kept.sensitive);
    assert!(sync::pull(s.as_ref(), &caller(s.as_ref(), &t.workers[1]), PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M)
        .unwrap()
        .entities()
        .unwrap()
        .iter()
        .any(|e| e.id == r.id));
    // Nor does the identity change: a later creation offset is a conflict, not a merge.
    let mut moved = r.clone();
    moved.created_offset_s = -36_000;
    assert_eq!(codes(&push(s.as_ref(), &a, &[moved])), ["identity_conflict"]);
}

fn signal_status_follows_the_transitions(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Zuidwest", 1);
    let a = caller(s.as_ref(), &t.workers[0]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let sig = record(&a.member.id, &w.id, &uuid(), "wapen gezien", true);
    push(s.as_ref(), &a, &[w, sig.clone()]);
    let set = |e: &Entity, status: &str, referral: Option<&str>, at: u64| {
        with(&with(e, "review_status", json!(status), at), "review_referral", json!(referral), at)
    };
    let closed = set(&sig, "closed", None, 40);
    assert_eq!(push(s.as_ref(), &lead, std::slice::from_ref(&closed)).changed, 1);
    // Closed → referred is not allowed (reopen through review first): refused, with the team's
    // version for the phone to take; nothing is re-stamped.
    let referred = set(&closed, "referred", Some("ref.police"), 41);
    let out = push(s.as_ref(), &lead, std::slice::from_ref(&referred));
    assert_eq!(out.rejected.len(), 1);
    let Rejection { field, code, current, .. } = &out.rejected[0];
    assert_eq!((field.as_str(), code.as_str()), ("review_status", "status_transition"));
    let current = current.as_ref().unwrap();
    assert_eq!(current.fields["review_status"], json!("closed"));
    assert_eq!(current.clock("review_status"), clock(40));
    assert_eq!(team_version(s.as_ref(), &lead, &sig.id).unwrap(), *current);
    let reopened = set(current, "in_review", None, 42);
    assert_eq!(push(s.as_ref(), &lead, &[reopened]).changed, 1);
    assert!(push(s.as_ref(), &lead, &[closed]).rejected.is_empty(), "an old version changes nothing");
    // The author cannot set a status, not even on a new signal of her own.
    let mut own = record(&a.member.id, &sig.walk_id.clone().unwrap(), &uuid(), "nieuw", true);
    own = set(&own, "referred", Some("ref.police"), 43);
    assert_eq!(codes(&push(s.as_ref(), &a, &[own])), ["lead_only"]);
    // Referred: the author can no longer change or delete it, but can still answer.
    let referred = set(&team_version(s.as_ref(), &lead, &sig.id).unwrap(), "referred", Some("ref.police"), 44);
    assert_eq!(push(s.as_ref(), &lead, std::slice::from_ref(&referred)).changed, 1);
    let p = push(s.as_ref(), &a, &[with(&referred, "description", json!("anders"), 45)]);
    assert_eq!(codes(&p), ["frozen"]);
    let asked = with(&referred, "review_question", json!("Wie?"), 46);
    push(s.as_ref(), &lead, std::slice::from_ref(&asked));
    assert!(push(s.as_ref(), &a, &[with(&asked, "review_answer", json!("Een buurman"), 47)]).rejected.is_empty());
}

fn the_feed_is_need_to_know_and_paged(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Binnenstad", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let mut entities = vec![w.clone()];
    for i in 0..25 {
        entities.push(record(&a.member.id, &w.id, &uuid(), &format!("r{i}"), i % 5 == 0));
    }
    push(s.as_ref(), &a, &entities);
    let all = |c: &Caller| {
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let p = sync::pull(s.as_ref(), c, PROTOCOL_VERSION, cursor, 4, sync::SHARED_CELL_M).unwrap();
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

fn pages_are_cut_by_bytes(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Papendorp", 1);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.lead);
    // Ended walks with the longest track the protocol allows: ~330 KB each.
    let walks: Vec<Entity> = (0..40)
        .map(|i| {
            let mut w = walk(&a.member.id, &uuid());
            let track: Vec<_> = (0..wijkverkenner_core::sync::codec::MAX_TRACK_POINTS)
                .map(|k| json!({"at_ms": 1_795_539_600_000i64 + k as i64, "lat": 52.0 + k as f64 * 1e-6 + i as f64 * 1e-3, "lon": 5.1234567891}))
                .collect();
            w = with(&w, "status", json!("ended"), 2);
            w = with(&w, "ended", json!({"utc_ms": 1_795_543_200_000i64, "offset_s": 3600}), 2);
            w = with(&w, "track", json!(track), 2);
            w
        })
        .collect();
    for chunk in walks.chunks(10) {
        assert!(push(s.as_ref(), &a, chunk).rejected.is_empty());
    }
    let (mut cursor, mut pages, mut total) = (0, 0, 0);
    loop {
        let p = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, cursor, 5000, sync::SHARED_CELL_M).unwrap();
        let bytes: usize = p.docs.iter().map(String::len).sum();
        assert!(bytes <= MAX_PULL_BYTES, "a page of {bytes} bytes");
        assert!(!p.docs.is_empty());
        total += p.docs.len();
        pages += 1;
        cursor = p.cursor;
        if !p.more {
            break;
        }
    }
    assert_eq!(total, 40);
    assert!(pages >= 2, "forty large walks do not fit one page");
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
    push(s.as_ref(), &a, &[w.clone(), open.clone(), secret.clone()]);
    let first = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(first.docs.len(), 2, "b sees the walk and the open signal");
    assert!(first.withdrawn.is_empty());

    // The author re-categorises the open signal: now only the author and the leads may see it.
    let now_secret = with(&open, "category", json!("sig.exploitation"), 5);
    assert_eq!(push(s.as_ref(), &a, &[now_secret]).changed, 1);
    let next = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, first.cursor, 100, sync::SHARED_CELL_M).unwrap();
    assert!(next.docs.is_empty(), "b is not sent the sensitive version");
    assert_eq!(next.withdrawn, vec![open.id.clone()], "b is told to delete its copy");
    // A new phone of b: the walk, the withdrawal, and never a word of the always-secret one.
    let b2 = caller(s.as_ref(), &t.workers[1]);
    let fresh = sync::pull(s.as_ref(), &b2, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(fresh.entities().unwrap().iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![w.id.clone()]);
    assert_eq!(fresh.withdrawn, vec![open.id.clone()]);
    // A protocol-1 app is not sent withdrawals (it would not understand them).
    assert!(sync::pull(s.as_ref(), &b, 1, first.cursor, 100, sync::SHARED_CELL_M).unwrap().withdrawn.is_empty());
    // The lead and the author's other phone get the sensitive version itself.
    for c in [&lead, &caller(s.as_ref(), &t.workers[0])] {
        let page = sync::pull(s.as_ref(), c, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap();
        assert!(page.withdrawn.is_empty());
        let got = page.entities().unwrap();
        let r = got.iter().find(|e| e.id == open.id).unwrap();
        assert!(r.sensitive);
        assert_eq!(r.fields["category"], json!("sig.exploitation"));
        assert!(got.iter().any(|e| e.id == secret.id));
    }
}

fn operators_delete_or_quarantine_one_entity(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Rivierenwijk", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let r1 = record(&a.member.id, &w.id, &uuid(), "een", false);
    let r2 = record(&a.member.id, &w.id, &uuid(), "twee", false);
    push(s.as_ref(), &a, &[w.clone(), r1.clone(), r2.clone()]);
    let seen = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(seen.docs.len(), 3);
    assert!(sync::suspects(s.as_ref(), &t.team.id).unwrap().is_empty());

    // Deleted by an operator: a tombstone for everyone, whatever clocks the phones hold.
    assert!(sync::delete_entity(s.as_ref(), &t.team.id, &r1.id).unwrap());
    assert!(!sync::delete_entity(s.as_ref(), &t.team.id, &uuid()).unwrap());
    let next = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, seen.cursor, 100, sync::SHARED_CELL_M).unwrap();
    let gone = next.entities().unwrap();
    assert!(gone.iter().any(|e| e.id == r1.id && e.deleted));
    // Quarantined: withdrawn from every phone that could see it, never served, pushes refused.
    assert!(sync::quarantine_entity(s.as_ref(), &t.team.id, &r2.id).unwrap());
    let after = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, next.cursor, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(after.withdrawn, vec![r2.id.clone()]);
    assert!(team_version(s.as_ref(), &lead, &r2.id).is_none());
    let p = push(s.as_ref(), &a, &[with(&r2, "note", json!("toch"), 9)]);
    assert_eq!(codes(&p), ["quarantined"]);
    assert!(p.rejected[0].current.is_none());
    // The other team is untouched.
    let other = team(s.as_ref(), "Ergens", 0);
    assert!(!sync::delete_entity(s.as_ref(), &other.team.id, &r2.id).unwrap());
}

fn teams_are_isolated(s: Arc<dyn Storage>) {
    let ta = team(s.as_ref(), "Team A", 1);
    let tb = team(s.as_ref(), "Team B", 1);
    let a = caller(s.as_ref(), &ta.workers[0]);
    let b = caller(s.as_ref(), &tb.workers[0]);
    let lead_b = caller(s.as_ref(), &tb.lead);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "alleen voor team A", false);
    push(s.as_ref(), &a, &[w.clone(), r.clone()]);
    assert!(sync::pull(s.as_ref(), &lead_b, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap().docs.is_empty());
    assert!(sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap().docs.is_empty());
    // Pushing A's ids from team B cannot touch A's data: it is refused (not the author, and no
    // such walk in team B) ...
    let overwrite = with(&r, "note", json!("door B"), 99);
    let p = push(s.as_ref(), &b, &[overwrite]);
    assert_eq!(codes(&p), ["not_author"]);
    assert!(p.rejected[0].current.is_none(), "nothing of team A comes back");
    // ... and A's record is unchanged.
    let lead_a = caller(s.as_ref(), &ta.lead);
    assert_eq!(team_version(s.as_ref(), &lead_a, &r.id).unwrap().fields["note"], json!("alleen voor team A"));
}

fn a_member_cannot_tell_when_others_change_what_it_may_not_see(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Tuinwijk", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    push(s.as_ref(), &a, std::slice::from_ref(&w));
    let seen = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(seen.docs.len(), 1);
    // A sensitive signal filed, then reviewed: b's cursor does not move.
    let sig = record(&a.member.id, &w.id, &uuid(), "mensenhandel?", true);
    push(s.as_ref(), &a, std::slice::from_ref(&sig));
    let quiet = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, seen.cursor, 100, sync::SHARED_CELL_M).unwrap();
    assert!(quiet.docs.is_empty() && quiet.withdrawn.is_empty());
    assert_eq!(quiet.cursor, seen.cursor, "the cursor says nothing of what b may not see");
    push(s.as_ref(), &lead, &[with(&sig, "review_status", json!("in_review"), 9)]);
    assert_eq!(
        sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, seen.cursor, 100, sync::SHARED_CELL_M).unwrap().cursor,
        seen.cursor
    );
    // Something b may see moves it on, past the rest.
    let obs = record(&a.member.id, &w.id, &uuid(), "zichtbaar", false);
    push(s.as_ref(), &a, std::slice::from_ref(&obs));
    let next = sync::pull(s.as_ref(), &b, PROTOCOL_VERSION, seen.cursor, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(next.entities().unwrap().iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![obs.id.clone()]);
    assert!(next.cursor > seen.cursor);
    // The pusher's own changes move its own cursor without coming back (only the lead's
    // change to its signal does).
    let own = sync::pull(s.as_ref(), &a, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap();
    assert_eq!(own.entities().unwrap().iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![sig.id.clone()]);
    assert_eq!(
        own.cursor,
        sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap().cursor
    );
}

fn a_push_that_changes_nothing_costs_the_others_nothing(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Lombok", 2);
    let a = caller(s.as_ref(), &t.workers[0]);
    let b = caller(s.as_ref(), &t.workers[1]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let r = record(&a.member.id, &w.id, &uuid(), "van a", false);
    push(s.as_ref(), &a, &[w.clone(), r.clone()]);
    let before = sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap().cursor;
    // b sends a's observation back as pulled, with only its version clock moved, or with the
    // flag it may not set: nothing changes, nothing goes into the feed, and b gets the team's
    // version in its answer.
    let mut bumped = r.clone();
    bumped.hlc = clock(60);
    let mut flagged = r.clone();
    flagged.sensitive = true;
    for stale in [bumped, flagged] {
        let p = push(s.as_ref(), &b, &[stale]);
        assert_eq!((p.changed, p.rejected.len()), (0, 0));
        assert_eq!(p.echo.len(), 1);
        assert!(!p.echo[0].sensitive && p.echo[0].hlc == r.hlc);
        assert_eq!(
            sync::pull(s.as_ref(), &lead, PROTOCOL_VERSION, before, 100, sync::SHARED_CELL_M).unwrap().docs.len(),
            0
        );
    }
    // A new signal in a sensitive category sent as not sensitive comes back to its author as
    // stored (sensitive), so the author's phone knows.
    let mut sig = record(&a.member.id, &w.id, &uuid(), "wapen", true);
    sig.sensitive = false;
    push(s.as_ref(), &a, std::slice::from_ref(&sig));
    let back = sync::pull(s.as_ref(), &a, PROTOCOL_VERSION, 0, 100, sync::SHARED_CELL_M).unwrap().entities().unwrap();
    assert!(back.iter().any(|e| e.id == sig.id && e.sensitive));
    // A walk is never deleted, not even by its author.
    let mut gone = w.clone();
    gone.deleted = true;
    gone.fields.clear();
    gone.hlc = clock(70);
    assert_eq!(codes(&push(s.as_ref(), &a, &[gone])), ["invalid"]);
}

fn a_lead_decision_that_clashes_keeps_the_status_and_applies_the_rest(s: Arc<dyn Storage>) {
    let t = team(s.as_ref(), "Kanaleneiland-Noord", 1);
    let a = caller(s.as_ref(), &t.workers[0]);
    let lead = caller(s.as_ref(), &t.lead);
    let w = walk(&a.member.id, &uuid());
    let sig = record(&a.member.id, &w.id, &uuid(), "schulden", true);
    push(s.as_ref(), &a, &[w, sig.clone()]);
    let set = |e: &Entity, f: &str, v: serde_json::Value, at: u64| with(e, f, v, at);
    let in_review = set(&set(&sig, "review_status", json!("in_review"), 50), "review_referral", json!("ref.care"), 50);
    push(s.as_ref(), &lead, std::slice::from_ref(&in_review));
    // The lead's second phone, offline, asks a question and clears the referral; meanwhile the
    // first phone refers the signal (keeping the referral).
    let second = set(&set(&in_review, "review_question", json!("Wie helpt?"), 51), "review_referral", json!(null), 51);
    let referred = set(&in_review, "review_status", json!("referred"), 52);
    push(s.as_ref(), &lead, std::slice::from_ref(&referred));
    let p = push(s.as_ref(), &lead, std::slice::from_ref(&second));
    assert_eq!(codes(&p), ["invalid"]);
    assert_eq!(p.rejected[0].field, "review_status");
    let current = p.rejected[0].current.as_ref().expect("the lead may see it");
    assert_eq!(current.fields["review_status"], json!("referred"));
    assert_eq!(current.fields["review_referral"], json!("ref.care"));
    assert_eq!(current.fields["review_question"], json!("Wie helpt?"), "the question still applies");
    // A version invalid on its own is refused, with the team's version when the pusher may see it.
    let broken = set(&referred, "review_referral", json!(null), 53);
    let p = push(s.as_ref(), &lead, &[broken]);
    assert_eq!(codes(&p), ["invalid"]);
    assert!(p.rejected[0].current.is_some());
}

/// The product's way to PostgreSQL (`--database-ca`): TLS with the certificate verified for
/// the host name; a certificate nobody vouches for, or one for another name, is refused; a
/// database on another machine is never reached in the clear.
#[test]
fn postgres_is_reached_over_tls_with_its_certificate_verified() {
    use wijkverkenner_server::storage::postgres::{connection, PostgresStorage};
    let ca = std::env::var("WV_TEST_DATABASE_CA")
        .expect("WV_TEST_DATABASE_CA is not set: scripts/postgres.sh starts the test cluster with TLS and sets it");
    let ca = std::path::Path::new(&ca);
    let url = postgres_database();
    let named = by_name(&url);
    let (config, tls) = connection(&named, Some(ca)).unwrap();
    let mut client = config.connect(tls).unwrap();
    let row = client.query_one("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).unwrap();
    assert!(row.get::<_, bool>(0), "the session is not encrypted");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("TLSv1.3"));
    let s = PostgresStorage::open_verified(&named, Some(ca)).unwrap();
    let t = admin::create_team(&s, "Over TLS").unwrap();
    assert_eq!(s.team(&t.id).unwrap().unwrap().name, "Over TLS");

    let unknown = PostgresStorage::open_verified(&format!("{named}?sslmode=require"), None).err().unwrap().to_string();
    assert!(unknown.contains("certificate"), "a certificate of an unknown CA: {unknown}");
    let wrong_name = PostgresStorage::open_verified(&url, Some(ca)).err().unwrap().to_string();
    assert!(wrong_name.contains("certificate"), "a certificate for another name: {wrong_name}");

    let clear = connection("postgres://wv@db.example.nl/wv?sslmode=disable", Some(ca)).err().unwrap().to_string();
    assert!(clear.contains("sslmode=disable is refused"), "{clear}");
    for remote in ["postgres://wv@db.example.nl/wv", "postgres://wv@10.1.2.3/wv?sslmode=prefer"] {
        let (config, _) = connection(remote, Some(ca)).unwrap();
        assert_eq!(config.get_ssl_mode(), ::postgres::config::SslMode::Require, "{remote}");
    }
    let (config, _) = connection(&url, None).unwrap();
    assert_eq!(config.get_ssl_mode(), ::postgres::config::SslMode::Disable, "loopback without a CA: no TLS");
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
    operators_manage_codes_members_and_roles,
    pushes_are_idempotent_and_sequenced,
    edits_merge_per_field,
    a_refused_change_is_reported_and_the_rest_applies,
    equal_or_missing_clocks_change_nothing_that_is_not_the_pushers,
    signal_status_follows_the_transitions,
    the_feed_is_need_to_know_and_paged,
    pages_are_cut_by_bytes,
    a_record_that_becomes_sensitive_is_withdrawn,
    operators_delete_or_quarantine_one_entity,
    a_member_cannot_tell_when_others_change_what_it_may_not_see,
    a_push_that_changes_nothing_costs_the_others_nothing,
    a_lead_decision_that_clashes_keeps_the_status_and_applies_the_rest,
    teams_are_isolated,
);
