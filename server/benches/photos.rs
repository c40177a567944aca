//! Photo benchmarks (issue 13), each with its limit measured in the same run:
//!
//! 1. phone side, per photo: attaching a ~1.5 MB photo (the core's cleaner, its hash and the
//!    insert into the encrypted store, one durable transaction) against the store's own limit:
//!    the same cleaned bytes inserted raw as a blob into a SQLCipher database with the same
//!    key, journal and durability, one transaction each;
//! 2. upload on loopback: 20 photos sent by a phone's sync (offer, 256 KiB chunks, the server
//!    appending each durably, checking hash and cleaner at the end, files 0600) against the
//!    raw HTTP transfer of the same bytes with the same client (one POST a photo to a handler
//!    that reads the body and drops it), and against the raw transfer written to a file and
//!    fsynced (the durable limit), and against what resuming at any byte needs at the least:
//!    the photos read from the phone's encrypted store and sent in the same chunks, each
//!    written and fsynced before its answer.
//!
//! `bash scripts/bench.sh` runs it in the phone configuration (LibTomCrypt), as the sync one.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::sync::Transport;
use wijkverkenner_core::*;
use wijkverkenner_server::storage::Role;
use wijkverkenner_server::testing::TestServer;
use wijkverkenner_server::{admin, Storage};

const PHOTOS: usize = 20;
const ROUNDS: usize = 5;

/// A photo-like picture (noise over gradients) of about 1.5 MB, with an EXIF segment.
fn camera_jpeg(seed: u32) -> Vec<u8> {
    let (width, height) = (1024u16, 768u16);
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..height {
        for x in 0..width {
            for c in 0..3u32 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                pixels.push(((u32::from(x) / 4 + u32::from(y) + c * 70 + (state & 127)) % 256) as u8);
            }
        }
    }
    let mut out = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut out, 92);
    e.add_app_segment(1, b"Exif\0\0II*\0GPS 52.07 5.10 Pixel 8".to_vec()).unwrap();
    e.encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn phone(storage: &dyn Storage, url: &str, dir: &Path) -> (Store, RecordId) {
    let team = admin::create_team(storage, &format!("Bench {}", uuid::Uuid::now_v7())).unwrap();
    let member = admin::add_member(storage, &team.id, "Veldwerker", Role::FieldWorker, "Buurtteam").unwrap();
    let store =
        Store::open(dir.join(format!("{}.db", uuid::Uuid::now_v7())), Encryption::Key(StoreKey::new([5; 32]))).unwrap();
    let code = admin::issue_code(storage, &member.id, 1).unwrap();
    store.enrol(&HttpTransport::new(url), &code, "bench").unwrap();
    let walk = store
        .start_walk(NewWalk {
            participants: vec![],
            purpose: "Avondronde".into(),
            focus: vec![],
            started: Moment::now(),
        })
        .unwrap();
    let r = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: RecordBody::Observation(Observation {
                themes: vec!["obs.litter".into()],
                tone: Tone::Concern,
                note: "Afval gedumpt".into(),
            }),
            created: Moment::now(),
            location: None,
        })
        .unwrap();
    (store, r.id)
}

/// The raw limit of the phone side: the cleaned bytes as a blob in an encrypted database with
/// the store's settings (WAL, synchronous FULL), one transaction each. Seconds per photo.
fn raw_insert(dir: &Path, photos: &[Vec<u8>]) -> f64 {
    let c = rusqlite::Connection::open(dir.join(format!("raw-{}.db", uuid::Uuid::now_v7()))).unwrap();
    c.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "05".repeat(32))).unwrap();
    let cipher: Option<String> = c.query_row("PRAGMA cipher_version", [], |r| r.get(0)).ok();
    assert!(cipher.is_some(), "the baseline must be encrypted like the store");
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;
         CREATE TABLE photos (id BLOB PRIMARY KEY, sha256 BLOB NOT NULL, bytes BLOB NOT NULL);",
    )
    .unwrap();
    let t = Instant::now();
    for (i, p) in photos.iter().enumerate() {
        c.execute(
            "INSERT INTO photos (id, sha256, bytes) VALUES (?1, ?2, ?3)",
            rusqlite::params![(i as u128).to_le_bytes().to_vec(), [0u8; 32].to_vec(), p],
        )
        .unwrap();
    }
    t.elapsed().as_secs_f64() / photos.len() as f64
}

