//! Every released schema, frozen with data in `core/sql/tests/vN.sql`, upgrades to exactly the
//! schema a fresh store has, and keeps its data readable.
//!
//! When a migration is added, freeze the schema it replaces first:
//! `WV_FREEZE=1 cargo test -p wijkverkenner-core --test suite migrations::freeze -- --ignored`.

use crate::common;

use std::path::PathBuf;

use common::*;
use rusqlite::Connection;
use wijkverkenner_core::store::SCHEMA_VERSION;
use wijkverkenner_core::*;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql/tests")
}

/// The schema as a sorted list of (type, name, sql) rows, for comparison.
fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
    let mut st = conn
        .prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

/// A plain-SQL dump (schema, rows, user_version) that recreates the database exactly.
fn dump(conn: &Connection) -> String {
    let mut out = String::from("-- Frozen Wijkverkenner store fixture. Generated; do not edit.\nBEGIN;\n");
    let objects: Vec<(String, String, String)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (_, _, sql) in objects.iter().filter(|o| o.0 == "table") {
        out.push_str(&format!("{sql};\n"));
    }
    for (_, name, _) in objects.iter().filter(|o| o.0 == "table") {
        let cols: Vec<String> = conn
            .prepare(&format!("PRAGMA table_info({name})"))
            .unwrap()
            .query_map([], |r| r.get(1))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let quoted = cols.iter().map(|c| format!("quote({c})")).collect::<Vec<_>>().join(" || ',' || ");
        let mut st =
            conn.prepare(&format!("SELECT 'INSERT INTO {name} VALUES(' || {quoted} || ');' FROM {name}")).unwrap();
        for row in st.query_map([], |r| r.get::<_, String>(0)).unwrap() {
            out.push_str(&row.unwrap());
            out.push('\n');
        }
    }
    for (_, _, sql) in objects.iter().filter(|o| o.0 != "table") {
        out.push_str(&format!("{sql};\n"));
    }
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    out.push_str(&format!("PRAGMA user_version = {v};\nCOMMIT;\n"));
    out
}

/// A plaintext store of the current schema with a bit of everything in it.
fn populated_store(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("fixture.db");
    let store = Store::open(&path, Encryption::PlaintextForTestsOnly).unwrap();
    store.set_identity(&identity()).unwrap();
    // Just the buurt around the centre, to keep the fixture small.
    let code = Neighbourhoods::from_geojson(&buurt_geojson(), None)
        .unwrap()
        .locate(CENTRE.0, CENTRE.1)
        .unwrap()
        .buurt_code
        .clone();
    let mut doc: serde_json::Value = serde_json::from_str(&buurt_geojson()).unwrap();
    doc["features"].as_array_mut().unwrap().retain(|f| f["properties"]["KODE"] == code.as_str());
    store.load_neighbourhoods(&doc.to_string(), None).unwrap();
    let walk = store.start_walk(new_walk(0)).unwrap();
    store.add_fixes(&walk.id, &[fix(1.0, CENTRE.0, CENTRE.1), fix(2.0, CENTRE.0 + 0.0005, CENTRE.1)]).unwrap();
    let o = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: observation("leegstand"),
            created: at(1),
            location: Some(location(1, CENTRE.0, CENTRE.1)),
        })
        .unwrap();
    store
        .add_record(NewRecord { walk_id: walk.id, body: conversation("gesprek"), created: at(2), location: None })
        .unwrap();
    let s = store
        .add_record(NewRecord { walk_id: walk.id, body: signal("signaal"), created: at(3), location: None })
        .unwrap();
    store.edit_record(&o.id, observation("leegstand, al maanden"), None).unwrap();
    store.attach_photo(&o.id, &tiny_jpeg()).unwrap();
    store.delete_record(&s.id).unwrap();
    store.pause_walk(&walk.id, at(4)).unwrap();
    store.resume_walk(&walk.id, at(5)).unwrap();
    store.end_walk(&walk.id, at(6)).unwrap();
    store.debrief_walk(&walk.id, Debrief { dominant: Some(Logic::Situational), note: "veel contact".into() }).unwrap();
    path
}

/// An 8×8 grey JPEG, the smallest photo worth keeping in a fixture.
fn tiny_jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80).encode(&[128u8; 64], 8, 8, jpeg_encoder::ColorType::Luma).unwrap();
    out
}

