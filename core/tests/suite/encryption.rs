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

/// SQLCipher's crypto provider of this build: LibTomCrypt in the phone configuration
/// (docs/adr/0010), OpenSSL in the workspace's.
#[test]
fn the_build_uses_the_crypto_provider_of_its_configuration() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(db_path(dir.path()), Encryption::Key(key(7))).unwrap());
    let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "07".repeat(32))).unwrap();
    let provider: String = conn.query_row("PRAGMA cipher_provider", [], |r| r.get(0)).unwrap();
    let expected = if cfg!(feature = "libtomcrypt") { "libtomcrypt" } else { "openssl" };
    assert_eq!(provider, expected);
    // And the key is really needed with this provider too.
    let wrong = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    wrong.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "08".repeat(32))).unwrap();
    assert!(wrong.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).is_err());
}

/// A store written by one provider opens with the other: a phone's file does not depend on
/// which crypto library the app was built with (the phone configuration changed it from
/// OpenSSL to LibTomCrypt). `data/sqlcipher/` holds a store written by each; both
/// configurations read both. `WV_FREEZE_CIPHER_FIXTURE=1` rewrites this build's one.
#[test]
fn a_store_written_by_either_crypto_provider_opens_with_this_one() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sqlcipher");
    let mine = fixtures.join(if cfg!(feature = "libtomcrypt") { "libtomcrypt.store" } else { "openssl.store" });
    let note = "Geschreven door de andere cryptobibliotheek";
    if std::env::var_os("WV_FREEZE_CIPHER_FIXTURE").is_some() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(db_path(dir.path()), Encryption::Key(key(9))).unwrap();
        store.set_identity(&identity()).unwrap();
        let walk = store.start_walk(new_walk(0)).unwrap();
        store
            .add_record(NewRecord { walk_id: walk.id, body: observation(note), created: at(1), location: None })
            .unwrap();
        drop(store);
        std::fs::create_dir_all(&fixtures).unwrap();
        std::fs::copy(db_path(dir.path()), &mine).unwrap();
    }
    for name in ["openssl.store", "libtomcrypt.store"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(fixtures.join(name), db_path(dir.path())).unwrap_or_else(|e| panic!("{name}: {e}"));
        let store = Store::open(db_path(dir.path()), Encryption::Key(key(9))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let walks = store.recent_walks(&PageRequest::first(10)).unwrap().items;
        assert_eq!(walks.len(), 1, "{name}");
        let records = store.walk_timeline(&walks[0].id, &PageRequest::first(10)).unwrap().items;
        assert!(matches!(&records[0].body, RecordBody::Observation(o) if o.note == note), "{name}");
        assert_eq!(store.integrity_check().unwrap(), "ok", "{name}");
        drop(store);
        assert!(matches!(Store::open(db_path(dir.path()), Encryption::Key(key(8))), Err(Error::WrongKey)), "{name}");
    }
}
