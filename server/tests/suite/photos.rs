//! Photos between phones and the team server (issue 13): real phones over loopback HTTP.
//! Metadata never leaves the phone; an upload cut at any byte resumes where it stopped and is
//! stored once; a photo is seen exactly by whom may see its record, also after
//! re-categorisation; a hostile phone cannot store what the cleaner would not, nor touch a
//! colleague's photos; the storage appends exactly once whatever chunks arrive.

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use sha2::Digest;
use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::*;
use wijkverkenner_server::storage::{PhotoOffered, PhotoQuota};
use wijkverkenner_server::{admin, Storage};

const CANARY: &[u8] = b"CANARY-EXIF-Kanaleneiland-06-12345678";

/// A photo-like picture of `width`×`height` (noise over gradients: it does not compress),
/// encoded as a phone's camera app would, with an EXIF segment holding the canary.
pub(crate) fn camera_jpeg(width: u16, height: u16, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..height {
        for x in 0..width {
            for c in 0..3u32 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let base = u32::from(x) * 255 / u32::from(width) + u32::from(y) + c * 70;
                pixels.push(((base + (state & 127)) % 256) as u8);
            }
        }
    }
    let mut exif = b"Exif\0\0II*\0".to_vec();
    exif.extend_from_slice(CANARY);
    let mut out = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut out, 92);
    e.add_app_segment(1, exif).unwrap();
    e.add_app_segment(13, b"Photoshop 3.0\0GPS 52.0705 5.1044".to_vec()).unwrap();
    e.encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).is_ok_and(|b| contains(&b, needle)) {
                found.push(path);
            }
        }
    }
    found
}

/// The photo files under a SQLite server's data directory (stored and under way).
fn photo_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.join("photos")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A record of today's walk (thumbnails come with the feed for the last week's records).
fn add(phone: &Phone, body: RecordBody) -> Record {
    let walk = match phone.store.active_walk().unwrap() {
        Some(w) => w,
        None => phone.store.start_walk(NewWalk { started: Moment::now(), ..new_walk(0) }).unwrap(),
    };
    let created = Moment::now();
    phone
        .store
        .add_record(NewRecord { walk_id: walk.id, body, created, location: Some(location(52.07, 5.10)) })
        .unwrap()
}

