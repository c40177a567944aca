//! Sync benchmarks, each with its peer or limit measured in the same run:
//!
//! 1. initial sync of 10,000 and 100,000 records to a fresh phone over loopback HTTP:
//!    records/s and bytes on the wire, against PouchDB replicating the same records from
//!    pouchdb-server (at the best of `batch_size` 1,000, 2,000 and 5,000), the zstd-19 size of
//!    the same records as NDJSON (the compression limit a generic codec reaches; zstd-3 too),
//!    and the store's own insert limit: the phone's 22-column rows, inserted raw with multi-row
//!    statements in one transaction into the same encrypted schema with the same indexes;
//! 2. incremental: 500 new records and edits of 10 records synced long before, on top of
//!    100,000, with the zstd-19 size of what was pushed; and a no-op sync;
//! 3. load: 200 phones syncing at once against one server, on SQLite and on PostgreSQL.
//!
//! `bash scripts/bench.sh` (it installs the npm peers and starts PostgreSQL).

/// The allocator the phone library and the server ship with (docs/adr/0005).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::sync::Entity;
use wijkverkenner_core::*;
use wijkverkenner_server::storage::{Member, Role};
use wijkverkenner_server::testing::TestServer;
use wijkverkenner_server::{admin, Storage};

/// A loopback TCP proxy that counts every byte in both directions (headers included).
struct Counter {
    addr: SocketAddr,
    bytes: Arc<AtomicU64>,
}

impl Counter {
    fn start(upstream: SocketAddr) -> Counter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let bytes = Arc::new(AtomicU64::new(0));
        let b = bytes.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                // A counter must not add Nagle's delays of its own: forward each read at once.
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    let b = b.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 65536];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            b.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Counter { addr, bytes }
    }

    fn take(&self) -> u64 {
        self.bytes.swap(0, Ordering::SeqCst)
    }
}

fn enrol(storage: &dyn Storage, url: &str, member: &Member, dir: &Path) -> Store {
    let store =
        Store::open(dir.join(format!("{}.db", uuid::Uuid::now_v7())), Encryption::Key(StoreKey::new([5; 32]))).unwrap();
    let code = admin::issue_code(storage, &member.id, 1).unwrap();
    store.enrol(&HttpTransport::new(url), &code, "bench").unwrap();
    store
}

fn record(walk: WalkId, i: usize, t0: i64) -> NewRecord {
    let a = (i as f64 * 0.618_033_988_7).fract();
    let b = (i as f64 * 0.414_213_562_3).fract();
    NewRecord {
        walk_id: walk,
        body: RecordBody::Observation(Observation {
            themes: vec![["obs.vacancy", "obs.litter", "obs.youth_groups", "obs.lighting"][i % 4].into()],
            tone: [Tone::Concern, Tone::Neutral, Tone::Positive][i % 3],
            note: format!(
                "Waarneming {i}: rolluik half open, geen klanten, veel aanloop via de achterkant ({})",
                i % 97
            ),
        }),
        created: Moment { utc_ms: t0 + i as i64 * 1000, offset_s: 3600 },
        location: Some(Location {
            lat: 52.06 + a * 0.07,
            lon: 5.05 + b * 0.12,
            accuracy_m: 5.0 + (i % 20) as f64,
            fix_ms: t0 + i as i64 * 1000,
            source: LocationSource::Gps,
        }),
    }
}

fn sync(store: &Store, url: &str) -> sync::engine::SyncOutcome {
    store.sync(&HttpTransport::new(url), &AtomicBool::new(false)).unwrap()
}

struct Initial {
    n: usize,
    ours_rate: f64,
    ours_bytes: u64,
    round_trips: u32,
    zstd_bytes: usize,
    zstd19_bytes: usize,
    raw_rate: f64,
    pouch: Option<(f64, u64)>,
}

/// zstd level 19 of `bytes`: what a strong generic compressor makes of the same data.
fn zstd19(bytes: &[u8]) -> usize {
    zstd::bulk::compress(bytes, 19).unwrap().len()
}

