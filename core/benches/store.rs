//! Benchmarks of the core, each with its baseline measured in the same run:
//!
//! 1. field day: 520 user actions (each its own transaction) among 28,800 GPS fixes in
//!    10-second batches; p50/p99 per action, encrypted and plaintext, against a raw SQLite
//!    insert of one row per transaction on the same file settings;
//! 2. bulk insert of 100,000 observations against a raw prepared-statement insert of the same
//!    rows (goal: at least half the raw throughput);
//! 3. open + latest 50 records on a store of 1,000,000 records, against a raw open and the
//!    same query (goal: under 20 ms);
//! 4. buurt lookup per point with Utrecht's 111 buurten, against the limit any spatial index
//!    has — the point-in-polygon test of the one buurt that holds the point, known beforehand
//!    — and against testing every polygon (goal: under 5 µs);
//! 5. the report of a walk with 5,000 records (the three kinds) on an open encrypted store,
//!    against reading the same rows with a raw query — the least any report must do (goal:
//!    under 10 ms).
//!
//! 6. durability: the fsyncs one user action costs (counted with strace: the goal is exactly
//!    one), and the field day's p50/p99 against the physical limit of durability on the same
//!    filesystem — one 4 KiB page written in place and `fdatasync`ed (goal: p50 ≤ 2×, p99 ≤ 4×);
//! 7. open + latest 50 cold: the file evicted from the page cache before each open
//!    (`posix_fadvise(DONTNEED)`), against a raw open and the same query, also cold.
//!
//! Files live in `target/` (a disk; `/tmp` may be memory). Run in the phone configuration
//! (`scripts/bench.sh` does: SQLCipher on LibTomCrypt, what ships), or the workspace's.
//! `cargo bench -p wijkverkenner-core` (or `scripts/bench.sh`). Prints a Markdown table.

/// The allocator the phone library ships with (docs/adr/0005), for both sides of each ratio.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use wijkverkenner_core::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");
const KEY: [u8; 32] = [42; 32];

/// A directory on the disk the store would use (not a memory-backed `/tmp`).
fn bench_dir() -> tempfile::TempDir {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-files");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

/// Drops a file's pages from the page cache (the next read comes from the disk).
fn evict(path: &Path) {
    if let Ok(f) = std::fs::File::open(path) {
        f.sync_all().unwrap();
        let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0, "posix_fadvise");
    }
}

fn quantile(xs: &mut [Duration], q: f64) -> Duration {
    xs.sort();
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn identity() -> Identity {
    Identity {
        member: Member {
            id: MemberId::new(),
            display_name: "Bench".into(),
            role: MemberRole::FieldWorker,
            organisation: "Bench".into(),
        },
        device: DeviceId::new(),
    }
}

fn boundaries() -> (String, String) {
    (
        std::fs::read_to_string(format!("{DATA}/buurt.geojson")).unwrap(),
        std::fs::read_to_string(format!("{DATA}/wijk.geojson")).unwrap(),
    )
}

fn encryption(encrypted: bool) -> Encryption {
    if encrypted {
        Encryption::Key(StoreKey::new(KEY))
    } else {
        Encryption::PlaintextForTestsOnly
    }
}

/// A raw connection with the same key and pragmas as the store's.
fn raw(path: &Path, encrypted: bool) -> Connection {
    let c = Connection::open(path).unwrap();
    if encrypted {
        let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
        c.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";")).unwrap();
    }
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )
    .unwrap();
    c
}

fn new_store(path: &Path, encrypted: bool) -> Store {
    let store = Store::open(path, encryption(encrypted)).unwrap();
    store.set_identity(&identity()).unwrap();
    let (b, w) = boundaries();
    store.load_neighbourhoods(&b, Some(&w)).unwrap();
    store
}

/// Yesterday 08:00 UTC, so a day of fixes lies in the past.
fn day_start() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now - now % 86_400_000 - 86_400_000 + 8 * 3_600_000
}