fn photos_reach_the_team_clean_and_once(storage: Arc<dyn Storage>, data_dir: Option<&std::path::Path>) {
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Kanaleneiland", 2);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let joost = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);
    let shop = add(&sanne, observation("Leegstaande winkel, altijd 'open'"));
    let taken = camera_jpeg(640, 480, 1);
    assert!(contains(&taken, CANARY));
    let photo = sanne.store.attach_photo(&shop.id, &taken).unwrap();
    let clean = sanne.store.photo_bytes(&photo.id).unwrap();

    let out = sanne.sync().unwrap();
    assert_eq!((out.photos_uploaded, out.photos_refused), (1, 0));
    assert!(sanne.store.photos(&shop.id).unwrap()[0].uploaded());
    // A second sync sends nothing again.
    assert_eq!(sanne.sync().unwrap().photos_uploaded, 0);
    let held = storage.photos_of(&t.team.id, &shop.id.to_string()).unwrap();
    assert_eq!(held.len(), 1);
    assert!(held[0].stored);
    assert_eq!(storage.photo_bytes(&t.team.id, &photo.id.to_string()).unwrap().unwrap(), clean);

    // A colleague and the lead see the record, learn of its photo, and fetch it on demand.
    for phone in [&joost, &lead] {
        // The thumbnail comes with the feed: made by the server, small, clean, the same picture.
        assert_eq!(phone.sync().unwrap().thumbnails_pulled, 1);
        let thumb = phone.store.photo_thumbnail(&photo.id).unwrap().expect("a thumbnail");
        assert_eq!(thumb, storage.photo_thumbnail(&t.team.id, &photo.id.to_string()).unwrap().unwrap());
        let mut d = jpeg_decoder::Decoder::new(&thumb[..]);
        let pixels = d.decode().unwrap();
        let info = d.info().unwrap();
        assert_eq!((info.width, info.height), (320, 240), "long edge 320, the aspect kept");
        let full = jpeg_decoder::Decoder::new(&clean[..]).decode().unwrap();
        // The same picture: the mean of each channel over a block is the photo's there.
        let mean = |px: &[u8], width: usize, x0: usize, y0: usize, side: usize, c: usize| {
            let sum: u32 = (y0..y0 + side)
                .flat_map(|y| (x0..x0 + side).map(move |x| u32::from(px[(y * width + x) * 3 + c])))
                .sum();
            sum / (side * side) as u32
        };
        for (x, y) in [(8, 8), (150, 110)] {
            for c in 0..3 {
                let (got, want) = (mean(&pixels, 320, x, y, 16, c), mean(&full, 640, x * 2, y * 2, 32, c));
                assert!(got.abs_diff(want) <= 8, "channel {c} at {x},{y}: {got} against {want}");
            }
        }
        assert_eq!(phone.sync().unwrap().thumbnails_pulled, 0, "pulled once");
        let known = phone.store.refresh_photos(phone.transport.as_ref(), &shop.id).unwrap();
        assert_eq!(known.len(), 1);
        assert!(!known[0].on_phone, "known, not yet held");
        assert_eq!((known[0].id, known[0].sha256.clone()), (photo.id, photo.sha256.clone()));
        let bytes = phone.store.fetch_photo(phone.transport.as_ref(), &photo.id).unwrap();
        assert_eq!(bytes, clean);
        assert!(phone.store.photos(&shop.id).unwrap()[0].on_phone);
    }
    // Every view of a full photo is in the audit trail (a thumbnail is not a view).
    let audit = storage.audit(Some(&t.team.id), 0, 100).unwrap();
    let views = audit.iter().filter(|e| e.action == "photo" && e.result == "200").count();
    assert_eq!(views, 2, "{audit:?}");

    // The canary is in no file of any phone or of the server.
    for phone in [&sanne, &joost, &lead] {
        assert!(files_containing(phone.dir.path(), CANARY).is_empty());
    }
    if let Some(dir) = data_dir {
        assert!(files_containing(dir, CANARY).is_empty());
        let files = photo_files(dir);
        assert_eq!(files.len(), 1, "{files:?}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&files[0]).unwrap(), clean);
        assert!(files[0].ends_with(&photo.sha256), "content-addressed");
    }

    // Deleting the record takes its photo from the server, bytes and all.
    sanne.store.delete_record(&shop.id).unwrap();
    sanne.sync().unwrap();
    assert!(storage.photos_of(&t.team.id, &shop.id.to_string()).unwrap().is_empty());
    assert_eq!(storage.photo_bytes(&t.team.id, &photo.id.to_string()).unwrap(), None);
    if let Some(dir) = data_dir {
        assert!(photo_files(dir).is_empty());
    }
    joost.sync().unwrap();
    assert!(matches!(joost.store.photo_bytes(&photo.id), Err(Error::NotFound(_))), "gone from a colleague's phone");
    assert!(matches!(joost.store.photo_thumbnail(&photo.id), Err(_) | Ok(None)), "its thumbnail too");
}

/// A photo that arrives after its record reached a colleague comes with the colleague's next
/// sync that brings anything from the team; a sync that brings nothing lists nothing.
#[test]
fn a_late_photo_comes_with_the_next_sync_that_brings_changes() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Lunetten", 2);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let joost = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let dumped = add(&sanne, observation("Grofvuil naast de container"));
    sanne.sync().unwrap();
    assert_eq!(joost.sync().unwrap().thumbnails_pulled, 0, "no photo yet");
    let photo = sanne.store.attach_photo(&dumped.id, &camera_jpeg(320, 240, 11)).unwrap();
    assert_eq!(sanne.sync().unwrap().photos_uploaded, 1);
    let idle = joost.sync().unwrap();
    assert_eq!((idle.pulled, idle.thumbnails_pulled), (0, 0), "an idle sync lists nothing");
    add(&sanne, observation("Nog meer grofvuil"));
    sanne.sync().unwrap();
    let next = joost.sync().unwrap();
    assert_eq!((next.pulled, next.thumbnails_pulled), (1, 1));
    assert!(joost.store.photo_thumbnail(&photo.id).unwrap().is_some());
}

