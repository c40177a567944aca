//! The review pages' dashboard of a team with 100,000 records (2,000 walks of 50 records: 25
//! observations, 15 conversations, 10 signals), on SQLite and on PostgreSQL, over loopback
//! HTTP with a signed-in lead, each with its baselines in the same run:
//!
//! - warm: 200 dashboards of every walk (`period=all`), a phone pushing 5 changed records
//!   before every tenth (the read model takes them in, the changed walks' reports are made
//!   again): p50 and p99, against the same session's trivial page (`/sign-in`: the HTTP round
//!   trip and session lookup every page pays). Goal: p99 under 100 ms.
//! - cold: the first dashboard after the server started (every document parsed), against
//!   reading the same documents from storage without parsing them.
//!
//! `bash scripts/bench.sh` (it starts PostgreSQL), or `cargo bench -p wijkverkenner-server
//! --bench dashboard` with `WV_TEST_DATABASE_URL` set.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wijkverkenner_core::record::{Conversation, Mood, Observation, Signal, Tone, Trust};
use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::*;
use wijkverkenner_server::storage::{Role, WebAccount, WebSetup};
use wijkverkenner_server::testing::TestServer;
use wijkverkenner_server::web::auth;
use wijkverkenner_server::{admin, Storage};

const WALKS: usize = 2_000;
const PER_WALK: usize = 50;

fn body(i: usize) -> RecordBody {
    match i % 10 {
        0..=4 => RecordBody::Observation(Observation {
            themes: vec![["obs.vacancy", "obs.litter", "obs.youth_groups", "obs.lighting"][i % 4].into()],
            tone: Tone::Concern,
            note: format!("Waarneming {i}: rolluik half open, veel aanloop via de achterkant"),
        }),
        5..=7 => RecordBody::Conversation(Conversation {
            roles: vec![["role.resident", "role.professional", "role.youth"][i % 3].into()],
            people: 2,
            duration_min: (5 + i % 30) as u16,
            gist: "Gesprek over de buurt".into(),
            mood: Mood::Open,
            trust: Trust::Medium,
            agreements: "Volgende week terug".into(),
            immediate_help: i % 7 == 0,
        }),
        _ => RecordBody::Signal(Signal {
            category: ["sig.drug_dealing", "sig.housing_fraud", "sig.youth_recruitment"][i % 3].into(),
            severity: [Severity::Low, Severity::Medium, Severity::High][i % 3],
            description: "Signaal".into(),
            at_known_place: i % 4 == 0,
            follow_up: String::new(),
            suggested_referral: None,
        }),
    }
}