/// What the bytes goal (≤ 1.1× zstd-19 of the whole NDJSON) would take: the same records in
/// the pull's pages of 5,000, compressed page by page (as the protocol does: each answer is
/// its own frame) at several levels, with and without a dictionary trained on other records
/// of the same kind (a team's own data, as a dictionary shipped with the protocol would be).
fn codec_options(ndjson: &str) {
    let lines: Vec<&str> = ndjson.lines().collect();
    let whole = zstd19(ndjson.as_bytes());
    // Trained on the first 10,000, measured on the other 90,000 (pages the dictionary never saw).
    let training: Vec<&[u8]> = lines[..10_000].iter().map(|l| l.as_bytes()).collect();
    let dict = zstd::dict::from_samples(&training, 110 * 1024).unwrap();
    let rest = &lines[10_000..];
    let rest_whole = zstd19(rest.join("\n").as_bytes());
    println!();
    println!("| the 90,000 records not trained on, in pages of 5,000 (`[`…`]`) | bytes | vs zstd-19 of them as one NDJSON stream ({rest_whole}) | compress time |");
    println!("| --- | --- | --- | --- |");
    for (level, with_dict) in
        [(3, false), (9, false), (12, false), (15, false), (19, false), (3, true), (9, true), (19, true)]
    {
        let start = Instant::now();
        let mut total = 0usize;
        for page in rest.chunks(5_000) {
            let json = format!("[{}]", page.join(","));
            total += if with_dict {
                zstd::bulk::Compressor::with_dictionary(level, &dict).unwrap().compress(json.as_bytes()).unwrap().len()
            } else {
                zstd::bulk::compress(json.as_bytes(), level).unwrap().len()
            };
        }
        println!(
            "| level {level}{} | {total} | {:.2}× | {:.0} ms |",
            if with_dict { ", dictionary of 110 KiB" } else { "" },
            total as f64 / rest_whole as f64,
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    eprintln!("(the whole 100,000 as one zstd-19 NDJSON stream: {whole} bytes)");
}

/// The store's own insert limit: the rows `phone` holds (records and walks, every column as
/// stored), inserted raw into a fresh store file — same encrypted schema, same indexes — with
/// multi-row `INSERT`s in one transaction. Returns records/s.
fn raw_insert_limit(phone: &Path, dir: &Path) -> f64 {
    let key = |c: &rusqlite::Connection| {
        let hex: String = [5u8; 32].iter().map(|b| format!("{b:02x}")).collect();
        c.execute_batch(&format!("PRAGMA key = \"x'{hex}'\"; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"))
            .unwrap();
    };
    let source = rusqlite::Connection::open(phone).unwrap();
    key(&source);
    let rows = |table: &str| -> (usize, Vec<Vec<rusqlite::types::Value>>) {
        let mut st = source.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let cols = st.column_count();
        let rows = st
            .query_map([], |r| (0..cols).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (cols, rows)
    };
    let (walk_cols, walks) = rows("walks");
    let (cols, records) = rows("records");
    // A fresh store: its schema, indexes and triggers, no records yet.
    let target = dir.join(format!("raw-{}.db", uuid::Uuid::now_v7()));
    drop(Store::open(&target, Encryption::Key(StoreKey::new([5; 32]))).unwrap());
    let conn = rusqlite::Connection::open(&target).unwrap();
    key(&conn);
    conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    let insert = |tx: &rusqlite::Transaction, table: &str, cols: usize, rows: &[Vec<rusqlite::types::Value>]| {
        let per = (32_000 / cols).min(200);
        for chunk in rows.chunks(per) {
            let one = format!("({})", vec!["?"; cols].join(","));
            let sql = format!("INSERT INTO {table} VALUES {}", vec![one; chunk.len()].join(","));
            let mut st = tx.prepare_cached(&sql).unwrap();
            st.execute(rusqlite::params_from_iter(chunk.iter().flatten())).unwrap();
        }
    };
    let tx = conn.unchecked_transaction().unwrap();
    insert(&tx, "walks", walk_cols, &walks);
    tx.commit().unwrap();
    let start = Instant::now();
    let tx = conn.unchecked_transaction().unwrap();
    insert(&tx, "records", cols, &records);
    tx.commit().unwrap();
    let rate = records.len() as f64 / start.elapsed().as_secs_f64();
    eprintln!("raw insert limit: {} records of {cols} columns", records.len());
    rate
}

/// PouchDB's replication rate at its best `batch_size`, and that size.
fn pouchdb(ndjson: &Path, work: &Path) -> Option<(f64, u64)> {
    let dir = std::env::var("WV_POUCHDB_DIR").ok()?;
    let port = 25000 + (std::process::id() % 5000) as u16;
    let mut server = std::process::Command::new(format!("{dir}/node_modules/.bin/pouchdb-server"))
        .args(["--port", &port.to_string(), "--dir", &work.join("pouch-server").to_string_lossy(), "--no-stdout-logs"])
        .current_dir(work) // it writes log.txt where it runs
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    std::fs::create_dir_all(work.join("pouch-server")).ok()?;
    let url = format!("http://127.0.0.1:{port}/bench");
    let mut ready = false;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = ready.then(|| {
        std::process::Command::new("node")
            .arg(format!("{dir}/replicate.js"))
            .args([
                &url,
                &ndjson.to_string_lossy().into_owned(),
                &work.join("pouch-local").to_string_lossy().into_owned(),
            ])
            .output()
    });
    let _ = server.kill();
    let _ = server.wait();
    let out = out?.ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let docs = v["docs"].as_f64()?;
    Some((docs / v["seconds"].as_f64()?, v["batch_size"].as_u64()?))
}

/// What the incremental benchmark continues with: the server, both phones, the counting proxy.
type Setup = (tempfile::TempDir, TestServer, Store, Store, Arc<dyn Storage>, Counter);

fn initial_sync(n: usize, keep: Option<&mut Option<Setup>>) -> Initial {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> =
        Arc::new(wijkverkenner_server::storage::sqlite::SqliteStorage::open(&dir.path().join("server")).unwrap());
    // Phone A records the whole team's history at once, far beyond what a person pushes in an
    // hour: the push budget (ClientLimits::push_per_hour) is lifted for it.
    let limits = wijkverkenner_server::ClientLimits { push_per_hour: (u64::MAX, u64::MAX), ..Default::default() };
    let server = TestServer::start_with(storage.clone(), "127.0.0.1:0".parse().unwrap(), limits);
    let counter = Counter::start(server.addr);
    let via = format!("http://{}", counter.addr);
    let team = admin::create_team(storage.as_ref(), "Bench").unwrap();
    let a_member = admin::add_member(storage.as_ref(), &team.id, "A", Role::FieldWorker, "X").unwrap();
    let b_member = admin::add_member(storage.as_ref(), &team.id, "B", Role::FieldWorker, "X").unwrap();
    let a = enrol(storage.as_ref(), &server.url, &a_member, dir.path());
    let t0 = chrono::Utc::now().timestamp_millis() - 30 * 86_400_000;
    let walk = a
        .start_walk(NewWalk {
            participants: vec![],
            purpose: "bench".into(),
            focus: vec![],
            started: Moment { utc_ms: t0, offset_s: 3600 },
        })
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let batch: Vec<NewRecord> = chunk.iter().map(|&i| record(walk.id, i, t0)).collect();
        a.add_records(&batch).unwrap();
    }
    // The same records, as the peers and limits get them.
    let entities: Vec<Entity> = a.pending_changes(n + 10).unwrap();
    let ndjson: String = entities.iter().map(|e| serde_json::to_string(e).unwrap() + "\n").collect();
    let zstd_bytes = zstd::bulk::compress(ndjson.as_bytes(), 3).unwrap().len();
    let zstd19_bytes = zstd19(ndjson.as_bytes());
    if n == 100_000 {
        codec_options(&ndjson);
    }
    let ndjson_path = dir.path().join("records.ndjson");
    std::fs::write(&ndjson_path, &ndjson).unwrap();

    sync(&a, &server.url);
    // Five fresh phones in turn; the median counts (the machine is shared and noisy).
    let mut runs = Vec::new();
    let (mut b, mut ours_bytes, mut out) = (None, 0, Default::default());
    for _ in 0..5 {
        let phone = enrol(storage.as_ref(), &server.url, &b_member, dir.path());
        counter.take();
        let start = Instant::now();
        out = sync(&phone, &via);
        runs.push(start.elapsed().as_secs_f64());
        ours_bytes = counter.take();
        assert_eq!(phone.record_counts().unwrap().0 as usize, n);
        b = Some(phone);
    }
    let b: Store = b.unwrap();
    runs.sort_by(f64::total_cmp);
    let secs = runs[2];
    // The limit on the rows the last phone holds, three times; the best counts.
    let phone_file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "db") && !p.file_name().unwrap().to_string_lossy().starts_with("raw")
        })
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    let raw_rate = (0..3).map(|_| raw_insert_limit(&phone_file, dir.path())).fold(0.0, f64::max);
    let pouch = pouchdb(&ndjson_path, dir.path());
    let result = Initial {
        n,
        ours_rate: entities.len() as f64 / secs,
        ours_bytes,
        round_trips: out.round_trips,
        zstd_bytes,
        zstd19_bytes,
        raw_rate,
        pouch,
    };
    if let Some(k) = keep {
        *k = Some((dir, server, a, b, storage, counter));
    }
    result
}