#[test]
fn photos_reach_the_team_clean_and_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    photos_reach_the_team_clean_and_once(sqlite_storage(dir.path()), Some(dir.path()));
}

#[test]
fn photos_reach_the_team_clean_and_once_postgres() {
    photos_reach_the_team_clean_and_once(postgres_storage(), None);
}

fn need_to_know(storage: Arc<dyn Storage>) {
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Overvecht", 2);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let joost = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);
    let stash = add(&sanne, signal("Pand waar steeds pakketjes worden afgegeven", "sig.stash_house"));
    let hidden = sanne.store.attach_photo(&stash.id, &camera_jpeg(320, 240, 2)).unwrap();
    let dumped = add(&sanne, signal("Jongeren bij de snackbar", "sig.other"));
    let open = sanne.store.attach_photo(&dumped.id, &camera_jpeg(320, 240, 3)).unwrap();
    assert_eq!(sanne.sync().unwrap().photos_uploaded, 2);
    // With the feed: the lead gets both thumbnails, the colleague the open signal's only.
    assert_eq!(lead.sync().unwrap().thumbnails_pulled, 2);
    assert_eq!(joost.sync().unwrap().thumbnails_pulled, 1);
    assert_eq!(joost.store.photo_thumbnail(&hidden.id).unwrap(), None);
    assert!(joost.store.photo_thumbnail(&open.id).unwrap().is_some());
    let refused = joost.store.fetch_thumbnail(joost.transport.as_ref(), &hidden.id);
    assert!(matches!(refused, Err(Error::Server { status: 404, .. })), "{refused:?}");

    // The sensitive signal's photo: the lead sees it, a colleague does not even learn of it.
    assert_eq!(lead.store.refresh_photos(lead.transport.as_ref(), &stash.id).unwrap().len(), 1);
    assert!(lead.store.fetch_photo(lead.transport.as_ref(), &hidden.id).is_ok());
    let none = joost.store.refresh_photos(joost.transport.as_ref(), &stash.id);
    assert!(none.is_err() || none.unwrap().is_empty());
    let refused = joost.store.fetch_photo(joost.transport.as_ref(), &hidden.id);
    assert!(matches!(refused, Err(Error::Server { status: 404, .. })), "{refused:?}");

    // The open signal's photo reaches the colleague — until it is re-categorised as sensitive.
    assert_eq!(joost.store.refresh_photos(joost.transport.as_ref(), &dumped.id).unwrap().len(), 1);
    assert!(joost.store.fetch_photo(joost.transport.as_ref(), &open.id).is_ok());
    sanne.store.edit_record(&dumped.id, signal("Jongeren worden geronseld", "sig.youth_recruitment"), None).unwrap();
    sanne.sync().unwrap();
    assert_eq!(joost.sync().unwrap().withdrawn, 1);
    assert!(matches!(joost.store.photo_bytes(&open.id), Err(Error::NotFound(_))), "withdrawn with its record");
    assert!(matches!(joost.store.photo_thumbnail(&open.id), Err(_) | Ok(None)), "its thumbnail too");
    let refused = joost.store.fetch_thumbnail(joost.transport.as_ref(), &open.id);
    assert!(matches!(refused, Err(Error::Server { status: 404, .. })), "{refused:?}");
    assert!(files_containing(joost.dir.path(), &sanne.store.photo_bytes(&open.id).unwrap()[600..680]).is_empty());
    let refused = joost.store.fetch_photo(joost.transport.as_ref(), &open.id);
    assert!(matches!(refused, Err(Error::Server { status: 404, .. })), "{refused:?}");
    // The lead still sees it.
    lead.sync().unwrap();
    assert_eq!(lead.store.refresh_photos(lead.transport.as_ref(), &dumped.id).unwrap().len(), 1);
    assert!(lead.store.fetch_photo(lead.transport.as_ref(), &open.id).is_ok());
    // Every refused view is in the trail too.
    let audit = storage.audit(Some(&t.team.id), 0, 100).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "photo" && e.result.starts_with("refused")).count(), 2);
}

