//! A walk from start to submit, through the public API, on an encrypted store.

use crate::common;

use common::*;
use wijkverkenner_core::*;

#[test]
fn a_walk_from_start_to_submit() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    assert_eq!(walk.status, WalkStatus::Active);
    assert_eq!(store.active_walk().unwrap().unwrap().id, walk.id);
    // Only one walk at a time.
    assert!(matches!(store.start_walk(new_walk(1)), Err(Error::WalkState { .. })));

    // Walk north along a street, one fix per 10 s, 1.2 m/s, for 30 minutes.
    let (lat0, lon0) = CENTRE;
    let fixes: Vec<Fix> =
        (0..180).map(|i| fix(i as f64 / 6.0, lat0 + i as f64 * 1.2 * 10.0 / 111_195.0, lon0)).collect();
    for batch in fixes.chunks(6) {
        store.add_fixes(&walk.id, batch).unwrap();
    }
    // A GPS jump of 2 km is kept but flagged.
    let report = store.add_fixes(&walk.id, &[fix(30.5, lat0 - 0.02, lon0)]).unwrap();
    assert_eq!((report.stored, report.flagged), (1, 1));

    let obs = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: observation("Belwinkel, rolluik altijd half open"),
            created: at(5),
            location: Some(location(5, lat0, lon0)),
        })
        .unwrap();
    assert!(matches!(obs.location, RecordLocation::Fix(_)));
    assert!(obs.buurt.is_some(), "the centre of Utrecht lies in a buurt");

    // Indoors, no fix: takes the walk's last good fix, marked as inherited.
    let talk = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: conversation("Ondernemer maakt zich zorgen"),
            created: at(31),
            location: None,
        })
        .unwrap();
    match talk.location {
        RecordLocation::Inherited(l) => assert_eq!(l.fix_ms, fixes.last().unwrap().at_ms),
        other => panic!("expected an inherited location, got {other:?}"),
    }

    // Pause for coffee, resume, note a signal, end.
    store.pause_walk(&walk.id, at(32)).unwrap();
    assert!(matches!(store.pause_walk(&walk.id, at(33)), Err(Error::WalkState { .. })));
    store.resume_walk(&walk.id, at(42)).unwrap();
    let sig = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal("Veel verkeer bij portiek"),
            created: at(43),
            location: Some(location(43, lat0, lon0)),
        })
        .unwrap();

    // Edit: only the changed field advances; the clock moves forward.
    let edited =
        store.edit_record(&obs.id, observation("Belwinkel, rolluik altijd half open, geen klanten"), None).unwrap();
    assert!(edited.hlc > obs.hlc);
    let again =
        store.edit_record(&obs.id, observation("Belwinkel, rolluik altijd half open, geen klanten"), None).unwrap();
    assert_eq!(again.hlc, edited.hlc, "an edit that changes nothing changes nothing");
    assert!(matches!(store.edit_record(&obs.id, signal("x"), None), Err(Error::Invalid { .. })));

    store.delete_record(&sig.id).unwrap();
    assert!(matches!(store.record(&sig.id), Err(Error::NotFound(_))));
    assert_eq!(store.record_counts().unwrap(), (2, 1));

    let ended = store.end_walk(&walk.id, at(60)).unwrap();
    let summary = ended.summary.clone().unwrap();
    assert_eq!(ended.status, WalkStatus::Ended);
    assert_eq!(summary.walking_ms, 50 * 60_000, "60 minutes less a 10-minute pause");
    assert!((summary.distance_m - 179.0 * 12.0).abs() < 30.0, "{}", summary.distance_m);
    assert_eq!(summary.outside_office_hours_share, 1.0, "a Tuesday evening walk");
    assert_eq!((summary.fixes, summary.flagged_fixes, summary.records), (181, 1, 2));
    assert!(
        summary.track_points >= 2 && summary.track_points < 20,
        "a straight street simplifies: {}",
        summary.track_points
    );
    assert!(!ended.buurten.is_empty());
    // Where was the walker 15 minutes in? Halfway up the street.
    let (lat, _) = store.walk_position_at(&walk.id, at(15).utc_ms).unwrap().unwrap();
    assert!((lat - (lat0 + 90.0 * 12.0 / 111_195.0)).abs() * 111_195.0 < 10.0);

    // An ended walk takes no more fixes or records.
    assert!(matches!(store.add_fixes(&walk.id, &[fix(61.0, lat0, lon0)]), Err(Error::WalkState { .. })));
    assert!(matches!(
        store.add_record(NewRecord { walk_id: walk.id, body: observation("laat"), created: at(61), location: None }),
        Err(Error::WalkState { .. })
    ));
    // Records stay editable until reviewed.
    store.edit_record(&talk.id, conversation("Ondernemer maakt zich zorgen over de buren"), None).unwrap();
    store.submit_walk(&walk.id).unwrap();
    // The lead reviews the walk (on this phone for the test; normally it arrives by sync).
    let mut lead = identity();
    lead.member.role = MemberRole::Lead;
    store.set_identity(&lead).unwrap();
    store.review_walk(&walk.id, Some("Waarom was de pauze zo lang?".into()), true).unwrap();
    store.set_identity(&identity()).unwrap();
    store.answer_walk_question(&walk.id, "Lang gesprek binnen").unwrap();
    assert_eq!(store.walk(&walk.id).unwrap().review.answer.as_deref(), Some("Lang gesprek binnen"));
    assert!(matches!(store.edit_record(&talk.id, conversation("te laat"), None), Err(Error::Reviewed)));
    assert!(matches!(store.delete_record(&talk.id), Err(Error::Reviewed)));
}

