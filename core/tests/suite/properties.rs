//! Property tests over the public API: random sequences of user actions with random, often
//! invalid, input. Nothing panics; a failed action changes nothing; the invariants hold.

use crate::common;

use std::collections::BTreeSet;

use common::*;
use proptest::prelude::*;
use wijkverkenner_core::*;

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 52.05f64..52.13,
        2 => 5.05f64..5.17,
        1 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-0.0),
        1 => -1000.0f64..1000.0,
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => "[\\PC]{0,40}",
        1 => ".{0,40}",
        1 => "[a-z ]{3990,4010}",
        1 => Just("\u{0}null".to_string()),
        1 => Just(String::new()),
    ]
}

/// A category code; the empty string stands for "a valid code of the right kind".
fn code() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just(String::new()),
        1 => Just("obs.vacancy".to_string()),
        1 => Just("obs.pleasant_place".to_string()),
        1 => Just("role.youth".to_string()),
        1 => Just("sig.weapons".to_string()),
        1 => Just("sig.other".to_string()),
        1 => Just("ref.police".to_string()),
        1 => "[a-z.]{1,12}",
    ]
}

/// Minutes relative to the test's fixed evening; some absurd.
fn minutes() -> impl Strategy<Value = i64> {
    prop_oneof![16 => 0i64..600, 1 => Just(-20_000_000i64), 1 => Just(10_000_000i64), 1 => any::<i64>()]
}

