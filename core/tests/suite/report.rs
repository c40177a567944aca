//! The walk report and the street tactics, from an evening walk recorded through the store.

use crate::common;

use common::*;
use wijkverkenner_core::report::WalkReport;
use wijkverkenner_core::*;

fn conversation_with(roles: &[&str], minutes: u16, help: bool) -> RecordBody {
    RecordBody::Conversation(Conversation {
        roles: roles.iter().map(|r| r.to_string()).collect(),
        people: 2,
        duration_min: minutes,
        gist: "over de straat".into(),
        mood: Mood::Open,
        trust: Trust::High,
        agreements: "volgende week terug".into(),
        immediate_help: help,
    })
}

fn signal_at(category: &str, known_place: bool) -> RecordBody {
    RecordBody::Signal(Signal {
        category: category.into(),
        severity: Severity::High,
        description: "aanloop".into(),
        at_known_place: known_place,
        follow_up: String::new(),
        suggested_referral: Some("ref.police".into()),
    })
}

#[test]
fn an_evening_walk_reads_back_as_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let mut new = new_walk(0);
    new.participants = vec![
        Participant::Guest { role: "wijkagent".into(), lay_person: false },
        Participant::Guest { role: "bewoner van de flat".into(), lay_person: true },
    ];
    let walk = store.start_walk(new).unwrap();
    let fixes: Vec<Fix> = (0..40).map(|i| fix(i as f64, CENTRE.0 + i as f64 * 0.0002, CENTRE.1)).collect();
    store.add_fixes(&walk.id, &fixes).unwrap();
    let add = |body, mins, located: bool| {
        store
            .add_record(NewRecord {
                walk_id: walk.id,
                body,
                created: at(mins),
                location: located.then(|| location(mins, CENTRE.0 + 0.0002 * mins as f64, CENTRE.1)),
            })
            .unwrap()
    };
    let first = add(observation("leeg pand"), 2, true);
    add(conversation_with(&["role.resident", "role.youth"], 20, true), 5, true);
    add(conversation_with(&["role.professional"], 6, false), 8, false);
    add(conversation_with(&["role.resident", "role.professional"], 11, false), 12, true);
    // A signal right where the empty shop was noted: at a place noted before.
    let sig = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal_at("sig.drug_dealing", true),
            created: at(30),
            location: Some(location(30, CENTRE.0 + 0.0004, CENTRE.1 + 0.0001)),
        })
        .unwrap();
    store.pause_walk(&walk.id, at(31)).unwrap();
    store.resume_walk(&walk.id, at(36)).unwrap();
    store.end_walk(&walk.id, at(40)).unwrap();

    let r = store.walk_report(&walk.id).unwrap();
    assert_eq!(r.status, WalkStatus::Ended);
    assert_eq!(r.duration_ms, 40 * 60_000);
    assert_eq!(r.walking_ms, 35 * 60_000, "the pause is left out");
    assert!(r.distance_m > 100.0, "{}", r.distance_m);
    assert_eq!(r.outside_office_hours_share, 1.0, "an evening walk");
    assert!(!r.buurten.is_empty());
    assert_eq!(r.participants.len(), 2);
    assert!(r.participants.iter().any(|p| p.lay_person && p.role.as_deref() == Some("bewoner van de flat")));
    // The timeline in time order, with every record.
    assert_eq!(r.timeline.len(), 5);
    assert!(r.timeline.windows(2).all(|w| w[0].at.utc_ms <= w[1].at.utc_ms));
    assert_eq!(r.timeline[0].id, first.id);
    assert_eq!(r.timeline.iter().filter(|e| e.point.is_some()).count(), 5, "indoors: the walk's last fix");
    // Counts by code, most first.
    let count = |code: &str| r.counts.iter().find(|c| c.code == code).map(|c| c.count);
    assert_eq!(count("role.resident"), Some(2));
    assert_eq!(count("role.professional"), Some(2));
    assert_eq!(count("obs.vacancy"), Some(1));
    assert_eq!(count("sig.drug_dealing"), Some(1));
    assert!(r.counts.windows(2).all(|w| w[0].count >= w[1].count));
    // Conversations: roles, lay people and professionals, help.
    assert_eq!(r.conversations.len(), 3);
    assert_eq!(r.conversations.iter().filter(|c| c.with_lay_people).count(), 2);
    assert_eq!(r.conversations.iter().filter(|c| c.with_professionals).count(), 2);
    assert_eq!(r.conversations.iter().filter(|c| c.immediate_help).count(), 1);
    // Signals with where they stand.
    assert_eq!(r.signals.len(), 1);
    assert_eq!((r.signals[0].id, r.signals[0].status), (sig.id, SignalStatus::New));

    // On a map: the track and every located record; longitude first.
    let map = store.walk_map(&walk.id).unwrap();
    let features = map["features"].as_array().unwrap();
    assert_eq!(map["type"], "FeatureCollection");
    let track = features.iter().find(|f| f["properties"]["kind"] == "track").unwrap();
    assert_eq!(track["geometry"]["type"], "LineString");
    assert!(track["geometry"]["coordinates"].as_array().unwrap().len() >= 2);
    let points: Vec<_> = features.iter().filter(|f| f["geometry"]["type"] == "Point").collect();
    assert_eq!(points.len(), 5);
    let lon = points[0]["geometry"]["coordinates"][0].as_f64().unwrap();
    assert!((lon - CENTRE.1).abs() < 0.01, "coordinates are [lon, lat]");
    let signal = points.iter().find(|f| f["properties"]["kind"] == "signal").unwrap();
    assert_eq!(signal["properties"]["severity"], "high");

    // The street tactics of the period.
    let t = store.street_tactics(at(-60).utc_ms, at(60).utc_ms).unwrap();
    assert_eq!((t.walks, t.conversations, t.signals), (1, 3, 1));
    assert_eq!(t.median_conversation_min, Some(11.0));
    assert_eq!((t.conversations_with_lay_people, t.conversations_with_professionals), (2, 2));
    assert_eq!(t.conversations_with_immediate_help, 1);
    assert_eq!(t.signals_at_known_places, 1);
    assert_eq!(t.signals_near_earlier_records, 1, "the empty shop was noted there before");
    assert_eq!(t.outside_office_hours_share, 1.0);
    // A period without walks.
    let none = store.street_tactics(at(600).utc_ms, at(700).utc_ms).unwrap();
    assert_eq!((none.walks, none.median_conversation_min), (0, None));
}

#[test]
fn an_active_walk_is_measured_up_to_now() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    let r = store.walk_report(&walk.id).unwrap();
    assert_eq!(r.status, WalkStatus::Active);
    assert!(r.duration_ms > 0 && r.walking_ms > 0);
    assert!(r.timeline.is_empty() && r.counts.is_empty());
    let map = WalkReport::of(&store.walk(&walk.id).unwrap(), &[], &Taxonomy::default_taxonomy(), at(10).utc_ms)
        .map_features(&[]);
    assert_eq!(map["features"].as_array().unwrap().len(), 0);
}
