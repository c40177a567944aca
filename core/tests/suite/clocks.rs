//! The phone's clock against bad clocks from elsewhere: a pulled entity stamped with the
//! largest clock or far in the future does not drag this device's clock along, a clock that
//! is already beyond belief is repaired when the store opens, and every change a walk makes
//! goes out under a clock of its own.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use serde_json::json;
use wijkverkenner_core::store::IncomingPage;
use wijkverkenner_core::sync::wire::{Entity, EntityKind};
use wijkverkenner_core::*;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A colleague's observation in a walk of theirs, stamped with `clock`.
fn pulled_observation(clock: &str) -> Entity {
    let fields: BTreeMap<String, serde_json::Value> = serde_json::from_value(json!({
        "themes": ["obs.litter"], "tone": "neutral", "note": "van een collega",
        "location": {"at": {"kind": "none"}, "buurt": null, "wijk": null},
        "review_question": null, "review_answer": null, "reviewed_ms": null
    }))
    .unwrap();
    Entity {
        kind: EntityKind::Observation,
        id: uuid::Uuid::now_v7().to_string(),
        walk_id: Some(uuid::Uuid::now_v7().to_string()),
        author_id: "0192f0c0-0000-7000-8000-0000000000ff".into(),
        created_ms: at(1).utc_ms,
        created_offset_s: 3600,
        sensitive: false,
        deleted: false,
        hlc: clock.parse().unwrap(),
        clocks: [("note".to_string(), clock.parse().unwrap())].into_iter().collect(),
        fields,
    }
}

fn stored_clock(store: &Store) -> Hlc {
    // The clock of this device's newest change.
    store.latest_records(&PageRequest::first(1)).unwrap().items[0].hlc
}

#[test]
fn a_pulled_clock_beyond_belief_does_not_move_this_phones_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    let far = format!("{:012x}.0000.00000000000000ff", now_ms() + 30 * 86_400_000);
    for clock in ["ffffffffffff.ffff.ffffffffffffffff", far.as_str()] {
        store.apply_sync_round(&[], IncomingPage::new(vec![pulled_observation(clock)]), 1).unwrap();
        // The phone still records, under a clock of now.
        store
            .add_record(NewRecord { walk_id: walk.id, body: observation("daarna"), created: at(2), location: None })
            .unwrap();
        let mine = stored_clock(&store);
        assert!(mine.is_plausible(now_ms()), "{mine}");
        assert!((mine.wall_ms as i64 - now_ms()).abs() < 60_000);
    }
    // Believable clocks ahead of it still order its next change after them.
    let ahead = format!("{:012x}.0000.00000000000000ff", now_ms() + 3_600_000);
    store.apply_sync_round(&[], IncomingPage::new(vec![pulled_observation(&ahead)]), 2).unwrap();
    store
        .add_record(NewRecord { walk_id: walk.id, body: observation("later"), created: at(3), location: None })
        .unwrap();
    assert!(stored_clock(&store) > ahead.parse().unwrap());
}

#[test]
fn a_clock_already_beyond_belief_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    {
        let store = Store::open(&path, Encryption::PlaintextForTestsOnly).unwrap();
        store.set_identity(&identity()).unwrap();
        let walk = store.start_walk(new_walk(0)).unwrap();
        store
            .add_record(NewRecord { walk_id: walk.id, body: observation("eerst"), created: at(1), location: None })
            .unwrap();
    }
    // What a phone that pulled the largest clock before this fix holds: its own clock at the
    // maximum, and a pending change stamped with it.
    let poisoned = "ffffffffffff.ffff.80000000000000d1";
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'hlc'", [json!(poisoned).to_string()]).unwrap();
    conn.execute("UPDATE records SET hlc = ?1, field_clocks = json_object('note', ?1), pending = 1", [poisoned])
        .unwrap();
    drop(conn);

    let store = Store::open(&path, Encryption::PlaintextForTestsOnly).unwrap();
    for e in store.pending_changes(100).unwrap() {
        assert!(e.hlc.is_plausible(now_ms()), "{}: {}", e.kind.as_str(), e.hlc);
        assert!(e.clocks.values().all(|c| c.is_plausible(now_ms())));
        assert!(e.clocks.values().all(|c| *c <= e.hlc));
    }
    let walk = store.active_walk().unwrap().unwrap();
    store
        .add_record(NewRecord { walk_id: walk.id, body: observation("daarna"), created: at(2), location: None })
        .unwrap();
    assert!(stored_clock(&store).is_plausible(now_ms()));
}

#[test]
fn every_field_a_walk_action_changes_gets_the_actions_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    store.add_fixes(&walk.id, &[fix(1.0, CENTRE.0, CENTRE.1), fix(2.0, CENTRE.0 + 0.0005, CENTRE.1)]).unwrap();
    store.pause_walk(&walk.id, at(3)).unwrap();
    // Ending closes the open pause and sets the end, the summary, the buurten and the track.
    store.end_walk(&walk.id, at(6)).unwrap();
    let e = store.pending_changes(10).unwrap().into_iter().find(|e| e.kind == EntityKind::Walk).unwrap();
    let end = e.clocks["status"];
    for f in ["ended", "summary", "buurten", "track", "pauses"] {
        assert_eq!(e.clocks.get(f), Some(&end), "{f}");
    }
    assert_eq!(e.hlc, end);
    store.submit_walk(&walk.id).unwrap();
    let e = store.pending_changes(10).unwrap().into_iter().find(|e| e.kind == EntityKind::Walk).unwrap();
    assert!(e.clocks["status"] > end);
    assert_eq!(e.clocks["ended"], end, "submitting changes the status only");
}