#[test]
fn a_photo_is_seen_only_by_whom_may_see_its_record_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    need_to_know(sqlite_storage(dir.path()));
}

#[test]
fn a_photo_is_seen_only_by_whom_may_see_its_record_postgres() {
    need_to_know(postgres_storage());
}

/// A loopback proxy that cuts connections at chosen bytes of the whole stream (both
/// directions), counting every byte the phone sends.
struct CuttingProxy {
    addr: SocketAddr,
    sent: Arc<AtomicUsize>,
    cuts_done: Arc<AtomicUsize>,
}

impl CuttingProxy {
    /// `cuts`: positions in the stream of bytes through the proxy, ascending.
    fn start(upstream: SocketAddr, cuts: Vec<usize>) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(AtomicUsize::new(0));
        let cuts_done = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(Mutex::new((0usize, cuts)));
        let (s, c) = (sent.clone(), cuts_done.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                let dead = Arc::new(AtomicBool::new(false));
                for (from, to, request) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap(), true),
                    (server.try_clone().unwrap(), client.try_clone().unwrap(), false),
                ] {
                    let (state, sent, cuts_done, dead) = (state.clone(), s.clone(), c.clone(), dead.clone());
                    let (a, b) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let (mut from, mut to) = (from, to);
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || dead.load(Ordering::SeqCst) {
                                break;
                            }
                            let mut n = n;
                            let cut = {
                                let mut st = state.lock().unwrap();
                                let (total, cuts) = &mut *st;
                                let next = cuts.first().copied();
                                let cut = match next {
                                    Some(at) if *total + n >= at => {
                                        n = at - *total;
                                        cuts.remove(0);
                                        true
                                    }
                                    _ => false,
                                };
                                *total += n;
                                cut
                            };
                            if request {
                                sent.fetch_add(n, Ordering::SeqCst);
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            if cut {
                                dead.store(true, Ordering::SeqCst);
                                cuts_done.fetch_add(1, Ordering::SeqCst);
                                let _ = a.shutdown(Shutdown::Both);
                                let _ = b.shutdown(Shutdown::Both);
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        CuttingProxy { addr, sent, cuts_done }
    }
}

/// 50 photos of ~1.5 MB, uploaded through a proxy that cuts the connection at random bytes,
/// over several runs: every photo stored once, byte-identical, nothing lost, and the phone sent
/// at most 1.1× the photos' bytes (a restart re-sends only the chunk in flight).
fn uploads_resume_where_they_were_cut(storage: Arc<dyn Storage>, data_dir: Option<&std::path::Path>, seed: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), &format!("Lunetten {seed}"), 1);
    let phone = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    // Records synced first: the photos are what this test sends through the proxy.
    let mut photos = Vec::new();
    let mut record = None;
    for (i, shot) in shots().iter().enumerate() {
        if i % 5 == 0 {
            record = Some(add(&phone, observation(&format!("Dumpplek {i}"))).id);
        }
        let r = record.unwrap();
        let p = phone.store.attach_photo(&r, shot).unwrap();
        photos.push((r, p.id, phone.store.photo_bytes(&p.id).unwrap()));
    }
    let total: usize = photos.iter().map(|(_, _, b)| b.len()).sum();
    assert!((60 << 20..100 << 20).contains(&total), "50 photos of ~1.5 MB: {total}");
    // Cut ~25 times at random bytes of the upload's stream.
    let mut cuts: Vec<usize> = (0..25).map(|_| rng.random_range(1..total)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let proxy = CuttingProxy::start(server.addr, cuts.clone());
    let through = HttpTransport::new(&format!("http://{}", proxy.addr));
    // The phone syncs as its shell would after each failure, until everything is there.
    let mut failures = 0;
    let mut uploaded = 0;
    for _ in 0..200 {
        match phone.store.sync(&through, &AtomicBool::new(false)) {
            Ok(out) => {
                uploaded += out.photos_uploaded;
                if phone.store.photos_waiting().unwrap() == 0 {
                    break;
                }
            }
            Err(Error::Transport(_)) => failures += 1,
            Err(e) => panic!("a sync failed otherwise than by the cut: {e}"),
        }
    }
    let refused: Vec<Option<String>> = photos
        .iter()
        .flat_map(|(r, _, _)| phone.store.photos(r).unwrap())
        .map(|p| p.upload_refused)
        .filter(Option::is_some)
        .collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    assert_eq!(phone.store.photos_waiting().unwrap(), 0, "{failures} failed syncs, {uploaded} photos in the last");
    assert!(photos.iter().all(|(r, _, _)| phone.store.photos(r).unwrap().iter().all(|p| p.uploaded())));
    assert!(proxy.cuts_done.load(Ordering::SeqCst) >= cuts.len() - 2, "the proxy cut the stream");
    for (record, id, bytes) in &photos {
        let held = storage.photos_of(&t.team.id, &record.to_string()).unwrap();
        assert_eq!(held.iter().filter(|p| p.photo.id == id.to_string()).count(), 1);
        assert!(held.iter().all(|p| p.stored && p.received == p.photo.size));
        assert_eq!(&storage.photo_bytes(&t.team.id, &id.to_string()).unwrap().unwrap(), bytes, "byte-identical");
    }
    if let Some(dir) = data_dir {
        let files = photo_files(dir);
        assert_eq!(files.len(), photos.len(), "one file a photo, nothing left under way");
    }
    let sent = proxy.sent.load(Ordering::SeqCst);
    let ratio = sent as f64 / total as f64;
    eprintln!("photos: {total} bytes, sent {sent} ({ratio:.3}×) with {} cuts, {failures} failed syncs", cuts.len());
    assert!(ratio <= 1.1, "sent {ratio:.3}× the photos' bytes");
}