/// Every id in the walks, fixes, tracks and records tables as 32 hex digits, whether stored
/// as text (schema 1–2) or as 16 bytes (schema 3 on).
fn stored_ids(conn: &Connection) -> Vec<String> {
    let hex =
        |col: &str| format!("CASE typeof({col}) WHEN 'blob' THEN lower(hex({col})) ELSE replace({col}, '-', '') END");
    let sql = [("walks", "id"), ("walks", "author_id"), ("fixes", "walk_id"), ("walk_tracks", "walk_id")]
        .iter()
        .chain(&[("records", "id"), ("records", "walk_id"), ("records", "author_id")])
        .map(|(t, c)| format!("SELECT '{t}.{c} ' || {} FROM {t}", hex(c)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut ids: Vec<String> =
        conn.prepare(&sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    ids.sort();
    assert!(ids.len() > 8, "the fixture has walks, fixes, a track and records");
    ids
}

#[test]
#[ignore = "run by hand to freeze the current schema before adding a migration"]
fn freeze() {
    assert_eq!(std::env::var("WV_FREEZE").as_deref(), Ok("1"), "set WV_FREEZE=1 to write a fixture");
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(populated_store(dir.path())).unwrap();
    let path = fixtures_dir().join(format!("v{SCHEMA_VERSION}.sql"));
    std::fs::write(&path, dump(&conn)).unwrap();
    eprintln!("wrote {}", path.display());
}

#[test]
fn the_current_schema_is_frozen() {
    let path = fixtures_dir().join(format!("v{SCHEMA_VERSION}.sql"));
    assert!(path.exists(), "no fixture for schema v{SCHEMA_VERSION}: run the `freeze` test (see this file's header)");
}

#[test]
fn every_fixture_upgrades_to_a_fresh_schema_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    drop(Store::open(&fresh, Encryption::PlaintextForTestsOnly).unwrap());
    let fresh_schema = schema(&Connection::open(&fresh).unwrap());

    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixtures_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    fixtures.sort();
    assert!(!fixtures.is_empty());
    for fx in fixtures {
        let db = dir.path().join(format!("{}.db", fx.file_stem().unwrap().to_string_lossy()));
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(&std::fs::read_to_string(&fx).unwrap()).unwrap();
        let counts_before: i64 = conn.query_row("SELECT count(*) FROM records", [], |r| r.get(0)).unwrap();
        let ids_before = stored_ids(&conn);
        drop(conn);

        for _ in 0..2 {
            // Twice: opening an upgraded store again is a no-op.
            let store = Store::open(&db, Encryption::PlaintextForTestsOnly).unwrap();
            assert_eq!(store.integrity_check().unwrap(), "ok");
            let walks = store.recent_walks(&PageRequest::first(10)).unwrap();
            assert!(!walks.items.is_empty(), "{}: walks readable", fx.display());
            let recs = store.latest_records(&PageRequest::first(10)).unwrap();
            assert!(!recs.items.is_empty(), "{}: records readable", fx.display());
            let (live, tombstones) = store.record_counts().unwrap();
            assert_eq!((live + tombstones) as i64, counts_before, "{}: no record lost", fx.display());
            assert_eq!(store.identity().unwrap(), identity());
        }
        assert_eq!(stored_ids(&Connection::open(&db).unwrap()), ids_before, "{}: every id kept", fx.display());
        assert_eq!(
            schema(&Connection::open(&db).unwrap()),
            fresh_schema,
            "{} upgrades to the fresh schema",
            fx.display()
        );
    }
}

#[test]
fn a_store_from_a_newer_app_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    drop(Store::open(&path, Encryption::PlaintextForTestsOnly).unwrap());
    Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99; PRAGMA journal_mode = DELETE;").unwrap();
    let before = std::fs::read(&path).unwrap();
    match Store::open(&path, Encryption::PlaintextForTestsOnly) {
        Err(Error::SchemaTooNew { found: 99, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(std::fs::read(&path).unwrap() == before, "the newer store was changed");
}

#[test]
fn a_walk_ended_before_v4_has_its_end_under_the_end_clock() {
    // Schema 3 stamped only `status` when a walk ended; `ended`, `summary`, `buurten`, `track`
    // and `pauses` changed under older clocks, which a team server refuses (clock_reused).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v3.db");
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(&std::fs::read_to_string(fixtures_dir().join("v3.sql")).unwrap()).unwrap();
    let before: String =
        conn.query_row("SELECT field_clocks FROM walks WHERE status = 'ended'", [], |r| r.get(0)).unwrap();
    assert!(!before.contains("\"ended\""), "the v3 fixture shows the old stamping: {before}");
    drop(conn);
    drop(Store::open(&db, Encryption::PlaintextForTestsOnly).unwrap());
    let after: String = Connection::open(&db)
        .unwrap()
        .query_row("SELECT field_clocks FROM walks WHERE status = 'ended'", [], |r| r.get(0))
        .unwrap();
    let clocks: std::collections::BTreeMap<String, String> = serde_json::from_str(&after).unwrap();
    for f in ["ended", "summary", "buurten", "track", "pauses"] {
        assert_eq!(clocks.get(f), clocks.get("status"), "{f}: {after}");
    }
}