#[test]
fn paged_queries_walk_every_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    let (lat0, lon0) = CENTRE;
    let batch: Vec<NewRecord> = (0..257)
        .map(|i| NewRecord {
            walk_id: walk.id,
            body: observation(&format!("waarneming {i}")),
            created: at(i / 10),
            // Spread over ~2.5 km northwards, 10 m apart.
            location: Some(location(i / 10, lat0 + i as f64 * 10.0 / 111_195.0, lon0)),
        })
        .collect();
    let ids = store.add_records(&batch).unwrap();
    assert_eq!(ids.len(), 257);

    let mut seen = Vec::new();
    let mut page = PageRequest::first(50);
    loop {
        let p = store.walk_timeline(&walk.id, &page).unwrap();
        seen.extend(p.items.iter().map(|r| r.id));
        match p.next {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ids, "timeline pages hold every record once, in order");

    let latest = store.latest_records(&PageRequest::first(10)).unwrap();
    assert_eq!(latest.items[0].id, ids[256]);

    // Within 105 m of the start: records 0..=10 (10 m apart).
    let mut near = Vec::new();
    let mut page = PageRequest::first(4);
    loop {
        let p = store.records_near(lat0, lon0, 105.0, at(0).utc_ms, at(60).utc_ms, &page).unwrap();
        near.extend(p.items.iter().map(|r| r.id));
        match p.next {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    near.sort();
    assert_eq!(near, ids[..=10].to_vec());
    // The time window applies too.
    let early = store.records_near(lat0, lon0, 100.0, at(0).utc_ms, at(0).utc_ms, &PageRequest::first(100)).unwrap();
    assert_eq!(early.items.len(), 10);

    let buurt = store.record(&ids[0]).unwrap().buurt.unwrap();
    let in_buurt = store.records_in_buurt(&buurt, &PageRequest::first(500)).unwrap();
    assert!(in_buurt.items.iter().all(|r| r.buurt.as_deref() == Some(buurt.as_str())));
    assert!(!in_buurt.items.is_empty());

    let walks = store.recent_walks(&PageRequest::first(10)).unwrap();
    assert_eq!(walks.items.len(), 1);
    assert!(matches!(store.latest_records(&PageRequest::first(0)), Err(Error::Invalid { .. })));
    assert!(matches!(
        store.latest_records(&PageRequest { limit: 5, cursor: Some("garbage".into()) }),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn a_batch_with_one_bad_record_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    let mut batch: Vec<NewRecord> = (0..5)
        .map(|i| NewRecord { walk_id: walk.id, body: observation("ok"), created: at(i), location: None })
        .collect();
    batch[3].body = RecordBody::Observation(Observation {
        themes: vec!["obs.unknown".into()],
        tone: Tone::Neutral,
        note: String::new(),
    });
    let err = store.add_records(&batch).unwrap_err();
    assert!(err.to_string().contains("#3"), "{err}");
    assert_eq!(store.record_counts().unwrap(), (0, 0));
    let fixes = [fix(1.0, 52.09, 5.12), fix(1.1, f64::NAN, 5.12)];
    assert!(matches!(store.add_fixes(&walk.id, &fixes), Err(Error::Invalid { .. })));
    assert_eq!(store.walk_track(&walk.id).unwrap().len(), 0);
}

#[test]
fn recording_needs_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("x.db"), Encryption::Key(key(1))).unwrap();
    assert!(matches!(store.start_walk(new_walk(0)), Err(Error::NoIdentity)));
}

#[test]
fn settings_and_taxonomy_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = store_in(dir.path());
        let mut s = store.settings();
        s.office_hours.end = "18:00".into();
        store.set_settings(&s).unwrap();
        let mut bad = s.clone();
        bad.office_hours.time_zone = "Mars/Olympus".into();
        assert!(store.set_settings(&bad).is_err());
        // A real zone the build leaves out (the phone library carries only the zones it
        // needs) is refused with the list of those it knows, not taken for another.
        bad.office_hours.time_zone = "America/New_York".into();
        let e = store.set_settings(&bad).unwrap_err().to_string();
        assert!(e.contains("Europe/Amsterdam") && e.contains("UTC"), "{e}");
        // A deliberate list, not IANA's ~600: the zones that share rules with the two named in
        // .cargo/config.toml come along (Amsterdam is Brussels' link since tzdata 2022b; UTC's
        // fixed-offset aliases), nothing from another continent.
        let known: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
        assert!(known.contains(&"Europe/Amsterdam") && known.contains(&"UTC"), "{known:?}");
        assert!(
            known.len() < 60 && known.iter().all(|z| !z.contains("America") && !z.starts_with("Asia")),
            "{known:?}"
        );
    }
    let store = Store::open(db_path(dir.path()), Encryption::Key(key(7))).unwrap();
    assert_eq!(store.settings().office_hours.end, "18:00");
    assert_eq!(store.identity().unwrap(), identity());
    assert_eq!(store.neighbourhoods().unwrap().unwrap().len(), 111);
}