fn observation(i: usize) -> RecordBody {
    RecordBody::Observation(Observation {
        themes: vec!["obs.vacancy".into()],
        tone: Tone::Concern,
        note: format!("Leegstaand winkelpand, rolluik half open, nummer {i}, veel loop achterom"),
    })
}

fn point(i: usize) -> (f64, f64) {
    // A deterministic scatter over Utrecht.
    let a = (i as f64 * 0.618_033_988_7).fract();
    let b = (i as f64 * 0.414_213_562_3).fract();
    (52.06 + a * 0.07, 5.05 + b * 0.12)
}

fn field_day(encrypted: bool) -> (Duration, Duration, Duration, Duration) {
    let dir = bench_dir();
    let store = new_store(&dir.path().join("day.db"), encrypted);
    let t0 = day_start();
    let walk = store
        .start_walk(NewWalk {
            participants: vec![],
            purpose: "Bench".into(),
            focus: vec![],
            started: Moment { utc_ms: t0, offset_s: 3600 },
        })
        .unwrap();
    let mut actions = Vec::with_capacity(520);
    let mut ids = Vec::new();
    // 2,880 batches of 10 fixes (one per second, 8 hours); an action every ~5.5 batches.
    let mut action = 0usize;
    for batch in 0..2880usize {
        let fixes: Vec<Fix> = (0..10)
            .map(|k| {
                let s = (batch * 10 + k) as i64;
                Fix {
                    at_ms: t0 + s * 1000,
                    lat: 52.09 + (s as f64 * 1.2 / 111_195.0).sin() * 0.01,
                    lon: 5.11 + s as f64 * 1e-6,
                    accuracy_m: 6.0,
                    source: LocationSource::Gps,
                }
            })
            .collect();
        store.add_fixes(&walk.id, &fixes).unwrap();
        while action < 520 && action * 2880 / 520 <= batch {
            let now = Moment { utc_ms: t0 + batch as i64 * 10_000 + 5_000, offset_s: 3600 };
            let (lat, lon) = point(action);
            let loc = Location { lat, lon, accuracy_m: 8.0, fix_ms: now.utc_ms, source: LocationSource::Gps };
            let start = Instant::now();
            match action % 13 {
                // Edits and one pause/resume pair among the records.
                5 | 11 if !ids.is_empty() => {
                    store.edit_record(&ids[ids.len() - 1], observation(action + 1_000_000), None).unwrap();
                }
                7 if action == 7 => {
                    store.pause_walk(&walk.id, now).unwrap();
                    store.resume_walk(&walk.id, now.plus_ms(1)).unwrap();
                }
                _ => {
                    let r = store
                        .add_record(NewRecord {
                            walk_id: walk.id,
                            body: observation(action),
                            created: now,
                            location: Some(loc),
                        })
                        .unwrap();
                    ids.push(r.id);
                }
            }
            actions.push(start.elapsed());
            action += 1;
        }
    }
    let end = Moment { utc_ms: t0 + 28_800_000, offset_s: 3600 };
    let start = Instant::now();
    store.end_walk(&walk.id, end).unwrap();
    let end_walk = start.elapsed();
    drop(store);

    // Baseline: the same number of single-row transactions, raw, on the same kind of file.
    let conn = raw(&dir.path().join("day.db"), encrypted);
    let (wid, author) = (walk.id, MemberId::new());
    let mut base = Vec::with_capacity(520);
    for i in 0..520usize {
        let start = Instant::now();
        let tx = conn.unchecked_transaction().unwrap();
        tx.prepare_cached(
            "INSERT INTO records (id, walk_id, kind, author_id, created_ms, created_offset_s, location, lat, lon,
             accuracy_m, fix_ms, source, body, hlc) VALUES (?1, ?2, 'observation', ?5, ?3, 3600, 'fix', 52.1, 5.1, 8.0, ?3, 'gps', ?4, 'h')",
        )
        .unwrap()
        .execute(params![RecordId::new(), wid, t0 + i as i64, serde_json::to_string(&observation(i)).unwrap(), author])
        .unwrap();
        tx.commit().unwrap();
        base.push(start.elapsed());
    }
    let p50 = quantile(&mut actions, 0.5);
    let p99 = quantile(&mut actions, 0.99);
    let b50 = quantile(&mut base, 0.5);
    let _ = end_walk;
    (p50, p99, b50, quantile(&mut base, 0.99))
}