fn quantile(xs: &mut [Duration], q: f64) -> Duration {
    xs.sort();
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// 200 phones, 10 new records each, all syncing at once; then all again (pulling the others').
fn load(storage: Arc<dyn Storage>, phones: usize) -> [(Duration, Duration, usize); 2] {
    let dir = tempfile::tempdir().unwrap();
    // 200 phones from one address: the per-address connection cap (32, against one abuser)
    // would close most of them; a real burst comes from 200 addresses.
    let limits = wijkverkenner_server::ClientLimits { max_connections_per_address: usize::MAX, ..Default::default() };
    let server = TestServer::start_with(storage.clone(), "127.0.0.1:0".parse().unwrap(), limits);
    let team = admin::create_team(storage.as_ref(), "Load").unwrap();
    let t0 = chrono::Utc::now().timestamp_millis() - 86_400_000;
    let stores: Vec<Store> = (0..phones)
        .map(|i| {
            let m = admin::add_member(storage.as_ref(), &team.id, &format!("P{i}"), Role::FieldWorker, "X").unwrap();
            let s = enrol(storage.as_ref(), &server.url, &m, dir.path());
            let w = s
                .start_walk(NewWalk {
                    participants: vec![],
                    purpose: String::new(),
                    focus: vec![],
                    started: Moment { utc_ms: t0, offset_s: 0 },
                })
                .unwrap();
            let batch: Vec<NewRecord> = (0..10).map(|k| record(w.id, i * 10 + k, t0)).collect();
            s.add_records(&batch).unwrap();
            s
        })
        .collect();
    let mut out = [(Duration::ZERO, Duration::ZERO, 0); 2];
    for round in out.iter_mut() {
        let barrier = Arc::new(Barrier::new(phones));
        let results: Vec<(Duration, bool)> = std::thread::scope(|scope| {
            let handles: Vec<_> = stores
                .iter()
                .map(|s| {
                    let (b, url) = (barrier.clone(), server.url.clone());
                    scope.spawn(move || {
                        let transport = HttpTransport::new(&url);
                        b.wait();
                        let start = Instant::now();
                        let ok = s.sync(&transport, &AtomicBool::new(false)).is_ok();
                        (start.elapsed(), ok)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let errors = results.iter().filter(|(_, ok)| !ok).count();
        let mut lat: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
        *round = (quantile(&mut lat, 0.5), quantile(&mut lat, 0.99), errors);
    }
    out
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "machine: {} cores, {cpu}; date {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!();
    println!("| initial sync | ours (records/s, bytes on the wire, round trips) | PouchDB replication, best batch_size | zstd-19 (zstd-3) of the NDJSON | the store's insert limit (raw, same rows and schema) | goals |");
    println!("| --- | --- | --- | --- | --- | --- |");
    // WV_BENCH_ONLY=load: the load test alone, with WV_LOAD_PHONES phones (default 200).
    if std::env::var("WV_BENCH_ONLY").is_ok_and(|v| v == "load") {
        let phones = std::env::var("WV_LOAD_PHONES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(wijkverkenner_server::storage::sqlite::SqliteStorage::open(dir.path()).unwrap());
        for (i, (p50, p99, errors)) in load(storage, phones).into_iter().enumerate() {
            println!("| SQLite, {phones} phones, sync {} | {:.0} ms | {:.0} ms | {errors} |", i + 1, ms(p50), ms(p99));
        }
        return;
    }
    let mut kept = None;
    // WV_BENCH_QUICK=1: only the 100,000-record initial sync (for profiling); =10000: only that.
    let quick_n = std::env::var("WV_BENCH_QUICK").ok().map(|v| v.parse::<usize>().unwrap_or(100_000).max(10_000));
    let quick = quick_n.is_some();
    for n in [10_000, 100_000] {
        if quick_n.is_some_and(|q| q != n) {
            continue;
        }
        let r = initial_sync(n, if n == 100_000 { Some(&mut kept) } else { None });
        let pouch = r
            .pouch
            .map(|(p, size)| format!("{p:.0} rec/s at {size} (ours {:.1}×)", r.ours_rate / p))
            .unwrap_or_else(|| "not run (set WV_POUCHDB_DIR)".into());
        println!(
            "| {} records | {:.0} rec/s, {} bytes, {} round trips | {pouch} | {} ({}) bytes: ours {:.2}× ({:.2}×) | {:.0} rec/s: ours {:.2}× | ≥ 10× PouchDB; ≤ 1.1× zstd-19; ≥ 0.8× the limit |",
            r.n, r.ours_rate, r.ours_bytes, r.round_trips, r.zstd19_bytes, r.zstd_bytes,
            r.ours_bytes as f64 / r.zstd19_bytes as f64, r.ours_bytes as f64 / r.zstd_bytes as f64,
            r.raw_rate, r.ours_rate / r.raw_rate
        );
    }

    if quick {
        return;
    }
    // Incremental, on top of the 100,000.
    let (_dir, server, a, b, _storage, counter) = kept.unwrap();
    let via = format!("http://{}", counter.addr);
    let walk = a.active_walk().unwrap().unwrap();
    let t0 = chrono::Utc::now().timestamp_millis() - 30 * 86_400_000;
    let batch: Vec<NewRecord> = (0..500).map(|i| record(walk.id, 200_000 + i, t0)).collect();
    a.add_records(&batch).unwrap();
    // Ten records synced a month ago (the walk's first), not ten of the new ones.
    let some: Vec<Record> = a.walk_timeline(&walk.id, &PageRequest::first(10)).unwrap().items;
    assert!(some.iter().all(|r| !batch.iter().any(|n| n.created == r.created)), "edits of synced records");
    for r in &some {
        let RecordBody::Observation(o) = &r.body else { continue };
        a.edit_record(
            &r.id,
            RecordBody::Observation(Observation { note: format!("{} (bewerkt)", o.note), ..o.clone() }),
            None,
        )
        .unwrap();
    }
    let pushed: String =
        a.pending_changes(1000).unwrap().iter().map(|e| serde_json::to_string(e).unwrap() + "\n").collect();
    let pushed_zstd19 = zstd19(pushed.as_bytes());
    counter.take();
    let start = Instant::now();
    let up = sync(&a, &via);
    let (up_t, up_b) = (start.elapsed(), counter.take());
    let start = Instant::now();
    let down = sync(&b, &via);
    let (down_t, down_b) = (start.elapsed(), counter.take());
    let start = Instant::now();
    let idle = sync(&b, &via);
    let (idle_t, idle_b) = (start.elapsed(), counter.take());
    println!();
    println!("| incremental on 100,000 records | time | bytes on the wire | round trips | goal |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| push 500 new + edits of 10 synced before | {:.1} ms | {up_b} (zstd-19 of the pushed NDJSON: {pushed_zstd19}, ours {:.2}×) | {} | ≤ 1.1× zstd-19 |",
        ms(up_t), up_b as f64 / pushed_zstd19 as f64, up.round_trips
    );
    println!("| pull them on another phone | {:.1} ms | {down_b} | {} | — |", ms(down_t), down.round_trips);
    println!("| no-op sync | {:.1} ms | {idle_b} | {} | 1 round trip, < 1 KB |", ms(idle_t), idle.round_trips);
    drop(server);

    println!();
    println!("| load: 200 phones at once, 10 records each | p50 | p99 | errors |");
    println!("| --- | --- | --- | --- |");
    let sqlite_dir = tempfile::tempdir().unwrap();
    let backends: Vec<(&str, Arc<dyn Storage>)> = {
        let mut v: Vec<(&str, Arc<dyn Storage>)> = vec![(
            "SQLite",
            Arc::new(wijkverkenner_server::storage::sqlite::SqliteStorage::open(sqlite_dir.path()).unwrap()),
        )];
        match std::env::var("WV_TEST_DATABASE_URL") {
            Ok(url) => v.push((
                "PostgreSQL",
                Arc::new(wijkverkenner_server::storage::postgres::PostgresStorage::open(&url).unwrap()),
            )),
            Err(_) => println!("| PostgreSQL | not run: set WV_TEST_DATABASE_URL | | |"),
        }
        v
    };
    for (name, storage) in backends {
        let [push, pull] = load(storage, 200);
        println!(
            "| {name}, first sync (push 10, pull what is there) | {:.0} ms | {:.0} ms | {} |",
            ms(push.0),
            ms(push.1),
            push.2
        );
        println!(
            "| {name}, second sync (pull the others' 1,990) | {:.0} ms | {:.0} ms | {} |",
            ms(pull.0),
            ms(pull.1),
            pull.2
        );
    }
}
