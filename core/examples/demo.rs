//! Records one evening walk through Utrecht in a fresh encrypted store and prints what the
//! walk report will show. The project's main job until the team server exists.
//!
//! `cargo run --release -p wijkverkenner-core --example demo [STORE_DIR]`

use std::io::Read;

use wijkverkenner_core::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("wijkverkenner-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    let store = Store::open(dir.join("demo.db"), Encryption::Key(StoreKey::new(key)))?;
    store.set_identity(&Identity {
        member: Member {
            id: MemberId::new(),
            display_name: "Demo Jongerenwerker".into(),
            role: MemberRole::FieldWorker,
            organisation: "JoU Jongerenwerk".into(),
        },
        device: DeviceId::new(),
    })?;
    let buurten = std::fs::read_to_string(format!("{DATA}/buurt.geojson"))?;
    let wijken = std::fs::read_to_string(format!("{DATA}/wijk.geojson"))?;
    let n = store.load_neighbourhoods(&buurten, Some(&wijken))?;

    // Last Tuesday, 19:00 Dutch time (the walk starts outside office hours).
    let start = Moment::new(1_795_539_600_000 + 3_600_000, 3600)?;
    let min = |m: i64| start.plus_ms(m * 60_000);
    let walk = store.start_walk(NewWalk {
        participants: vec![Participant::Guest { role: "wijkagent".into(), lay_person: false }],
        purpose: "Avondronde Transwijk en Dichterswijk: winkelstrip en speelplekken".into(),
        focus: vec!["obs.risky_business".into(), "obs.youth_groups".into()],
        started: start,
    })?;

    // 75 minutes along a route through Transwijk and Dichterswijk, a fix every 5 s.
    let route = [(52.0745, 5.0995), (52.0790, 5.1000), (52.0820, 5.1050), (52.0800, 5.1120), (52.0850, 5.1140)];
    let mut fixes = Vec::new();
    for i in 0..=900i64 {
        let t = i as f64 / 900.0 * (route.len() - 1) as f64;
        let (k, f) = ((t.floor() as usize).min(route.len() - 2), t - t.floor().min((route.len() - 2) as f64));
        let (a, b) = (route[k], route[k + 1]);
        fixes.push(Fix {
            at_ms: start.utc_ms + i * 5_000,
            lat: a.0 + (b.0 - a.0) * f,
            lon: a.1 + (b.1 - a.1) * f,
            accuracy_m: 5.0 + (i % 7) as f64,
            source: LocationSource::Gps,
        });
    }
    fixes[500].lat += 0.05; // a GPS jump, kept and flagged
    let mut flagged = 0;
    for batch in fixes.chunks(2) {
        if batch[0].at_ms >= min(30).utc_ms && batch[0].at_ms < min(40).utc_ms {
            continue; // inside a snack bar: no fixes
        }
        flagged += store.add_fixes(&walk.id, batch)?.flagged;
    }
    let here = |m: i64, f: &Fix| Location {
        lat: f.lat,
        lon: f.lon,
        accuracy_m: 6.0,
        fix_ms: min(m).utc_ms,
        source: LocationSource::Gps,
    };
    store.add_record(NewRecord {
        walk_id: walk.id,
        body: RecordBody::Observation(Observation {
            themes: vec!["obs.risky_business".into()],
            tone: Tone::Concern,
            note: "Belwinkel: rolluik half open, geen klanten, wel veel in- en uitloop achterom.".into(),
        }),
        created: min(12),
        location: Some(here(12, &fixes[144])),
    })?;
    store.pause_walk(&walk.id, min(30))?;
    store.add_record(NewRecord {
        walk_id: walk.id,
        body: RecordBody::Conversation(Conversation {
            roles: vec!["role.entrepreneur".into()],
            people: 1,
            duration_min: 20,
            gist: "Eigenaar snackbar: jongeren worden aangesproken door oudere mannen in auto's.".into(),
            mood: Mood::Open,
            trust: Trust::Medium,
            agreements: "Over twee weken terugkomen; telefoonnummer jongerenwerk achtergelaten.".into(),
            immediate_help: false,
        }),
        created: min(35),
        location: None, // indoors: takes the last good fix
    })?;
    store.resume_walk(&walk.id, min(40))?;
    store.add_record(NewRecord {
        walk_id: walk.id,
        body: RecordBody::Signal(Signal {
            category: "sig.youth_recruitment".into(),
            severity: Severity::High,
            description: "Groep van vier jongeren (ca. 14 jaar) stapt in en uit dezelfde auto bij speelplek.".into(),
            at_known_place: true,
            follow_up: "Bespreken met wijkagent en teamleider.".into(),
            suggested_referral: Some("ref.police".into()),
        }),
        created: min(55),
        location: Some(here(55, &fixes[660])),
    })?;
    store.add_record(NewRecord {
        walk_id: walk.id,
        body: RecordBody::Observation(Observation {
            themes: vec!["obs.pleasant_place".into()],
            tone: Tone::Positive,
            note: "Nieuw buurtplein druk bezocht door gezinnen.".into(),
        }),
        created: min(70),
        location: Some(here(70, &fixes[840])),
    })?;
    let ended = store.end_walk(&walk.id, min(75))?;
    let s = ended.summary.as_ref().expect("an ended walk has a summary");
    let places = store.neighbourhoods()?.expect("boundaries loaded");
    let name =
        |code: &str| places.places().find(|p| p.buurt_code == code).map(|p| p.buurt_name.clone()).unwrap_or_default();

    println!("Wijkverkenner core demo: one evening walk in Utrecht ({n} buurten loaded)");
    println!("store: {} (SQLCipher, random key)", store.path().display());
    println!("walk {}: {}", ended.id, ended.details.purpose);
    println!("  status           {}", ended.status.as_str());
    println!("  distance         {:.0} m", s.distance_m);
    println!("  walking time     {} min (10 min paused)", s.walking_ms / 60_000);
    println!("  outside office   {:.0}% of walking time", s.outside_office_hours_share * 100.0);
    println!("  fixes            {} ({} flagged; {flagged} flagged on arrival)", s.fixes, s.flagged_fixes);
    println!("  simplified track {} points", s.track_points);
    println!(
        "  buurten          {}",
        ended.buurten.iter().map(|c| format!("{c} {}", name(c))).collect::<Vec<_>>().join(", ")
    );
    println!("  timeline:");
    for r in store.walk_timeline(&walk.id, &PageRequest::first(50))?.items {
        let loc = match r.location {
            RecordLocation::Fix(_) => "fix",
            RecordLocation::Inherited(_) => "last good fix (indoors)",
            RecordLocation::None => "no location",
        };
        println!(
            "    {}  {:<12} buurt {:<5} {}",
            r.created.local().format("%H:%M"),
            r.body.kind().as_str(),
            r.buurt.as_deref().unwrap_or("-"),
            loc
        );
    }
    Ok(())
}