struct Row {
    id: RecordId,
    ms: i64,
    lat: f64,
    lon: f64,
    buurt: Option<String>,
    wijk: Option<String>,
    body: String,
    hlc: String,
}

fn bulk_insert() -> (f64, f64) {
    let dir = bench_dir();
    let store = new_store(&dir.path().join("bulk.db"), true);
    let t0 = day_start();
    let walk = store
        .start_walk(NewWalk {
            participants: vec![],
            purpose: String::new(),
            focus: vec![],
            started: Moment { utc_ms: t0, offset_s: 0 },
        })
        .unwrap();
    let batch: Vec<NewRecord> = (0..100_000)
        .map(|i| {
            let (lat, lon) = point(i);
            NewRecord {
                walk_id: walk.id,
                body: observation(i),
                created: Moment { utc_ms: t0 + i as i64, offset_s: 3600 },
                location: Some(Location {
                    lat,
                    lon,
                    accuracy_m: 8.0,
                    fix_ms: t0 + i as i64,
                    source: LocationSource::Gps,
                }),
            }
        })
        .collect();
    let start = Instant::now();
    store.add_records(&batch).unwrap();
    let ours = 100_000.0 / start.elapsed().as_secs_f64();
    drop(store);

    // Baseline: the same rows, prepared beforehand, one prepared statement, one transaction.
    // The same rows as the store wrote: same ids order, buurt and wijk, clock strings, bodies.
    let (b, w) = boundaries();
    let places = Neighbourhoods::from_geojson(&b, Some(&w)).unwrap();
    let rows: Vec<Row> = batch
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let l = r.location.unwrap();
            let place = places.locate(l.lat, l.lon);
            Row {
                id: RecordId::new(),
                ms: r.created.utc_ms,
                lat: l.lat,
                lon: l.lon,
                buurt: place.map(|p| p.buurt_code.clone()),
                wijk: place.and_then(|p| p.wijk_code.clone()),
                body: serde_json::to_string(&r.body).unwrap(),
                hlc: format!("{:012x}.{:04x}.{:016x}", t0 as u64 + i as u64, 0, 7),
            }
        })
        .collect();
    let raw_path = dir.path().join("raw.db");
    drop(new_store(&raw_path, true));
    let conn = raw(&raw_path, true);
    conn.execute(
        "INSERT INTO walks (id, author_id, status, started_ms, started_offset_s, details, hlc) VALUES (?1, ?2, 'active', 0, 0, '{}', 'h')",
        params![walk.id, MemberId::new()],
    )
    .unwrap();
    let wid = walk.id;
    let start = Instant::now();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut st = tx
            .prepare(
                "INSERT INTO records (id, walk_id, kind, author_id, created_ms, created_offset_s, location, lat, lon,
                 accuracy_m, fix_ms, source, buurt, wijk, sensitive, body, hlc)
                 VALUES (?1, ?2, 'observation', ?3, ?4, 3600, 'fix', ?5, ?6, 8.0, ?4, 'gps', ?7, ?8, 0, ?9, ?10)",
            )
            .unwrap();
        let author = MemberId::new();
        for r in &rows {
            st.execute(params![r.id, wid, author, r.ms, r.lat, r.lon, r.buurt, r.wijk, r.body, r.hlc]).unwrap();
        }
    }
    tx.commit().unwrap();
    let raw_rate = 100_000.0 / start.elapsed().as_secs_f64();
    (ours, raw_rate)
}