#[test]
fn walk_details_and_the_taxonomy_can_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    let details = WalkDetails {
        participants: vec![
            Participant::Guest { role: "wijkagent".into(), lay_person: false },
            Participant::Guest { role: "woonconsulent".into(), lay_person: false },
        ],
        purpose: "Avondronde, ook langs de speeltuin".into(),
        focus: vec!["obs.youth_groups".into()],
    };
    let updated = store.update_walk_details(&walk.id, details.clone()).unwrap();
    assert_eq!(updated.details, details);
    assert!(updated.hlc > walk.hlc);
    let bad = WalkDetails { focus: vec!["sig.weapons".into()], ..details };
    assert!(matches!(store.update_walk_details(&walk.id, bad), Err(Error::Invalid { .. })));

    // A team's own taxonomy: a new theme, an old one retired (kept for old records).
    let mut doc: serde_json::Value = serde_json::from_str(&store.taxonomy().to_json()).unwrap();
    let cats = doc["categories"].as_array_mut().unwrap();
    for c in cats.iter_mut() {
        if c["code"] == "obs.litter" {
            c["retired"] = serde_json::json!(true);
        }
    }
    cats.push(serde_json::json!({"kind": "observation_theme", "code": "obs.scooters", "nl": "Scooters op de stoep", "en": "Scooters on the pavement"}));
    store.set_taxonomy(Taxonomy::from_json(&doc.to_string()).unwrap()).unwrap();
    let scooters = RecordBody::Observation(Observation {
        themes: vec!["obs.scooters".into()],
        tone: Tone::Concern,
        note: String::new(),
    });
    store.add_record(NewRecord { walk_id: walk.id, body: scooters, created: at(1), location: None }).unwrap();
    let litter = RecordBody::Observation(Observation {
        themes: vec!["obs.litter".into()],
        tone: Tone::Concern,
        note: String::new(),
    });
    assert!(matches!(
        store.add_record(NewRecord { walk_id: walk.id, body: litter, created: at(2), location: None }),
        Err(Error::Invalid { .. })
    ));
    // Dropping a code altogether is refused: records may refer to it.
    doc["categories"].as_array_mut().unwrap().retain(|c| c["code"] != "obs.vacancy");
    assert!(store.set_taxonomy(Taxonomy::from_json(&doc.to_string()).unwrap()).is_err());
    drop(store);
    let reopened = Store::open(db_path(dir.path()), Encryption::Key(key(7))).unwrap();
    assert!(reopened.taxonomy().get("obs.scooters").is_some());
}
