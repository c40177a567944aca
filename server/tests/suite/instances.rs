//! Several server processes on one PostgreSQL behind a round-robin balancer, as a region that
//! outgrows one machine runs them (docs/deployment.md): every request of every phone goes to
//! the next instance, so one phone's push lands on one process and its retry or its next pull
//! on another, while other phones push through the third. Checked as in the convergence and
//! exactly-once suites: nothing lost, nothing twice, every replica equal to the team's state —
//! and no feed cursor skips a change another instance committed late.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::sync::{HttpResponse, Transport, TransportError};
use wijkverkenner_core::*;

const BIN: &str = env!("CARGO_BIN_EXE_wijkverkenner-server");

/// Kills its process when dropped.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `n` server processes, each with its own data directory, sharing the database, its CA and
/// one secret file (sealed rows and enrolment codes need the same key), behind a balancer.
struct Region {
    processes: Vec<Process>,
    /// Requests (connections) each instance was given.
    served: Arc<Vec<AtomicUsize>>,
    /// The balancer's address, and each instance's own.
    url: String,
    instances: Vec<String>,
    database: String,
    ca: Option<PathBuf>,
    secret: PathBuf,
    dir: tempfile::TempDir,
}

impl Region {
    fn start(n: usize) -> Region {
        let dir = tempfile::tempdir().unwrap();
        let database = by_name(&postgres_database());
        let ca = std::env::var_os("WV_TEST_DATABASE_CA").map(PathBuf::from);
        let secret = dir.path().join("server.secret");
        let mut region = Region {
            processes: Vec::new(),
            served: Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect()),
            url: String::new(),
            instances: Vec::new(),
            database,
            ca,
            secret,
            dir,
        };
        let mut backends = Vec::new();
        for i in 0..n {
            // One after the other: the first start of the database makes the secret (the
            // schema itself is safe to set up from several at once: an advisory lock).
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = std::fs::File::create(region.dir.path().join(format!("server{i}.log"))).unwrap();
            let child = region
                .command(i)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap();
            region.processes.push(Process(child));
            let url = format!("http://127.0.0.1:{port}");
            wait_for(&url);
            let health = ureq::get(format!("{url}/health")).call().unwrap().body_mut().read_to_string().unwrap();
            assert!(health.contains("\"storage\":\"postgres\""), "{health}");
            backends.push(format!("127.0.0.1:{port}"));
            region.instances.push(url);
        }
        region.url = balancer(backends, region.served.clone());
        region
    }

    fn command(&self, instance: usize) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data").arg(self.dir.path().join(format!("data{instance}")));
        c.arg("--database-url").arg(&self.database).arg("--secret-file").arg(&self.secret);
        if let Some(ca) = &self.ca {
            c.arg("--database-ca").arg(ca);
        }
        c
    }

    /// The administrator's command line, on instance 0's machine.
    fn admin(&self, args: &[&str]) -> String {
        let out = self.command(0).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A phone of `member`, enrolled through the balancer.
    fn phone(&self, member: &str) -> RegionPhone {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("phone.db"), Encryption::Key(StoreKey::new([5; 32]))).unwrap();
        let transport = Balanced { url: self.url.clone(), lose_next_answer: AtomicBool::new(false) };
        let code = self.admin(&["enrol-code", "--member", member]);
        store.enrol(&transport, &code, "regiotoestel").unwrap();
        RegionPhone { store, transport, _dir: dir }
    }
}