/// Warm (median of 21) and cold (median of 11, the files evicted before each open): ours and raw.
fn open_latest() -> ((Duration, Duration), (Duration, Duration), u64) {
    let dir = bench_dir();
    let path = dir.path().join("million.db");
    {
        let store = new_store(&path, true);
        let t0 = day_start() - 300 * 86_400_000;
        for w in 0..10 {
            let walk = store
                .start_walk(NewWalk {
                    participants: vec![],
                    purpose: String::new(),
                    focus: vec![],
                    started: Moment { utc_ms: t0 + w * 86_400_000, offset_s: 0 },
                })
                .unwrap();
            let batch: Vec<NewRecord> = (0..100_000usize)
                .map(|i| {
                    let (lat, lon) = point(i + w as usize * 100_000);
                    let ms = t0 + w * 86_400_000 + i as i64 * 500;
                    NewRecord {
                        walk_id: walk.id,
                        body: observation(i),
                        created: Moment { utc_ms: ms, offset_s: 3600 },
                        location: Some(Location { lat, lon, accuracy_m: 8.0, fix_ms: ms, source: LocationSource::Gps }),
                    }
                })
                .collect();
            store.add_records(&batch).unwrap();
            store.end_walk(&walk.id, Moment { utc_ms: t0 + w * 86_400_000 + 50_000_000, offset_s: 0 }).unwrap();
        }
    }
    let records = {
        let s = Store::open(&path, encryption(true)).unwrap();
        s.record_counts().unwrap().0
    };
    let files = [path.clone(), PathBuf::from(format!("{}-wal", path.display()))];
    let mut result = Vec::new();
    for (cold, runs) in [(false, 21), (true, 11)] {
        let mut ours = Vec::new();
        let mut base = Vec::new();
        for _ in 0..runs {
            if cold {
                files.iter().for_each(|f| evict(f));
            }
            let start = Instant::now();
            let store = Store::open(&path, encryption(true)).unwrap();
            let page = store.latest_records(&PageRequest::first(50)).unwrap();
            assert_eq!(page.items.len(), 50);
            ours.push(start.elapsed());
            drop(store);

            if cold {
                files.iter().for_each(|f| evict(f));
            }
            let start = Instant::now();
            let conn = raw(&path, true);
            let n = conn
                .prepare("SELECT id, body FROM records WHERE deleted = 0 ORDER BY created_ms DESC, id DESC LIMIT 50")
                .unwrap()
                .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?)))
                .unwrap()
                .count();
            assert_eq!(n, 50);
            base.push(start.elapsed());
        }
        result.push((quantile(&mut ours, 0.5), quantile(&mut base, 0.5)));
    }
    (result[0], result[1], records)
}

/// The physical limit of a durable change on this filesystem: one 4 KiB page written in place
/// into a preallocated file and `fdatasync`ed; p50 and p99 of 520.
fn page_write_fsync() -> (Duration, Duration) {
    let dir = bench_dir();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.path().join("pages"))
        .unwrap();
    f.set_len(4 << 20).unwrap();
    f.sync_all().unwrap();
    let page = [0x5au8; 4096];
    let mut times = Vec::with_capacity(520);
    for i in 0..520u64 {
        let start = Instant::now();
        f.write_all_at(&page, (i * 7919 % 1024) * 4096).unwrap();
        f.sync_data().unwrap();
        times.push(start.elapsed());
    }
    (quantile(&mut times, 0.5), quantile(&mut times, 0.99))
}