/// The 50 photos the resumable-upload test sends (made once: encoding them is the slow part).
fn shots() -> Vec<Vec<u8>> {
    static SHOTS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SHOTS.get_or_init(|| (0..50).map(|i| camera_jpeg(1024, 768, 100 + i)).collect()).clone()
}

#[test]
fn uploads_resume_where_they_were_cut_sqlite() {
    for seed in 1..=3 {
        let dir = tempfile::tempdir().unwrap();
        uploads_resume_where_they_were_cut(sqlite_storage(dir.path()), Some(dir.path()), seed);
    }
}

#[test]
fn uploads_resume_where_they_were_cut_postgres() {
    uploads_resume_where_they_were_cut(postgres_storage(), None, 4);
}

/// One request with a fresh connection: the status and the body.
fn api(server: &TestServer, path: &str, auth: &str, body: &[u8], encoding: Option<&str>) -> (u16, Vec<u8>) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
    let mut req = agent.post(&format!("{}{path}", server.url)).header("Authorization", &format!("Bearer {auth}"));
    if let Some(e) = encoding {
        req = req.header("Content-Encoding", e);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap())
}

fn credential(server: &TestServer, storage: &dyn Storage, member: &str) -> String {
    let code = admin::issue_code(storage, member, 1).unwrap();
    let body = serde_json::to_vec(&json!({"protocol": 5, "code": code, "device_name": "Aanvaller"})).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent.post(&format!("{}/v1/enrol", server.url)).send(&body[..]).unwrap();
    let v: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
    format!("{}.{}", v["device_id"].as_str().unwrap(), v["credential"].as_str().unwrap())
}

fn sha(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn offer_body(id: &str, record: &RecordId, position: u32, bytes: &[u8], sha256: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"protocol": 5, "photo": {
        "id": id, "record_id": record.to_string(), "position": position, "sha256": sha256,
        "size": bytes.len(), "width": 320, "height": 240}}))
    .unwrap()
}

/// Sends `bytes` in chunks from offset 0; the last answer.
fn send_all(server: &TestServer, cred: &str, id: &str, bytes: &[u8]) -> (u16, Vec<u8>) {
    let mut last = (0, Vec::new());
    for (i, chunk) in bytes.chunks(64 * 1024).enumerate() {
        last = api(server, &format!("/v1/photos/{id}/bytes?offset={}", i * 64 * 1024), cred, chunk, None);
        if last.0 != 200 {
            break;
        }
    }
    last
}

