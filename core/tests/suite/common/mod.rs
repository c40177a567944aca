//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use wijkverkenner_core::*;

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");

pub fn buurt_geojson() -> String {
    std::fs::read_to_string(format!("{DATA}/buurt.geojson")).expect("Utrecht buurten")
}

pub fn wijk_geojson() -> String {
    std::fs::read_to_string(format!("{DATA}/wijk.geojson")).expect("Utrecht wijken")
}

pub fn key(n: u8) -> StoreKey {
    StoreKey::new([n; 32])
}

pub fn identity() -> Identity {
    Identity {
        member: Member {
            id: "0192f0c0-0000-7000-8000-000000000001".parse().unwrap(),
            display_name: "Sanne de Vries".into(),
            role: MemberRole::FieldWorker,
            organisation: "Buurtteam Overvecht".into(),
        },
        device: "0192f0c0-0000-7000-8000-0000000000d1".parse().unwrap(),
    }
}

/// A fresh encrypted store in `dir` with an identity and Utrecht's boundaries.
pub fn store_in(dir: &Path) -> Store {
    let store = Store::open(dir.join("wv.db"), Encryption::Key(key(7))).unwrap();
    store.set_identity(&identity()).unwrap();
    store.load_neighbourhoods(&buurt_geojson(), Some(&wijk_geojson())).unwrap();
    store
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("wv.db")
}

/// A moment `mins` minutes after a fixed Tuesday evening, 2026-11-24 18:00 Amsterdam time.
pub fn at(mins: i64) -> Moment {
    Moment { utc_ms: 1_795_539_600_000 + mins * 60_000, offset_s: 3600 }
}

/// Around Utrecht's Vredenburg, in the city centre.
pub const CENTRE: (f64, f64) = (52.0929, 5.1143);

pub fn fix(mins_f: f64, lat: f64, lon: f64) -> Fix {
    Fix { at_ms: at(0).utc_ms + (mins_f * 60_000.0) as i64, lat, lon, accuracy_m: 6.0, source: LocationSource::Gps }
}

pub fn location(mins: i64, lat: f64, lon: f64) -> Location {
    Location { lat, lon, accuracy_m: 8.0, fix_ms: at(mins).utc_ms, source: LocationSource::Gps }
}

pub fn new_walk(mins: i64) -> NewWalk {
    NewWalk {
        participants: vec![Participant::Guest { role: "wijkagent".into(), lay_person: false }],
        purpose: "Avondronde rond het winkelcentrum".into(),
        focus: vec!["obs.vacancy".into(), "obs.youth_groups".into()],
        started: at(mins),
    }
}

pub fn observation(note: &str) -> RecordBody {
    RecordBody::Observation(Observation { themes: vec!["obs.vacancy".into()], tone: Tone::Concern, note: note.into() })
}

pub fn conversation(gist: &str) -> RecordBody {
    RecordBody::Conversation(Conversation {
        roles: vec!["role.entrepreneur".into()],
        people: 1,
        duration_min: 25,
        gist: gist.into(),
        mood: Mood::Open,
        trust: Trust::Medium,
        agreements: "Volgende week terugkomen".into(),
        immediate_help: false,
    })
}

pub fn signal(description: &str) -> RecordBody {
    RecordBody::Signal(Signal {
        category: "sig.stash_house".into(),
        severity: Severity::High,
        description: description.into(),
        at_known_place: false,
        follow_up: "Bespreken met wijkagent".into(),
        suggested_referral: Some("ref.police".into()),
    })
}