/// `n` user actions (records added and edited, one transaction each) on a fresh store, for the
/// fsync count (run under strace by [`fsyncs_per_action`]).
fn fsync_probe(n: usize) {
    let dir = bench_dir();
    let store = new_store(&dir.path().join("probe.db"), true);
    let t0 = day_start();
    let walk = store
        .start_walk(NewWalk {
            participants: vec![],
            purpose: String::new(),
            focus: vec![],
            started: Moment { utc_ms: t0, offset_s: 0 },
        })
        .unwrap();
    let mut last = None;
    for i in 0..n {
        let now = Moment { utc_ms: t0 + i as i64 * 1000, offset_s: 3600 };
        match (i % 3, last) {
            (2, Some(id)) => {
                store.edit_record(&id, observation(i), None).unwrap();
            }
            _ => {
                let (lat, lon) = point(i);
                let loc = Location { lat, lon, accuracy_m: 8.0, fix_ms: now.utc_ms, source: LocationSource::Gps };
                last = Some(
                    store
                        .add_record(NewRecord {
                            walk_id: walk.id,
                            body: observation(i),
                            created: now,
                            location: Some(loc),
                        })
                        .unwrap()
                        .id,
                );
            }
        }
    }
}

/// fsync-family calls (fsync, fdatasync, sync_file_range, msync) one user action costs: the
/// probe run under `strace -f -c` with 200 and with 600 actions, the difference per action
/// (the store's opening and set-up cancel out).
fn fsyncs_per_action() -> Option<f64> {
    let count = |n: usize| -> Option<u64> {
        let out = tempfile::NamedTempFile::new().unwrap();
        let status = std::process::Command::new("strace")
            .args(["-f", "-c", "-e", "trace=fsync,fdatasync,sync_file_range,msync", "-o"])
            .arg(out.path())
            .arg(std::env::current_exe().unwrap())
            .arg("--bench")
            .env("WV_BENCH_ONLY", "fsync-probe")
            .env("WV_FSYNC_ACTIONS", n.to_string())
            .status()
            .ok()?;
        assert!(status.success(), "the fsync probe failed");
        let text = std::fs::read_to_string(out.path()).unwrap();
        Some(
            text.lines()
                .filter_map(|l| {
                    let t: Vec<&str> = l.split_whitespace().collect();
                    let name = *t.last()?;
                    (t.len() >= 5 && ["fsync", "fdatasync", "sync_file_range", "msync"].contains(&name))
                        .then(|| t[3].parse::<u64>().ok())
                        .flatten()
                })
                .sum(),
        )
    };
    let (few, many) = (count(200)?, count(600)?);
    Some((many as f64 - few as f64) / 400.0)
}

/// Per point: ours, testing every polygon in turn, and the limit any index has to pay — the
/// point-in-polygon test of the one buurt that holds it, known beforehand (an oracle) — over
/// the points inside a buurt (ns each); and how many of the points are inside one.
fn buurt_lookup() -> (f64, f64, f64, usize) {
    use geo::Intersects;
    let (b, w) = boundaries();
    let n = Neighbourhoods::from_geojson(&b, Some(&w)).unwrap();
    let shapes: Vec<geo::Geometry<f64>> = match b.parse::<geojson::GeoJson>().unwrap() {
        geojson::GeoJson::FeatureCollection(fc) => {
            fc.features.into_iter().map(|f| geo::Geometry::try_from(f.geometry.unwrap()).unwrap()).collect()
        }
        _ => panic!("buurten are a FeatureCollection"),
    };
    let all: Vec<(f64, f64)> = (0..200_000).map(point).collect();
    // The oracle's answers, untimed: which shape holds each point (points in none are left out
    // of all three timings: an index answers those from its boxes alone).
    let inside: Vec<(f64, f64, usize)> = all
        .iter()
        .filter_map(|&(lat, lon)| {
            let p = geo::Point::new(lon, lat);
            shapes.iter().position(|s| s.intersects(&p)).map(|i| (lat, lon, i))
        })
        .collect();
    let per = |start: Instant| start.elapsed().as_secs_f64() * 1e9 / inside.len() as f64;
    let start = Instant::now();
    let hits = inside.iter().filter(|&&(lat, lon, _)| n.locate(lat, lon).is_some()).count();
    let ours = per(start);
    let start = Instant::now();
    let brute_hits = inside.iter().filter(|&&(lat, lon, _)| n.locate_without_index(lat, lon).is_some()).count();
    let brute = per(start);
    let start = Instant::now();
    let oracle_hits = inside.iter().filter(|&&(lat, lon, i)| shapes[i].intersects(&geo::Point::new(lon, lat))).count();
    let oracle = per(start);
    assert_eq!((hits, brute_hits, oracle_hits), (inside.len(), inside.len(), inside.len()));
    (ours, brute, oracle, inside.len())
}