fn code_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["error"].as_str().map(String::from)).unwrap_or_default()
}

/// A member's phone turned hostile (its credential used by hand) against honest colleagues.
#[test]
fn a_hostile_phone_stores_nothing_the_cleaner_would_not_and_touches_no_colleagues_photo() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start_configured(storage.clone(), "127.0.0.1:0".parse().unwrap(), |s| {
        s.photo_quota = PhotoQuota { team_bytes: 1 << 30, member_bytes: 600_000 }
    });
    let t = team(storage.as_ref(), "Zuilen", 2);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let mallory = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let cred = credential(&server, storage.as_ref(), &t.workers[1].id);
    let hers = add(&sanne, observation("Graffiti-tag op de brug"));
    let her_photo = sanne.store.attach_photo(&hers.id, &camera_jpeg(320, 240, 7)).unwrap();
    sanne.sync().unwrap();
    let own = add(&mallory, observation("Auto die er altijd staat"));
    let talk = add(&mallory, conversation("Bewoner over overlast"));
    mallory.sync().unwrap();
    let dirty = camera_jpeg(320, 240, 8);
    let clean = wijkverkenner_core::photo::clean_jpeg(&dirty, Default::default()).unwrap().bytes;

    // A photo on a colleague's record, a conversation, a sixth place, a false id.
    let id = || uuid::Uuid::now_v7().to_string();
    let (s, b) = api(&server, "/v1/photos/offer", &cred, &offer_body(&id(), &hers.id, 1, &clean, &sha(&clean)), None);
    assert_eq!((s, code_of(&b).as_str()), (403, "not_author"));
    let (s, b) = api(&server, "/v1/photos/offer", &cred, &offer_body(&id(), &talk.id, 0, &clean, &sha(&clean)), None);
    assert_eq!((s, code_of(&b).as_str()), (422, "photo_not_allowed"));
    let (s, _) = api(&server, "/v1/photos/offer", &cred, &offer_body(&id(), &own.id, 5, &clean, &sha(&clean)), None);
    assert_eq!(s, 400);
    let (s, _) =
        api(&server, "/v1/photos/offer", &cred, &offer_body("not-an-id", &own.id, 0, &clean, &sha(&clean)), None);
    assert_eq!(s, 400);
    // Her photo's id with another description; chunks to her photo; fetching hers is fine
    // (an observation), sending to it is not.
    let theirs = her_photo.id.to_string();
    let (s, b) = api(&server, "/v1/photos/offer", &cred, &offer_body(&theirs, &own.id, 0, &clean, &sha(&clean)), None);
    assert_eq!((s, code_of(&b).as_str()), (409, "photo_conflict"));
    let (s, _) = api(&server, &format!("/v1/photos/{theirs}/bytes?offset=0"), &cred, &clean[..1000], None);
    assert_eq!(s, 404);
    let stored = storage.photo_bytes(&t.team.id, &theirs).unwrap().unwrap();
    assert_eq!(stored, sanne.store.photo_bytes(&her_photo.id).unwrap(), "her photo untouched");

    // Metadata left in: every byte arrives, and the photo is refused and its bytes dropped.
    let dirty_id = id();
    let (s, _) =
        api(&server, "/v1/photos/offer", &cred, &offer_body(&dirty_id, &own.id, 0, &dirty, &sha(&dirty)), None);
    assert_eq!(s, 200);
    let (s, b) = send_all(&server, &cred, &dirty_id, &dirty);
    assert_eq!((s, code_of(&b).as_str()), (422, "photo_not_clean"));
    let held = storage.photo(&t.team.id, &dirty_id).unwrap().unwrap();
    assert!(!held.stored && held.received == 0);
    assert!(files_containing(dir.path(), CANARY).is_empty(), "the canary was dropped with the bytes");
    // Bytes that are not what was offered.
    let mut wrong = dirty.clone();
    wrong[dirty.len() / 2] ^= 1;
    let (s, b) = send_all(&server, &cred, &dirty_id, &wrong);
    assert_eq!((s, code_of(&b).as_str()), (422, "photo_hash_mismatch"));
    assert_eq!(storage.photo(&t.team.id, &dirty_id).unwrap().unwrap().received, 0);

    // A clean photo, sent out of order, twice, and past its end: stored once, exactly.
    let good = id();
    let (s, _) = api(&server, "/v1/photos/offer", &cred, &offer_body(&good, &own.id, 1, &clean, &sha(&clean)), None);
    assert_eq!(s, 200);
    let at = |offset: usize| format!("/v1/photos/{good}/bytes?offset={offset}");
    let state = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap();
    let (s, b) = api(&server, &at(1000), &cred, &clean[1000..2000], None);
    assert_eq!((s, state(&b)["received"].as_u64()), (200, Some(0)), "a chunk at the wrong offset changes nothing");
    api(&server, &at(0), &cred, &clean[..1000], None);
    let (_, b) = api(&server, &at(0), &cred, &clean[..1000], None);
    assert_eq!(state(&b)["received"].as_u64(), Some(1000), "a replayed chunk changes nothing");
    let mut past = clean[1000..].to_vec();
    past.extend_from_slice(b"trailing bytes");
    let (s, _) = api(&server, &at(1000), &cred, &past, None);
    assert_eq!(s, 400);
    let (s, _) = api(&server, &at(1000), &cred, &vec![0u8; 300 * 1024], None);
    assert_eq!(s, 413, "a chunk larger than the protocol's");
    let (s, _) = api(&server, &format!("/v1/photos/{good}/bytes?offset=-1"), &cred, &clean[..10], None);
    assert_eq!(s, 400);
    let (s, _) = api(&server, &format!("/v1/photos/{good}/bytes"), &cred, &clean[..10], None);
    assert_eq!(s, 400);
    let (s, _) = api(&server, &at(1000), &cred, b"\x28\xb5\x2f\xfdgarbage", Some("zstd"));
    assert_eq!(s, 400);
    let (s, b) = api(&server, &at(1000), &cred, &clean[1000..], None);
    assert_eq!((s, state(&b)["stored"].as_bool()), (200, Some(true)));
    assert_eq!(storage.photo_bytes(&t.team.id, &good).unwrap().unwrap(), clean);

    // An offer made before the lead's review cannot be filled in after it: the content is
    // frozen, the photo refused and its bytes dropped.
    let late = add(&mallory, observation("Scooter zonder kenteken"));
    mallory.sync().unwrap();
    let parked = id();
    let (s, _) = api(&server, "/v1/photos/offer", &cred, &offer_body(&parked, &late.id, 0, &clean, &sha(&clean)), None);
    assert_eq!(s, 200);
    api(&server, &format!("/v1/photos/{parked}/bytes?offset=0"), &cred, &clean[..1000], None);
    let rules = wijkverkenner_server::sync::Rules { taxonomy: &Taxonomy::default_taxonomy(), settings_version: 0 };
    let reviewed = wijkverkenner_server::review::decide(
        storage.as_ref(),
        rules,
        &t.lead,
        &t.team,
        &late.id.to_string(),
        &wijkverkenner_server::review::Decision::Reviewed,
        None,
    )
    .unwrap();
    assert_eq!(reviewed, Ok(()));
    let (s, b) = api(&server, &format!("/v1/photos/{parked}/bytes?offset=1000"), &cred, &clean[1000..], None);
    assert_eq!((s, code_of(&b).as_str()), (422, "record_frozen"));
    let held = storage.photo(&t.team.id, &parked).unwrap().unwrap();
    assert!(!held.stored && held.received == 0, "{held:?}");
    // Another photo's id and a taken place are answered alike (ids tell nothing).
    let (_, by_id) =
        api(&server, "/v1/photos/offer", &cred, &offer_body(&theirs, &own.id, 3, &clean, &sha(&clean)), None);
    let (_, by_place) =
        api(&server, "/v1/photos/offer", &cred, &offer_body(&id(), &own.id, 1, &clean, &sha(&clean)), None);
    assert_eq!(by_id, by_place);

    // Her record's photos stay hers: a delete by the hostile phone changes nothing.
    assert_eq!(storage.photos_of(&t.team.id, &hers.id.to_string()).unwrap().len(), 1);
    // The member's quota: the next offers fail once it is reached, and nobody else's do.
    let big = vec![0u8; 500_000];
    let (s, b) = api(&server, "/v1/photos/offer", &cred, &offer_body(&id(), &own.id, 2, &big, &sha(&big)), None);
    assert_eq!((s, code_of(&b).as_str()), (507, "photo_quota"));
    let next = add(&sanne, observation("Nog een tag"));
    sanne.store.attach_photo(&next.id, &camera_jpeg(320, 240, 9)).unwrap();
    assert_eq!(sanne.sync().unwrap().photos_uploaded, 1, "a colleague's quota is her own");
    // Garbage offers, listings and fetches: 4xx, never a failure of the server.
    for (path, body) in [
        ("/v1/photos/offer", b"{".to_vec()),
        ("/v1/photos/offer", b"{\"protocol\":5,\"photo\":{}}".to_vec()),
        ("/v1/photos/list", serde_json::to_vec(&json!({"protocol": 5, "record_ids": vec!["x"; 101]})).unwrap()),
        ("/v1/photos/fetch", serde_json::to_vec(&json!({"protocol": 5, "id": "x".repeat(5000)})).unwrap()),
        ("/v1/photos/fetch", serde_json::to_vec(&json!({"protocol": 5, "id": dirty_id})).unwrap()),
    ] {
        let (s, _) = api(&server, path, &cred, &body, None);
        assert!((400..500).contains(&s), "{path}: {s}");
    }
}