fn wait_for(url: &str) {
    for _ in 0..200 {
        if ureq::get(format!("{url}/health")).call().is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("a server instance did not come up");
}

/// A round-robin TCP balancer on loopback: each connection goes to the next instance.
fn balancer(backends: Vec<String>, served: Arc<Vec<AtomicUsize>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let next = AtomicUsize::new(0);
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let i = next.fetch_add(1, Ordering::Relaxed) % backends.len();
            served[i].fetch_add(1, Ordering::Relaxed);
            let Ok(server) = TcpStream::connect(&backends[i]) else { continue };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    url
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// A fresh connection per request, so the balancer spreads one phone's requests over the
/// instances; it can lose the answer of its next request (the request itself arrived).
struct Balanced {
    url: String,
    lose_next_answer: AtomicBool,
}

impl Transport for Balanced {
    fn post(&self, path: &str, credential: Option<&str>, body: Vec<u8>) -> Result<HttpResponse, TransportError> {
        let answer = HttpTransport::new(&self.url).post(path, credential, body)?;
        if self.lose_next_answer.swap(false, Ordering::SeqCst) {
            return Err(TransportError("connection reset (lost on purpose)".into()));
        }
        Ok(answer)
    }
}

struct RegionPhone {
    store: Store,
    transport: Balanced,
    _dir: tempfile::TempDir,
}

impl RegionPhone {
    fn sync(&self) -> Result<sync::engine::SyncOutcome> {
        self.store.sync(&self.transport, &AtomicBool::new(false))
    }

    /// A sync straight to one instance, past the balancer.
    fn sync_at(&self, instance: &str, lose_answer: bool) -> Result<sync::engine::SyncOutcome> {
        let t = Balanced { url: instance.to_string(), lose_next_answer: AtomicBool::new(lose_answer) };
        self.store.sync(&t, &AtomicBool::new(false))
    }

    /// Every record this phone holds, by id: body and review.
    fn view(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut page = PageRequest::first(500);
        loop {
            let p = self.store.latest_records(&page).unwrap();
            for r in &p.items {
                out.insert(r.id.to_string(), serde_json::to_string(&(&r.body, &r.review)).unwrap());
            }
            match p.next {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        out
    }
}

#[test]
fn three_instances_behind_a_round_robin_lose_nothing_and_duplicate_nothing() {
    let region = Region::start(3);
    let team = region.admin(&["team-create", "Regio Utrecht"]);
    let member = |name: &str, role: &str| {
        region.admin(&["member-add", "--team", &team, "--name", name, "--role", role, "--organisation", "Buurtteam"])
    };
    let workers: Vec<String> = (0..5).map(|i| member(&format!("Veldwerker {i}"), "field_worker")).collect();
    let lead = member("Teamleider", "lead");
    let phones: Vec<RegionPhone> = workers.iter().map(|m| region.phone(m)).collect();
    let lead_phone = region.phone(&lead);
    let region = &region;

    // Five phones at once, eight rounds each: new records (an observation, a conversation, and
    // a signal — every third one sensitive, so sealed by whichever instance stores it), an edit
    // of an earlier one, then a sync through whichever instance is next. A phone loses the
    // answer of one push on purpose: its retry reaches another instance.
    let created: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = phones
            .iter()
            .enumerate()
            .map(|(p, phone)| {
                s.spawn(move || {
                    let walk = phone.store.start_walk(new_walk(p as i64)).unwrap();
                    let mut mine: Vec<RecordId> = Vec::new();
                    for round in 0..8 {
                        for (k, body) in [
                            observation(&format!("Waarneming {p}.{round}")),
                            conversation(&format!("Gesprek {p}.{round}")),
                            signal(
                                &format!("Signaal {p}.{round}"),
                                if round % 3 == 0 { "sig.youth_recruitment" } else { "sig.other" },
                            ),
                        ]
                        .into_iter()
                        .enumerate()
                        {
                            let r = phone
                                .store
                                .add_record(NewRecord {
                                    walk_id: walk.id,
                                    body,
                                    created: at(round * 3 + k as i64),
                                    location: Some(location(52.09 + p as f64 * 0.001, 5.11)),
                                })
                                .unwrap();
                            mine.push(r.id);
                        }
                        // The observation of an earlier round: rounds 6 and 7 edit the same one.
                        let earlier = mine[3 * (round as usize / 2)];
                        let r = phone.store.record(&earlier).unwrap();
                        if let RecordBody::Observation(o) = &r.body {
                            let body = RecordBody::Observation(Observation {
                                note: format!("{} (bijgewerkt in ronde {round})", o.note),
                                ..o.clone()
                            });
                            phone.store.edit_record(&earlier, body, None).unwrap();
                        }
                        if p == 2 && round == 4 {
                            // Pushed to the first instance, its answer lost; the retry goes to
                            // the second, which must find the push applied, not apply it again.
                            assert!(phone.sync_at(&region.instances[0], true).is_err(), "a lost answer fails the sync");
                            assert!(phone.store.pending_count().unwrap() > 0, "unacknowledged until the retry");
                            phone.sync_at(&region.instances[1], false).unwrap();
                            assert_eq!(phone.store.pending_count().unwrap(), 0);
                        }
                        phone.sync().unwrap();
                    }
                    mine.into_iter().map(|id| id.to_string()).collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: BTreeSet<String> = created.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 5 * 8 * 3);

    // Two more rounds carry every change to every phone.
    for _ in 0..2 {
        for p in phones.iter().chain([&lead_phone]) {
            p.sync().unwrap();
        }
    }
    for p in phones.iter().chain([&lead_phone]) {
        assert_eq!(p.store.pending_count().unwrap(), 0);
    }
    // Every instance served part of it.
    let served: Vec<usize> = region.served.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert!(served.iter().all(|&n| n > 10), "requests per instance: {served:?}");

    // The lead's phone holds exactly the team's records: none lost, none twice (a retried push
    // applied once), the sensitive ones unsealed by whichever instance serves them.
    let lead_view = region_check_lead(&lead_phone, &all);
    // A phone that enrols now, reading the whole feed through all three instances, holds the same.
    let fresh = region.phone(&lead);
    fresh.sync().unwrap();
    assert_eq!(fresh.view(), lead_view, "a fresh lead phone differs from the lead's");
    // Every field worker's phone equals the lead's, less the sensitive signals of others —
    // a feed cursor that skipped a change committed late by another instance would show here.
    for (p, phone) in phones.iter().enumerate() {
        let mine: BTreeSet<&String> = created[p].iter().collect();
        let expected: BTreeMap<String, String> = lead_view
            .iter()
            .filter(|(id, doc)| mine.contains(id) || !doc.contains("sig.youth_recruitment"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let seen = phone.view();
        assert_eq!(seen.len(), expected.len(), "phone {p}: records missing or extra");
        for (id, doc) in &expected {
            assert_eq!(seen.get(id), Some(doc), "phone {p}, record {id}");
        }
    }
    // On the server itself, read from the database: exactly the 120 records and the five walks,
    // each once, none deleted — a push applied twice or lost would show in the counts.
    let mut db = postgres::Client::connect(&region.database.replacen("@localhost:", "@127.0.0.1:", 1), postgres::NoTls)
        .expect("the test database");
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE kind <> 'walk'), count(*) FILTER (WHERE kind = 'walk'),
                    count(DISTINCT id), count(*) FILTER (WHERE doc LIKE '%\"deleted\":true%')
             FROM entities WHERE team_id = $1",
            &[&team],
        )
        .unwrap();
    let (records, walks, distinct, deleted): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((records, walks, distinct, deleted), (120, 5, 125, 0));
    // The last edits won everywhere.
    assert!(lead_view.values().any(|d| d.contains("bijgewerkt in ronde 7")));
}

fn region_check_lead(lead: &RegionPhone, all: &BTreeSet<String>) -> BTreeMap<String, String> {
    let view = lead.view();
    let ids: BTreeSet<String> = view.keys().cloned().collect();
    assert_eq!(&ids, all, "the lead's phone misses records or holds others");
    let sensitive = view.values().filter(|d| d.contains("sig.youth_recruitment")).count();
    assert_eq!(sensitive, 5 * 3, "every sensitive signal reached the lead");
    view
}
