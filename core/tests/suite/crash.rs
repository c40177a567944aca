//! Kill a writing process at random moments, 200 times; after every reopen the database is
//! intact and holds every record the writer had acknowledged.
//!
//! The writer is this test binary itself, re-run with `WV_CRASH_CHILD` set: it prints the id of
//! each record only after `add_record` returned (the transaction committed), and the parent
//! sends SIGKILL after a random delay.

use crate::common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use wijkverkenner_core::*;

const RUNS: usize = 200;

/// The child: append records (and fixes, and edits) to the store until killed.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var("WV_CRASH_CHILD") else { return };
    let store = Store::open(&path, Encryption::Key(key(3))).unwrap();
    if store.identity().is_none() {
        store.set_identity(&identity()).unwrap();
    }
    let walk = match store.active_walk().unwrap() {
        Some(w) => w,
        None => store.start_walk(new_walk(0)).unwrap(),
    };
    let mut i = 0u64;
    loop {
        i += 1;
        let body = match i % 3 {
            0 => observation(&format!("waarneming {i}")),
            1 => conversation(&format!("gesprek {i}")),
            _ => signal(&format!("signaal {i}")),
        };
        let loc = (i % 2 == 0).then(|| location(1, CENTRE.0, CENTRE.1));
        let r = store.add_record(NewRecord { walk_id: walk.id, body, created: at(1), location: loc }).unwrap();
        println!("{}", r.id);
        if i % 4 == 0 {
            store.add_fixes(&walk.id, &[fix(1.0, CENTRE.0, CENTRE.1); 10]).unwrap();
        }
        if i % 5 == 0 {
            store.edit_record(&r.id, observation_or_same(&r), None).unwrap();
        }
    }
}

fn observation_or_same(r: &Record) -> RecordBody {
    match &r.body {
        RecordBody::Observation(o) => observation(&format!("{} (bewerkt)", o.note)),
        other => other.clone(),
    }
}

/// A tiny deterministic generator (xorshift), so a failing run can be repeated.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn killed_writers_lose_no_acknowledged_record() {
    if std::env::var("WV_CRASH_CHILD").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut rng = Rng(0x5eed_2026_1128);
    for run in 0..RUNS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash::crash_child", "--nocapture", "--test-threads=1"])
            .env("WV_CRASH_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.len() == 36 && tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first acknowledgement (the child is up and writing), then a random
        // 0–40 ms more, then kill without warning.
        let first = rx.recv_timeout(Duration::from_secs(30)).expect("child wrote nothing");
        acknowledged.insert(first);
        let deadline = Instant::now() + Duration::from_micros(rng.next() % 40_000);
        while Instant::now() < deadline {
            if let Ok(id) = rx.try_recv() {
                acknowledged.insert(id);
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acknowledged.extend(rx.try_iter());

        let store = Store::open(&path, Encryption::Key(key(3))).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok", "run {run}");
        if run % 20 == 19 || run == RUNS - 1 {
            let (live, _) = store.record_counts().unwrap();
            assert!(
                live as usize >= acknowledged.len(),
                "run {run}: {live} stored < {} acknowledged",
                acknowledged.len()
            );
        }
        // A sample after every run (all of them at the end, below).
        for id in acknowledged.iter().take(50) {
            store.record(&id.parse().unwrap()).unwrap_or_else(|e| panic!("run {run}: acknowledged record lost: {e}"));
        }
    }
    let store = Store::open(&path, Encryption::Key(key(3))).unwrap();
    for id in &acknowledged {
        store.record(&id.parse().unwrap()).expect("every acknowledged record survives");
    }
    eprintln!("crash test: {RUNS} kills, {} acknowledged records, 0 lost", acknowledged.len());
    assert!(acknowledged.len() > RUNS * 3, "the writers wrote too little to test anything");
}
