//! Helpers for the server tests: a real server on a loopback port, real phones (core stores)
//! talking to it over HTTP, and both storage backends.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::sync::Transport;
use wijkverkenner_core::*;
use wijkverkenner_server::storage::{Member as ServerMember, Role, Team};
use wijkverkenner_server::{admin, Storage};

pub use wijkverkenner_server::testing::TestServer;

pub fn sqlite_storage(dir: &Path) -> Arc<dyn Storage> {
    Arc::new(wijkverkenner_server::storage::sqlite::SqliteStorage::open(dir).unwrap())
}

/// A fresh PostgreSQL database on the server the test command started, reached as the
/// product reaches a database: over TLS, its certificate verified against the test CA
/// (`WV_TEST_DATABASE_CA`, set by `scripts/postgres.sh`; without it, on loopback in the clear).
/// Fails loudly when there is no server: PostgreSQL tests are never skipped.
pub fn postgres_storage() -> Arc<dyn Storage> {
    let url = postgres_database();
    let storage = match std::env::var_os("WV_TEST_DATABASE_CA") {
        Some(ca) => wijkverkenner_server::storage::postgres::PostgresStorage::open_verified(
            &by_name(&url),
            Some(std::path::Path::new(&ca)),
        ),
        None => wijkverkenner_server::storage::postgres::PostgresStorage::open(&url),
    };
    Arc::new(storage.unwrap())
}

/// The test database's URL with the host name its certificate is for (`localhost`).
pub fn by_name(url: &str) -> String {
    url.replacen("@127.0.0.1:", "@localhost:", 1)
}

/// The URL of a fresh PostgreSQL database (see [`postgres_storage`]).
pub fn postgres_database() -> String {
    let base = std::env::var("WV_TEST_DATABASE_URL").expect(
        "WV_TEST_DATABASE_URL is not set: run `bash scripts/test.sh`, which starts a throwaway PostgreSQL, \
         or point it at a server where the user may CREATE DATABASE",
    );
    let name = format!("wv_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect to the test PostgreSQL");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let url = match base.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{name}"),
        None => panic!("WV_TEST_DATABASE_URL must end in /<database>"),
    };
    url
}

pub struct TestTeam {
    pub team: Team,
    pub lead: ServerMember,
    pub workers: Vec<ServerMember>,
}

pub fn team(storage: &dyn Storage, name: &str, workers: usize) -> TestTeam {
    let team = admin::create_team(storage, name).unwrap();
    let lead = admin::add_member(storage, &team.id, "Teamleider", Role::Lead, "Gemeente Utrecht").unwrap();
    let workers = (0..workers)
        .map(|i| {
            admin::add_member(storage, &team.id, &format!("Veldwerker {i}"), Role::FieldWorker, "Buurtteam").unwrap()
        })
        .collect();
    TestTeam { team, lead, workers }
}

/// A phone: an encrypted core store enrolled with the server.
pub struct Phone {
    pub store: Store,
    pub transport: Box<dyn Transport>,
    pub dir: tempfile::TempDir,
}

impl Phone {
    pub fn enrol(server: &TestServer, storage: &dyn Storage, member: &ServerMember) -> Phone {
        Self::enrol_with(Box::new(HttpTransport::new(&server.url)), storage, member)
    }

    pub fn enrol_with(transport: Box<dyn Transport>, storage: &dyn Storage, member: &ServerMember) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("phone.db"), Encryption::Key(StoreKey::new([9; 32]))).unwrap();
        let code = admin::issue_code(storage, &member.id, 1).unwrap();
        store.enrol(transport.as_ref(), &code, "testtoestel").unwrap();
        Phone { store, transport, dir }
    }

    pub fn sync(&self) -> Result<sync::engine::SyncOutcome> {
        self.store.sync(self.transport.as_ref(), &AtomicBool::new(false))
    }
}

/// A moment `mins` minutes after a fixed evening in the past.
pub fn at(mins: i64) -> Moment {
    Moment { utc_ms: 1_795_539_600_000 + mins * 60_000, offset_s: 3600 }
}

pub fn location(lat: f64, lon: f64) -> Location {
    Location { lat, lon, accuracy_m: 8.0, fix_ms: at(0).utc_ms, source: LocationSource::Gps }
}

pub fn new_walk(mins: i64) -> NewWalk {
    NewWalk { participants: vec![], purpose: "Avondronde".into(), focus: vec![], started: at(mins) }
}

pub fn observation(note: &str) -> RecordBody {
    RecordBody::Observation(Observation { themes: vec!["obs.vacancy".into()], tone: Tone::Concern, note: note.into() })
}

pub fn conversation(gist: &str) -> RecordBody {
    RecordBody::Conversation(Conversation {
        roles: vec!["role.resident".into()],
        people: 1,
        duration_min: 10,
        gist: gist.into(),
        mood: Mood::Open,
        trust: Trust::Medium,
        agreements: String::new(),
        immediate_help: false,
    })
}

pub fn signal(description: &str, category: &str) -> RecordBody {
    RecordBody::Signal(Signal {
        category: category.into(),
        severity: Severity::High,
        description: description.into(),
        at_known_place: false,
        follow_up: String::new(),
        suggested_referral: None,
    })
}

/// A record of kind `kind` (0 observation, 1 signal — sensitive or not —, 2 conversation)
/// whose content depends on `text`, for the property tests.
pub fn random_body(kind: u8, text: u16) -> RecordBody {
    match kind {
        0 => observation(&format!("waarneming {text}")),
        1 => signal(&format!("signaal {text}"), if text % 2 == 0 { "sig.stash_house" } else { "sig.other" }),
        _ => RecordBody::Conversation(Conversation {
            roles: vec!["role.resident".into()],
            people: 1 + (text % 5) as u8,
            duration_min: text % 90,
            gist: format!("gesprek {text}"),
            mood: Mood::Open,
            trust: Trust::Medium,
            agreements: String::new(),
            immediate_help: text % 3 == 0,
        }),
    }
}

/// Every live record and walk a phone holds, as (id, content) for comparison.
pub fn snapshot(store: &Store) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(500);
    loop {
        let p = store.latest_records(&page).unwrap();
        for r in &p.items {
            out.push((
                r.id.to_string(),
                serde_json::to_string(&(&r.body, &r.location, &r.review, r.reviewed_ms)).unwrap(),
            ));
        }
        match p.next {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    out.sort();
    out
}