#[derive(Clone, Debug)]
enum Op {
    Start { purpose: String, focus: Vec<String>, mins: i64 },
    Pause(i64),
    Resume(i64),
    End(i64),
    Submit,
    Fixes(Vec<(f64, f64, f64, i64)>),
    Add { kind: u8, text: String, code: String, loc: Option<(f64, f64, f64)>, mins: i64, people: u8 },
    Edit { pick: usize, text: String, code: String },
    Delete { pick: usize },
    Near { lat: f64, lon: f64, radius: f64, limit: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (text(), prop::collection::vec(code(), 0..3), minutes()).prop_map(|(purpose, focus, mins)| Op::Start { purpose, focus, mins }),
        1 => minutes().prop_map(Op::Pause),
        1 => minutes().prop_map(Op::Resume),
        1 => (0..4u8, minutes()).prop_map(|(n, m)| if n == 0 { Op::End(m) } else { Op::Pause(m) }),
        1 => Just(Op::Submit),
        2 => prop::collection::vec((float(), float(), float(), minutes()), 0..12).prop_map(Op::Fixes),
        6 => (0u8..3, text(), code(), prop::option::of((float(), float(), 0.0f64..100.0)), minutes(), 1u8..20)
            .prop_map(|(kind, text, code, loc, mins, people)| Op::Add { kind, text, code, loc, mins, people }),
        2 => (any::<usize>(), text(), code()).prop_map(|(pick, text, code)| Op::Edit { pick, text, code }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        1 => (float(), float(), float(), 0u32..600).prop_map(|(lat, lon, radius, limit)| Op::Near { lat, lon, radius, limit }),
    ]
}

fn moment(mins: i64) -> Moment {
    Moment { utc_ms: at(0).utc_ms.saturating_add(mins.saturating_mul(60_000)), offset_s: 3600 }
}

fn body(kind: u8, text: &str, code: &str, people: u8) -> RecordBody {
    let valid = ["obs.litter", "role.resident", "sig.drug_dealing"][kind as usize % 3];
    let code = if code.is_empty() { valid } else { code };
    match kind {
        0 => RecordBody::Observation(Observation {
            themes: vec![code.to_string()],
            tone: Tone::Neutral,
            note: text.to_string(),
        }),
        1 => RecordBody::Conversation(Conversation {
            roles: vec![code.to_string()],
            people,
            duration_min: people as u16 * 3,
            gist: text.to_string(),
            mood: Mood::Tense,
            trust: Trust::Low,
            agreements: String::new(),
            immediate_help: people % 2 == 0,
        }),
        _ => RecordBody::Signal(Signal {
            category: code.to_string(),
            severity: Severity::Medium,
            description: text.to_string(),
            at_known_place: true,
            follow_up: String::new(),
            suggested_referral: None,
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_actions_never_panic_and_keep_the_store_consistent(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        let mut live: Vec<Record> = Vec::new();
        let mut tombstones = 0u64;
        // Every case starts on a walk, so the random actions have something to act on.
        let mut walk: Option<WalkId> = Some(store.start_walk(new_walk(0)).unwrap().id);

        for op in ops {
            let before = store.record_counts().unwrap();
            let outcome: Result<()> = match op {
                Op::Start { purpose, focus, mins } => store
                    .start_walk(NewWalk {
                        participants: vec![],
                        purpose,
                        focus: focus.into_iter().map(|c| if c.is_empty() { "obs.vacancy".into() } else { c }).collect(),
                        started: moment(mins),
                    })
                    .map(|w| walk = Some(w.id)),
                Op::Pause(m) => walk.map_or(Ok(()), |w| store.pause_walk(&w, moment(m)).map(|_| ())),
                Op::Resume(m) => walk.map_or(Ok(()), |w| store.resume_walk(&w, moment(m)).map(|_| ())),
                Op::End(m) => walk.map_or(Ok(()), |w| {
                    store.end_walk(&w, moment(m)).map(|ended| {
                        let s = ended.summary.unwrap();
                        assert!(s.distance_m.is_finite() && s.distance_m >= 0.0);
                        assert!((0.0..=1.0).contains(&s.outside_office_hours_share));
                        assert!(s.walking_ms >= 0 && s.outside_office_hours_ms <= s.walking_ms);
                    })
                }),
                Op::Submit => walk.map_or(Ok(()), |w| store.submit_walk(&w).map(|_| ())),
                Op::Fixes(fs) => walk.map_or(Ok(()), |w| {
                    let fixes: Vec<Fix> = fs
                        .iter()
                        .map(|&(lat, lon, acc, m)| Fix { at_ms: moment(m).utc_ms, lat, lon, accuracy_m: acc.abs() % 200.0, source: LocationSource::Gps })
                        .collect();
                    store.add_fixes(&w, &fixes).map(|r| assert_eq!(r.stored as usize, fixes.len()))
                }),
                Op::Add { kind, text, code, loc, mins, people } => walk.map_or(Ok(()), |w| {
                    let location = loc.map(|(lat, lon, acc)| Location { lat, lon, accuracy_m: acc, fix_ms: moment(mins).utc_ms, source: LocationSource::Network });
                    store
                        .add_record(NewRecord { walk_id: w, body: body(kind, &text, &code, people), created: moment(mins), location })
                        .map(|r| live.push(r))
                }),
                Op::Edit { pick, text, code } if !live.is_empty() => {
                    let i = pick % live.len();
                    let old = live[i].clone();
                    let kind = match old.body { RecordBody::Observation(_) => 0, RecordBody::Conversation(_) => 1, RecordBody::Signal(_) => 2 };
                    store.edit_record(&old.id, body(kind, &text, &code, 3), None).map(|r| {
                        assert!(r.hlc >= old.hlc);
                        assert_eq!(r.hlc == old.hlc, r.body == old.body, "the clock moves exactly when content changes");
                        live[i] = r;
                    })
                }
                Op::Delete { pick } if !live.is_empty() => {
                    let i = pick % live.len();
                    store.delete_record(&live[i].id).map(|()| {
                        live.remove(i);
                        tombstones += 1;
                    })
                }
                Op::Near { lat, lon, radius, limit } => store
                    .records_near(lat, lon, radius, i64::MIN, i64::MAX, &PageRequest::first(limit))
                    .map(|p| assert!(p.items.len() <= limit as usize)),
                _ => Ok(()),
            };
            match outcome {
                Ok(()) => {}
                Err(Error::Database(e)) => panic!("a database error is a bug, not bad input: {e}"),
                Err(Error::Decode(e)) => panic!("stored data must always decode: {e}"),
                Err(e) => {
                    // A refused action changes nothing, and says why without echoing input.
                    assert_eq!(store.record_counts().unwrap(), before, "{e}");
                    assert!(!e.to_string().contains("PLANT"));
                }
            }
            prop_assert_eq!(store.record_counts().unwrap(), (live.len() as u64, tombstones));
        }

        // Every live record reads back as it was returned, and paging finds each exactly once.
        for r in &live {
            prop_assert_eq!(&store.record(&r.id).unwrap(), r);
        }
        let mut paged = BTreeSet::new();
        let mut page = PageRequest::first(7);
        loop {
            let p = store.latest_records(&page).unwrap();
            for r in &p.items {
                prop_assert!(paged.insert(r.id), "a record appeared on two pages");
            }
            match p.next { Some(c) => page.cursor = Some(c), None => break }
        }
        prop_assert_eq!(paged, live.iter().map(|r| r.id).collect::<BTreeSet<_>>());
        prop_assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn any_text_is_a_valid_boundaries_file_or_a_clear_error(doc in ".{0,300}") {
        match Neighbourhoods::from_geojson(&doc, Some(&doc)) {
            Ok(_) | Err(Error::Boundaries(_)) => {}
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
    }
}