fn quantile(xs: &mut [Duration], q: f64) -> Duration {
    xs.sort();
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Result {
    p50: Duration,
    p99: Duration,
    base50: Duration,
    base99: Duration,
    cold: Duration,
    raw_read: Duration,
}

fn run(storage: Arc<dyn Storage>, dir: &std::path::Path) -> Result {
    let limits = wijkverkenner_server::ClientLimits { push_per_hour: (u64::MAX, u64::MAX), ..Default::default() };
    let seed_server = TestServer::start_with(storage.clone(), "127.0.0.1:0".parse().unwrap(), limits);
    let team = admin::create_team(storage.as_ref(), "Bench").unwrap();
    let worker = admin::add_member(storage.as_ref(), &team.id, "Veldwerker", Role::FieldWorker, "X").unwrap();
    let lead = admin::add_member(storage.as_ref(), &team.id, "Teamleider", Role::Lead, "X").unwrap();
    let phone = Store::open(dir.join("phone.db"), Encryption::Key(StoreKey::new([5; 32]))).unwrap();
    let transport = HttpTransport::new(&seed_server.url);
    phone.enrol(&transport, &admin::issue_code(storage.as_ref(), &worker.id, 1).unwrap(), "bench").unwrap();
    let (b, w) = (
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht/buurt.geojson")).unwrap(),
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht/wijk.geojson")).unwrap(),
    );
    phone.load_neighbourhoods(&b, Some(&w)).unwrap();
    let t0 = chrono::Utc::now().timestamp_millis() - 365 * 86_400_000;
    let mut signals = Vec::new();
    for k in 0..WALKS {
        let start = t0 + k as i64 * 4 * 3_600_000;
        let walk = phone
            .start_walk(NewWalk {
                participants: vec![],
                purpose: format!("Ronde {k}"),
                focus: vec![],
                started: Moment { utc_ms: start, offset_s: 3600 },
            })
            .unwrap();
        let batch: Vec<NewRecord> = (0..PER_WALK)
            .map(|i| {
                let n = k * PER_WALK + i;
                let a = (n as f64 * 0.618_033_988_7).fract();
                let c = (n as f64 * 0.414_213_562_3).fract();
                let at = start + i as i64 * 60_000;
                NewRecord {
                    walk_id: walk.id,
                    body: body(n),
                    created: Moment { utc_ms: at, offset_s: 3600 },
                    location: Some(Location {
                        lat: 52.07 + a * 0.05,
                        lon: 5.07 + c * 0.08,
                        accuracy_m: 8.0,
                        fix_ms: at,
                        source: LocationSource::Gps,
                    }),
                }
            })
            .collect();
        let ids = phone.add_records(&batch).unwrap();
        signals.extend(ids.iter().zip(&batch).filter(|(_, r)| r.body.kind() == RecordKind::Signal).map(|(id, _)| *id));
        phone.end_walk(&walk.id, Moment { utc_ms: start + 3_600_000, offset_s: 3600 }).unwrap();
    }
    phone.sync(&transport, &AtomicBool::new(false)).unwrap();
    drop(seed_server);

    // A fresh server: its read model is empty.
    let server = TestServer::start_web(storage.clone());
    let transport = HttpTransport::new(&server.url);
    let secret = auth::new_totp_secret();
    let token = auth::token();
    let now = admin::now_ms();
    storage
        .create_web_setup(&WebSetup {
            token_hash: admin::sha256_hex(&token),
            member_id: lead.id.clone(),
            login: "lead".into(),
            totp_secret: secret.clone(),
            issued_ms: now,
            expires_ms: now + 60_000,
        })
        .unwrap();
    let account = WebAccount {
        member_id: lead.id.clone(),
        login: "lead".into(),
        password_hash: auth::hash_password("een lange zin als wachtwoord").unwrap(),
        totp_secret: secret.clone(),
        totp_last_step: 0,
        failures: 0,
        locked_until_ms: 0,
        created_ms: now,
    };
    assert!(storage.finish_web_setup(&admin::sha256_hex(&token), &account, now).unwrap());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let raw = auth::base32_decode(&secret).unwrap();
    let code = format!("{:06}", auth::totp_at(&raw, admin::now_ms() / 30_000));
    let r = agent
        .post(format!("{}/sign-in", server.url))
        .header("Origin", &server.url)
        .send_form([("login", "lead"), ("password", "een lange zin als wachtwoord"), ("code", code.as_str())])
        .unwrap();
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let get = |path: &str| -> (Duration, usize) {
        let start = Instant::now();
        let mut r = agent.get(format!("{}{path}", server.url)).header("Cookie", &cookie).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let n = r.body_mut().read_to_string().unwrap().len();
        (start.elapsed(), n)
    };

    // Cold: the first dashboard, and reading the same documents raw.
    let (cold, size) = get("/dashboard?period=all");
    assert!(size > 100_000, "a full dashboard");
    let start = Instant::now();
    let rows = storage.entities_after(&team.id, 0).unwrap();
    let raw_read = start.elapsed();
    assert!(rows.len() >= WALKS * (PER_WALK + 1));

    // Warm, with changes coming in.
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for i in 0..200 {
        if i % 10 == 0 {
            for s in signals.iter().skip(i / 10 * 5).take(5) {
                let mut r = phone.record(s).unwrap();
                if let RecordBody::Signal(sig) = &mut r.body {
                    sig.follow_up = format!("Opvolging {i}");
                }
                phone.edit_record(s, r.body, r.location.point().cloned()).unwrap();
            }
            phone.sync(&transport, &AtomicBool::new(false)).unwrap();
        }
        ours.push(get("/dashboard?period=all").0);
        base.push(get("/sign-in").0);
    }
    Result {
        p50: quantile(&mut ours, 0.5),
        p99: quantile(&mut ours, 0.99),
        base50: quantile(&mut base, 0.5),
        base99: quantile(&mut base, 0.99),
        cold,
        raw_read,
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!(
        "machine: {} cores; date {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!();
    println!("| dashboard, {} records | warm p50 / p99 | trivial page p50 / p99 (same run) | p99 ratio | cold first load | raw read of the documents | goal |", WALKS * PER_WALK);
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut backends: Vec<(&str, Arc<dyn Storage>, tempfile::TempDir)> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    backends.push((
        "SQLite",
        Arc::new(wijkverkenner_server::storage::sqlite::SqliteStorage::open(&dir.path().join("server")).unwrap()),
        dir,
    ));
    match std::env::var("WV_TEST_DATABASE_URL") {
        Ok(base) => {
            let name = format!("wv_bench_{}", uuid::Uuid::now_v7().simple());
            let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
            backends.push((
                "PostgreSQL",
                Arc::new(wijkverkenner_server::storage::postgres::PostgresStorage::open(&url).unwrap()),
                tempfile::tempdir().unwrap(),
            ));
        }
        Err(_) => println!("| PostgreSQL | not run: set WV_TEST_DATABASE_URL | | | | | |"),
    }
    for (name, storage, dir) in backends {
        let r = run(storage, dir.path());
        println!(
            "| {name} | {:.1} / {:.1} ms | {:.2} / {:.2} ms | {:.1}× | {:.0} ms | {:.0} ms | p99 < 100 ms |",
            ms(r.p50),
            ms(r.p99),
            ms(r.base50),
            ms(r.base99),
            ms(r.p99) / ms(r.base99),
            ms(r.cold),
            ms(r.raw_read)
        );
    }
}
