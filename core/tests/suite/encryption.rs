//! Encryption at rest: nothing typed in the field is readable in any file the store writes,
//! and a wrong key fails cleanly without touching the file.

use crate::common;

use std::path::Path;

use common::*;
use wijkverkenner_core::*;

/// Every file the store wrote (database, WAL, shared memory, journals), as bytes.
fn all_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push((p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()));
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Writes 100 distinctive strings into every kind of free-text field; returns them.
fn plant(store: &Store) -> Vec<String> {
    let planted: Vec<String> = (0..100).map(|i| format!("PLANTED{i:03}xq{}", i * 7919 % 1000)).collect();
    let mut it = planted.iter();
    let mut next = || it.next().unwrap().clone();
    let mut nw = new_walk(0);
    nw.purpose = next();
    nw.participants = vec![Participant::Guest { role: next(), lay_person: false }];
    let walk = store.start_walk(nw).unwrap();
    let mut batch = Vec::new();
    for i in 0..32 {
        let body = match i % 3 {
            0 => observation(&next()),
            1 => conversation(&next()),
            _ => signal(&next()),
        };
        batch.push(NewRecord {
            walk_id: walk.id,
            body,
            created: at(i),
            location: Some(location(i, CENTRE.0, CENTRE.1)),
        });
    }
    for r in batch {
        store.add_record(r).unwrap();
    }
    // One at a time, so the WAL holds many frames.
    for i in 0..66 {
        let body = if i % 2 == 0 { signal(&next()) } else { conversation(&next()) };
        store.add_record(NewRecord { walk_id: walk.id, body, created: at(40), location: None }).unwrap();
    }
    planted
}

fn leaks(dir: &Path, planted: &[String]) -> Vec<String> {
    let files = all_files(dir);
    let mut found = Vec::new();
    for s in planted {
        for (name, bytes) in &files {
            if contains(bytes, s.as_bytes()) {
                found.push(format!("{s} in {name}"));
            }
        }
    }
    found
}

#[test]
fn no_planted_string_appears_in_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let planted = plant(&store);
    assert_eq!(planted.len(), 100);
    // While open: the WAL holds the recent writes.
    assert!(dir.path().join("wv.db-wal").exists());
    assert_eq!(leaks(dir.path(), &planted), Vec::<String>::new());
    drop(store);
    assert_eq!(leaks(dir.path(), &planted), Vec::<String>::new());
    // The member's own name and organisation are not readable either.
    let files = all_files(dir.path());
    assert!(files.iter().all(|(_, b)| !contains(b, b"Sanne de Vries") && !contains(b, b"Buurtteam Overvecht")));
}

#[test]
fn the_leak_check_itself_finds_plaintext() {
    // The same writes without encryption must show every string: the check above can fail.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("plain.db"), Encryption::PlaintextForTestsOnly).unwrap();
    store.set_identity(&identity()).unwrap();
    let planted = plant(&store);
    drop(store);
    assert_eq!(leaks(dir.path(), &planted).len(), 100);
}

#[test]
fn a_wrong_key_fails_cleanly_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = store_in(dir.path());
        plant(&store);
    }
    let before = all_files(dir.path());
    for enc in [Encryption::Key(key(8)), Encryption::PlaintextForTestsOnly] {
        match Store::open(db_path(dir.path()), enc) {
            Err(Error::WrongKey) => {}
            other => panic!("expected WrongKey, got {other:?}"),
        }
    }
    assert!(before == all_files(dir.path()), "a failed open changed a file");
    // The right key still opens it, with everything in it.
    let store = Store::open(db_path(dir.path()), Encryption::Key(key(7))).unwrap();
    assert_eq!(store.record_counts().unwrap().0, 98);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_file_that_is_no_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.db");
    std::fs::write(&p, vec![0x5au8; 8192]).unwrap();
    assert!(matches!(Store::open(&p, Encryption::Key(key(1))), Err(Error::WrongKey)));
    assert!(std::fs::read(&p).unwrap() == vec![0x5au8; 8192], "the file was changed");
}

#[test]
fn keys_must_be_32_bytes() {
    assert!(StoreKey::from_slice(&[1; 31]).is_err());
    assert!(StoreKey::from_slice(&[1; 32]).is_ok());
    assert_eq!(format!("{:?}", key(9)), "StoreKey(..)");
}