fn walk_report() -> (Duration, Duration, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.db");
    let store = new_store(&path, true);
    let t0 = day_start() - 86_400_000;
    let walk = store
        .start_walk(NewWalk {
            participants: vec![Participant::Guest { role: "wijkagent".into(), lay_person: false }],
            purpose: "Avondronde".into(),
            focus: vec![],
            started: Moment { utc_ms: t0, offset_s: 3600 },
        })
        .unwrap();
    let batch: Vec<NewRecord> = (0..5_000usize)
        .map(|i| {
            let (lat, lon) = point(i);
            let ms = t0 + i as i64 * 1_000;
            let body = match i % 3 {
                0 => observation(i),
                1 => RecordBody::Conversation(Conversation {
                    roles: vec![if i % 2 == 0 { "role.resident" } else { "role.professional" }.into()],
                    people: 2,
                    duration_min: (i % 40) as u16,
                    gist: "Gesprek over de buurt".into(),
                    mood: Mood::Open,
                    trust: Trust::Medium,
                    agreements: "Volgende week terug".into(),
                    immediate_help: i % 5 == 0,
                }),
                _ => RecordBody::Signal(Signal {
                    category: "sig.drug_dealing".into(),
                    severity: Severity::Medium,
                    description: "Signaal".into(),
                    at_known_place: i % 4 == 0,
                    follow_up: String::new(),
                    suggested_referral: None,
                }),
            };
            NewRecord {
                walk_id: walk.id,
                body,
                created: Moment { utc_ms: ms, offset_s: 3600 },
                location: Some(Location { lat, lon, accuracy_m: 8.0, fix_ms: ms, source: LocationSource::Gps }),
            }
        })
        .collect();
    store.add_records(&batch).unwrap();
    store.end_walk(&walk.id, Moment { utc_ms: t0 + 5_000_000, offset_s: 3600 }).unwrap();
    if std::env::var("WV_REPORT_PROFILE").is_ok() {
        // For a profiler: the report alone, many times.
        for _ in 0..300 {
            store.walk_report(&walk.id).unwrap();
        }
    }
    let conn = raw(&path, true);
    let id = walk.id.as_uuid().as_bytes().to_vec();
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    let mut n = 0;
    for _ in 0..21 {
        let start = Instant::now();
        let report = store.walk_report(&walk.id).unwrap();
        ours.push(start.elapsed());
        n = report.timeline.len();

        let start = Instant::now();
        let rows = conn
            .prepare_cached(
                "SELECT id, kind, created_ms, lat, lon, buurt, body, review FROM records
                 WHERE walk_id = ?1 AND deleted = 0 ORDER BY created_ms, id",
            )
            .unwrap()
            .query_map([&id], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .unwrap()
            .count();
        base.push(start.elapsed());
        assert_eq!(rows, 5_000);
    }
    assert_eq!(n, 5_000);
    (quantile(&mut ours, 0.5), quantile(&mut base, 0.5), n)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do a no-op then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // The strace run of `fsyncs_per_action`: the actions alone, no output.
    if std::env::var("WV_BENCH_ONLY").is_ok_and(|v| v == "fsync-probe") {
        fsync_probe(std::env::var("WV_FSYNC_ACTIONS").unwrap().parse().unwrap());
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
    println!("| benchmark | ours | baseline (same run) | ratio | goal |");
    println!("| --- | --- | --- | --- | --- |");
    // `WV_BENCH_ONLY=report` runs the walk report alone; `=durability` the encrypted field day
    // with its limit and fsync count alone.
    let only_report = std::env::var("WV_BENCH_ONLY").is_ok_and(|v| v == "report");
    let only_durability = std::env::var("WV_BENCH_ONLY").is_ok_and(|v| v == "durability");
    for enc in [true, false].into_iter().filter(|&e| !only_report && (e || !only_durability)) {
        let (p50, p99, b50, b99) = field_day(enc);
        let label = if enc { "encrypted" } else { "plaintext" };
        println!(
            "| field day, {label}: per user action p50 / p99 | {:.0} / {:.0} µs | raw 1-row tx {:.0} / {:.0} µs | {:.2}× p50 | — |",
            us(p50), us(p99), us(b50), us(b99), us(p50) / us(b50)
        );
        if enc {
            let (l50, l99) = page_write_fsync();
            println!(
                "| field day, encrypted, against the physical limit: p50 / p99 | {:.0} / {:.0} µs | 4 KiB page in place + fdatasync {:.0} / {:.0} µs | {:.2}× p50, {:.2}× p99 | ≤ 2× p50, ≤ 4× p99 |",
                us(p50), us(p99), us(l50), us(l99), us(p50) / us(l50), us(p99) / us(l99)
            );
            match fsyncs_per_action() {
                Some(n) => println!("| fsync-family calls per user action (strace) | {n:.2} | — | — | exactly 1 |"),
                None => println!(
                    "| fsync-family calls per user action | not measured: strace is missing | — | — | exactly 1 |"
                ),
            }
        }
    }
    if only_durability {
        return;
    }
    if only_report {
        let (ours, base, n) = walk_report();
        println!(
            "| walk report of {n} records (encrypted), median of 21 | {:.1} ms | raw query of the same rows {:.1} ms | {:.2}× | < 10 ms |",
            ours.as_secs_f64() * 1e3, base.as_secs_f64() * 1e3, ours.as_secs_f64() / base.as_secs_f64()
        );
        return;
    }
    let (ours, raw_rate) = bulk_insert();
    println!(
        "| bulk insert 100,000 observations (encrypted) | {ours:.0} rec/s | raw prepared insert {raw_rate:.0} rec/s | {:.2} of raw | ≥ 0.5 |",
        ours / raw_rate
    );
    let ((ours, base), (cold, cold_base), records) = open_latest();
    println!(
        "| open + latest 50 of {records} records (encrypted), warm, median of 21 | {:.1} ms | raw open + same query {:.1} ms | {:.2}× | < 20 ms |",
        ours.as_secs_f64() * 1e3, base.as_secs_f64() * 1e3, ours.as_secs_f64() / base.as_secs_f64()
    );
    println!(
        "| the same cold (files evicted from the page cache), median of 11 | {:.1} ms | raw open + same query, cold {:.1} ms | {:.2}× | — |",
        cold.as_secs_f64() * 1e3, cold_base.as_secs_f64() * 1e3, cold.as_secs_f64() / cold_base.as_secs_f64()
    );
    let (ours, base, n) = walk_report();
    println!(
        "| walk report of {n} records (encrypted), median of 21 | {:.1} ms | raw query of the same rows {:.1} ms | {:.2}× | < 10 ms |",
        ours.as_secs_f64() * 1e3, base.as_secs_f64() * 1e3, ours.as_secs_f64() / base.as_secs_f64()
    );
    let (ours, brute, oracle, hits) = buurt_lookup();
    println!(
        "| buurt lookup, {hits} points inside Utrecht's buurten | {:.2} µs | the holding buurt's polygon alone (an oracle: the least any index pays) {:.2} µs; every polygon tested {:.2} µs | {:.2}× the oracle | < 5 µs |",
        ours / 1e3, oracle / 1e3, brute / 1e3, ours / oracle
    );
}