/// A server that takes a body and drops it (or writes it to a file and fsyncs it): the raw
/// HTTP transfer of the same bytes.
fn raw_server(dir: Option<std::path::PathBuf>) -> (String, tokio::runtime::Runtime) {
    use axum::routing::post;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = axum::Router::new()
        .route(
            "/raw",
            post(move |body: axum::body::Bytes| {
                let (dir, n) = (dir.clone(), n.clone());
                async move {
                    if let Some(dir) = dir {
                        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tokio::task::spawn_blocking(move || {
                            let mut f = std::fs::File::create(dir.join(format!("{i}.jpg"))).unwrap();
                            f.write_all(&body).unwrap();
                            f.sync_all().unwrap();
                        })
                        .await
                        .unwrap();
                    }
                    "{}"
                }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rt)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let shots: Vec<Vec<u8>> = (0..PHOTOS as u32).map(camera_jpeg).collect();
    let cleaned: Vec<Vec<u8>> =
        shots.iter().map(|s| wijkverkenner_core::photo::clean_jpeg(s, Default::default()).unwrap().bytes).collect();
    let total: usize = cleaned.iter().map(Vec::len).sum();
    println!(
        "{PHOTOS} photos, {:.2} MB each on average, {ROUNDS} rounds (medians)",
        total as f64 / PHOTOS as f64 / 1e6
    );

    let (mut clean_s, mut attach_s, mut raw_s, mut ours_mbs, mut raw_mbs, mut durable_mbs) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut chunked_mbs, mut read_mbs, mut thumb_s) = (vec![], vec![], vec![]);
    let (raw_url, _raw_rt) = raw_server(None);
    let files = dir.path().join("raw-files");
    std::fs::create_dir_all(&files).unwrap();
    let (durable_url, _durable_rt) = raw_server(Some(files));
    for round in 0..ROUNDS {
        let data = dir.path().join(format!("server-{round}"));
        std::fs::create_dir_all(&data).unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(wijkverkenner_server::storage::sqlite::SqliteStorage::open(&data).unwrap());
        let server = TestServer::start(storage.clone());
        let (store, record) = phone(storage.as_ref(), &server.url, dir.path());
        let transport = HttpTransport::new(&server.url);
        store.sync(&transport, &AtomicBool::new(false)).unwrap();

        // Phone side: the cleaner alone, attaching, and the raw insert.
        let t = Instant::now();
        for s in &shots {
            std::hint::black_box(wijkverkenner_core::photo::clean_jpeg(s, Default::default()).unwrap());
        }
        clean_s.push(t.elapsed().as_secs_f64() / PHOTOS as f64);
        // The server's part at the end of each upload: the thumbnail of the cleaned photo.
        let t = Instant::now();
        for c in &cleaned {
            std::hint::black_box(wijkverkenner_server::photos::thumbnail(c).unwrap());
        }
        thumb_s.push(t.elapsed().as_secs_f64() / PHOTOS as f64);
        let mut records = vec![record];
        let t = Instant::now();
        for (i, s) in shots.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                // A record carries at most five.
                let walk = store.active_walk().unwrap().unwrap();
                let r = store
                    .add_record(NewRecord {
                        walk_id: walk.id,
                        body: RecordBody::Observation(Observation {
                            themes: vec!["obs.litter".into()],
                            tone: Tone::Concern,
                            note: format!("Afval {i}"),
                        }),
                        created: Moment::now(),
                        location: None,
                    })
                    .unwrap();
                records.push(r.id);
            }
            store.attach_photo(records.last().unwrap(), s).unwrap();
        }
        // (The three records added for photos 6..20 are in this time too: a small insert each.)
        attach_s.push(t.elapsed().as_secs_f64() / PHOTOS as f64);
        raw_s.push(raw_insert(dir.path(), &cleaned));

        // Upload: one sync (it also pushes the three records the photos needed: a few KB).
        let t = Instant::now();
        let out = store.sync(&transport, &AtomicBool::new(false)).unwrap();
        let ours = t.elapsed().as_secs_f64();
        assert_eq!(out.photos_uploaded as usize, PHOTOS);
        ours_mbs.push(total as f64 / ours / 1e6);

        for (url, into) in [(&raw_url, &mut raw_mbs), (&durable_url, &mut durable_mbs)] {
            let raw = HttpTransport::new(url);
            let t = Instant::now();
            for p in &cleaned {
                let r = raw.post("/raw", None, p.clone()).unwrap();
                assert_eq!(r.status, 200);
            }
            into.push(total as f64 / t.elapsed().as_secs_f64() / 1e6);
        }
        // What resuming at any byte needs at the least: each photo read from the phone's
        // encrypted store, sent in the same 256 KiB chunks, each written and fsynced before
        // its answer.
        let raw = HttpTransport::new(&durable_url);
        let ids: Vec<PhotoId> = records.iter().flat_map(|r| store.photos(r).unwrap()).map(|p| p.id).collect();
        let t = Instant::now();
        for id in &ids {
            let bytes = store.photo_bytes(id).unwrap();
            for chunk in bytes.chunks(wijkverkenner_core::sync::wire::PHOTO_CHUNK_BYTES) {
                assert_eq!(raw.post("/raw", None, chunk.to_vec()).unwrap().status, 200);
            }
        }
        chunked_mbs.push(total as f64 / t.elapsed().as_secs_f64() / 1e6);
        // The phone's part of that: reading the photos back from the encrypted store.
        let t = Instant::now();
        for id in &ids {
            std::hint::black_box(store.photo_bytes(id).unwrap());
        }
        read_mbs.push(total as f64 / t.elapsed().as_secs_f64() / 1e6);
        assert_eq!(store.photos_waiting().unwrap(), 0);
    }
    let (clean, attach, raw) = (median(clean_s), median(attach_s), median(raw_s));
    println!("\n| phone side, per photo | ms | vs raw insert |\n| --- | ---: | ---: |");
    println!("| cleaner alone (parse, rewrite) | {:.2} | |", clean * 1e3);
    println!("| attach_photo (clean, SHA-256, insert, durable) | {:.2} | {:.2}× |", attach * 1e3, attach / raw);
    println!("| raw insert of the cleaned bytes (SQLCipher, WAL, FULL) | {:.2} | 1.00× |", raw * 1e3);
    let (ours, raw, durable) = (median(ours_mbs), median(raw_mbs), median(durable_mbs));
    println!("\n| upload on loopback | MB/s | ours ÷ it |\n| --- | ---: | ---: |");
    println!("| ours: offer + 256 KiB chunks, durable, checked | {ours:.1} | 1.00 |");
    println!("| raw HTTP transfer of the same bytes (goal ≥ 0.8×) | {raw:.1} | {:.2} |", ours / raw);
    println!("| raw HTTP transfer written and fsynced | {durable:.1} | {:.2} |", ours / durable);
    let (chunked, read) = (median(chunked_mbs), median(read_mbs));
    println!("| read from the encrypted store, 256 KiB chunks each fsynced | {chunked:.1} | {:.2} |", ours / chunked);
    println!("| (reading the photos from the phone's encrypted store alone) | {read:.1} | |");
    println!("| (the server making each photo's thumbnail alone: {:.1} ms a photo) | | |", median(thumb_s) * 1e3);
}