/// The storage's exactly-once append: whatever chunks arrive, at whatever offsets, in whatever
/// order and how often, what it holds is always the photo's first `received` bytes.
fn appends_exactly_once(storage: &dyn Storage, team_id: &str, chunks: &[(usize, usize)]) {
    let photo: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    let id = uuid::Uuid::now_v7().to_string();
    let meta = wijkverkenner_core::sync::wire::PhotoRef {
        id: id.clone(),
        record_id: uuid::Uuid::now_v7().to_string(),
        position: 0,
        sha256: sha(&photo),
        size: photo.len() as u64,
        width: 10,
        height: 10,
    };
    let taken = storage.offer_photo("m", team_id, &meta, PhotoQuota::default(), 0).unwrap();
    assert!(matches!(taken, PhotoOffered::Taken(_)));
    for &(offset, len) in chunks {
        let offset = offset.min(photo.len());
        let end = (offset + len).min(photo.len());
        let after = storage.append_photo(team_id, &id, offset as u64, &photo[offset..end]).unwrap().unwrap();
        let held = storage.photo_bytes(team_id, &id).unwrap().unwrap();
        assert_eq!(held.len() as u64, after.received);
        assert_eq!(held, photo[..held.len()], "the held bytes are the photo's first bytes");
    }
    storage.delete_photos(team_id, &meta.record_id).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn the_storage_appends_each_byte_exactly_once(
        chunks in prop::collection::vec((0usize..21_000, 0usize..9_000), 1..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let storage = sqlite_storage(dir.path());
        let t = admin::create_team(storage.as_ref(), "Proptest").unwrap();
        // Half the chunks at the offset the server holds, as an honest phone sends them.
        let mut honest = Vec::new();
        let mut at = 0;
        for (i, (offset, len)) in chunks.iter().enumerate() {
            if i % 2 == 0 {
                honest.push((at, *len));
                at = (at + len).min(20_000);
            } else {
                honest.push((*offset, *len));
            }
        }
        appends_exactly_once(storage.as_ref(), &t.id, &honest);
    }
}

#[test]
fn the_postgres_storage_appends_each_byte_exactly_once() {
    let storage = postgres_storage();
    let t = admin::create_team(storage.as_ref(), "Exactly once").unwrap();
    appends_exactly_once(storage.as_ref(), &t.id, &[(0, 5000), (0, 5000), (9000, 10), (5000, 16_000), (1, 1)]);
}
