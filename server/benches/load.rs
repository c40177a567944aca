//! Load with a peer (issue 11): 200 phones syncing in one burst against the team server as it
//! ships (the release binary, embedded SQLite) and against pouchdb-server under the same
//! burst, each server alone on core 0 and the load generated from core 1.
//!
//! The load is a replay, so that the generator costs the servers' core nothing and both get
//! the same burst: first each system's own clients sync one phone at a time through a
//! recording proxy (ours: 200 encrypted stores of the core, ten records each; the peer: 200
//! PouchDBs on LevelDB with the same documents), which keeps every request's bytes and the
//! status answered. Then the server's data, as it was before the recording, is restored, the
//! server started pinned to core 0, and 200 threads on core 1 send each phone's requests in
//! their recorded order, one keep-alive connection per phone, all phones at once. Two
//! bursts: the first sync (push ten, pull what is there) and the second (pull the others').
//! A request answered with another status than recorded counts as an error.
//!
//! What it does not show: the phones' own work (their side is a replay), TLS (both plain
//! HTTP on loopback), or PostgreSQL (the sync benchmark's load table has it, in process).
//! pouchdb-server's LevelDB does not fsync its writes; our server does.
//!
//! `bash scripts/bench.sh`, or `cargo bench -p wijkverkenner-server --bench load` with
//! WV_POUCHDB_DIR set to `server/benches/pouchdb` after `npm install` there.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::*;

const SERVER: &str = env!("CARGO_BIN_EXE_wijkverkenner-server");
const PHONES: usize = 200;

/// One request as a phone sent it (head and body, byte for byte) and the status it got.
#[derive(Clone)]
struct Exchange {
    request: Vec<u8>,
    head_method: bool,
    status: u16,
    response_bytes: usize,
}

/// The requests of each phone of one round, in the order they were sent.
type Round = Vec<Vec<Exchange>>;

// --- HTTP/1.1 message framing: just enough to find where a message ends -------------------

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// A message's head up to and including the empty line; `None` at a clean end of stream.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return if head.is_empty() { Ok(None) } else { Err(invalid("end of stream inside a head")) };
        }
        if line == b"\r\n" {
            if head.is_empty() {
                continue; // an empty line between messages
            }
            head.extend_from_slice(&line);
            return Ok(Some(head));
        }
        head.extend_from_slice(&line);
        if head.len() > 1 << 20 {
            return Err(invalid("head too long"));
        }
    }
}

fn header(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head).lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// Appends the body that follows `head` to `out`. A response without a length runs until the
/// connection closes; a request without one has no body.
fn read_body(r: &mut impl BufRead, head: &[u8], response: bool, out: &mut Vec<u8>) -> std::io::Result<()> {
    if header(head, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line)?;
            out.extend_from_slice(&line);
            let text = String::from_utf8_lossy(&line);
            let size = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut t = Vec::new();
                    if r.read_until(b'\n', &mut t)? == 0 {
                        return Err(invalid("end of stream in trailers"));
                    }
                    out.extend_from_slice(&t);
                    if t == b"\r\n" {
                        return Ok(());
                    }
                }
            }
            let start = out.len();
            out.resize(start + size + 2, 0);
            r.read_exact(&mut out[start..])?;
        }
    } else if let Some(n) = header(head, "content-length") {
        let n: usize = n.parse().map_err(|_| invalid("bad content-length"))?;
        let start = out.len();
        out.resize(start + n, 0);
        r.read_exact(&mut out[start..])
    } else if response {
        r.read_to_end(out).map(|_| ())
    } else {
        Ok(())
    }
}

fn status_of(head: &[u8]) -> std::io::Result<u16> {
    String::from_utf8_lossy(head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status"))
}

/// Reads one whole response (head and body); its status, its bytes, and whether the server
/// closes the connection after it.
fn read_response(r: &mut impl BufRead, head_method: bool) -> std::io::Result<(u16, Vec<u8>, bool)> {
    let head = read_head(r)?.ok_or_else(|| invalid("connection closed before an answer"))?;
    let status = status_of(&head)?;
    let mut all = head.clone();
    let bodiless = head_method || status == 204 || status == 304 || (100..200).contains(&status);
    if !bodiless {
        read_body(r, &head, true, &mut all)?;
    }
    let close = header(&head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
        || (!bodiless && header(&head, "content-length").is_none() && header(&head, "transfer-encoding").is_none());
    Ok((status, all, close))
}

// --- Recording -----------------------------------------------------------------------------

/// A proxy that keeps each request under the phone named current, forwards it and the
/// answer. Each request's `Connection` header is dropped (both systems' replays keep their
/// connections alive) and an `X-Forwarded-For` naming its phone added: the servers see 200
/// phones from 200 addresses, as they would in the field.
struct Recorder {
    addr: SocketAddr,
    state: Arc<Mutex<(usize, Round)>>,
}

impl Recorder {
    fn start(upstream: SocketAddr) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new((0usize, vec![Vec::new(); PHONES])));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let state = shared.clone();
                std::thread::spawn(move || {
                    if let Err(e) = Recorder::serve(client, upstream, &state) {
                        eprintln!("recording proxy: {e}");
                    }
                });
            }
        });
        Recorder { addr, state }
    }

    fn serve(client: TcpStream, upstream: SocketAddr, state: &Mutex<(usize, Round)>) -> std::io::Result<()> {
        client.set_nodelay(true)?;
        let mut from_client = BufReader::new(client.try_clone()?);
        let mut to_client = client;
        let mut server: Option<(BufReader<TcpStream>, TcpStream)> = None;
        while let Some(head) = read_head(&mut from_client)? {
            let phone = state.lock().unwrap().0;
            let text = String::from_utf8_lossy(&head).into_owned();
            let mut lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
            lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
            let forwarded = format!("X-Forwarded-For: 10.{}.{}.1", phone / 256, phone % 256);
            lines.insert(1, &forwarded);
            let mut request = (lines.join("\r\n") + "\r\n\r\n").into_bytes();
            read_body(&mut from_client, &head, false, &mut request)?;
            let head_method = text.starts_with("HEAD ");
            if server.is_none() {
                let s = TcpStream::connect(upstream)?;
                s.set_nodelay(true)?;
                server = Some((BufReader::new(s.try_clone()?), s));
            }
            let (from_server, to_server) = server.as_mut().unwrap();
            to_server.write_all(&request)?;
            let (status, response, close) = read_response(from_server, head_method)?;
            state.lock().unwrap().1[phone].push(Exchange {
                request,
                head_method,
                status,
                response_bytes: response.len(),
            });
            to_client.write_all(&response)?;
            if close {
                server = None;
            }
        }
        Ok(())
    }

    /// The requests recorded since the last call, per phone.
    fn take(&self) -> Round {
        std::mem::replace(&mut self.state.lock().unwrap().1, vec![Vec::new(); PHONES])
    }

    fn phone(&self, i: usize) {
        self.state.lock().unwrap().0 = i;
    }
}

// --- Replaying -----------------------------------------------------------------------------

struct Burst {
    /// Each phone's time from the start of the burst to its last answer.
    latencies: Vec<Duration>,
    wall: Duration,
    errors: usize,
    requests: usize,
    response_bytes: usize,
}

/// One request on the phone's connection, reconnecting once when the server closed it.
fn exchange(
    upstream: SocketAddr,
    conn: &mut Option<(BufReader<TcpStream>, TcpStream)>,
    ex: &Exchange,
) -> std::io::Result<(u16, usize)> {
    for attempt in 0..2 {
        if conn.is_none() {
            let s = TcpStream::connect(upstream)?;
            s.set_nodelay(true)?;
            *conn = Some((BufReader::new(s.try_clone()?), s));
        }
        let (r, w) = conn.as_mut().unwrap();
        let sent = w.write_all(&ex.request);
        match sent.and_then(|_| read_response(r, ex.head_method)) {
            Ok((status, bytes, close)) => {
                if close {
                    *conn = None;
                }
                return Ok((status, bytes.len()));
            }
            Err(e) if attempt == 0 => {
                let _ = e;
                *conn = None;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!()
}

fn replay(upstream: SocketAddr, round: &Round) -> Burst {
    let barrier = Arc::new(Barrier::new(round.len()));
    let results: Vec<(Instant, Instant, usize, usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = round
            .iter()
            .map(|exchanges| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    let mut conn = None;
                    let (mut errors, mut bytes) = (0, 0);
                    barrier.wait();
                    let start = Instant::now();
                    for ex in exchanges {
                        match exchange(upstream, &mut conn, ex) {
                            Ok((status, n)) => {
                                bytes += n;
                                if status != ex.status {
                                    errors += 1;
                                    let text = String::from_utf8_lossy(&ex.request[..ex.request.len().min(200)]);
                                    let line = text.lines().next().unwrap_or("");
                                    let path = line.split(['?', ' ']).take(2).collect::<Vec<_>>().join(" ");
                                    eprintln!("answered {status}, {} when recorded: {path}", ex.status);
                                }
                            }
                            Err(e) => {
                                errors += 1;
                                eprintln!("no answer: {e}");
                            }
                        }
                    }
                    (start, Instant::now(), errors, exchanges.len(), bytes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = results.iter().map(|r| r.0).min().unwrap();
    let last = results.iter().map(|r| r.1).max().unwrap();
    Burst {
        latencies: results.iter().map(|r| r.1 - first).collect(),
        wall: last - first,
        errors: results.iter().map(|r| r.2).sum(),
        requests: results.iter().map(|r| r.3).sum(),
        response_bytes: results.iter().map(|r| r.4).sum(),
    }
}

// --- The two systems -----------------------------------------------------------------------

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(port: u16, child: &mut Child) {
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server ended before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not listen on {port} within 30 s");
}

/// Ends a server as an operator would (SIGINT: it finishes and closes its files).
fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `command`, pinned to `core` when given.
fn pinned(core: Option<usize>, program: &str) -> Command {
    match core {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", &c.to_string(), program]);
            cmd
        }
        None => Command::new(program),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn cli(data: &Path, args: &[&str]) -> String {
    let out = Command::new(SERVER).arg("--data").arg(data).args(args).stderr(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{args:?} failed");
    String::from_utf8(out.stdout).unwrap().lines().next().unwrap_or("").trim().to_string()
}

fn serve(data: &Path, port: u16, core: Option<usize>) -> Child {
    let mut child = pinned(core, SERVER)
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--trust-forwarded-for"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port, &mut child);
    child
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

/// Our system: the server's data before the first sync, the two rounds recorded, and each
/// phone's documents (for the peer's phones).
fn record_ours(work: &Path) -> (PathBuf, [Round; 2], Vec<Vec<serde_json::Value>>) {
    let data = work.join("ours-recording");
    let team = cli(&data, &["team-create", "Load"]);
    let port = free_port();
    let server = serve(&data, port, None);
    let url = format!("http://127.0.0.1:{port}");
    let t0 = chrono::Utc::now().timestamp_millis() - 86_400_000;
    let mut docs = Vec::new();
    let stores: Vec<Store> = (0..PHONES)
        .map(|i| {
            let member =
                cli(&data, &["member-add", "--team", &team, "--name", &format!("P{i}"), "--organisation", "X"]);
            let code = cli(&data, &["enrol-code", "--member", &member]);
            let store =
                Store::open(work.join(format!("phone-{i}.db")), Encryption::Key(StoreKey::new([5; 32]))).unwrap();
            store.enrol(&HttpTransport::new(&url), &code, "load").unwrap();
            let walk = store
                .start_walk(NewWalk {
                    participants: vec![],
                    purpose: String::new(),
                    focus: vec![],
                    started: Moment { utc_ms: t0, offset_s: 0 },
                })
                .unwrap();
            let batch: Vec<NewRecord> = (0..10).map(|k| record(walk.id, i * 10 + k, t0)).collect();
            store.add_records(&batch).unwrap();
            docs.push(store.pending_changes(100).unwrap().iter().map(|e| serde_json::to_value(e).unwrap()).collect());
            store
        })
        .collect();
    stop(server);
    let before = work.join("ours-before");
    copy_dir(&data, &before);
    let server = serve(&data, port, None);
    let recorder = Recorder::start(([127, 0, 0, 1], port).into());
    let via = format!("http://{}", recorder.addr);
    let mut rounds: [Round; 2] = Default::default();
    for round in rounds.iter_mut() {
        for (i, store) in stores.iter().enumerate() {
            recorder.phone(i);
            store.sync(&HttpTransport::new(&via), &AtomicBool::new(false)).unwrap();
        }
        *round = recorder.take();
    }
    let held = stores.iter().map(|s| s.record_counts().unwrap().0).min().unwrap();
    assert_eq!(held as usize, PHONES * 10, "every phone holds the team's records after two rounds");
    stop(server);
    (before, rounds, docs)
}

fn pouchdb_server(pouch: &str, dir: &Path, port: u16, core: Option<usize>) -> Child {
    std::fs::create_dir_all(dir).unwrap();
    let mut child = pinned(core, &format!("{pouch}/node_modules/.bin/pouchdb-server"))
        .args(["--port", &port.to_string(), "--dir", &dir.to_string_lossy(), "--no-stdout-logs"])
        .current_dir(dir.parent().unwrap()) // it writes config.json and log.txt where it runs
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port, &mut child);
    child
}

/// A request of our own to a server (the peer's database is created before the recording).
fn request(port: u16, method: &str, path: &str) -> u16 {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut w = s.try_clone().unwrap();
    write!(w, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n").unwrap();
    read_response(&mut BufReader::new(s), method == "HEAD").unwrap().0
}

/// The peer: pouchdb-server's data before the first sync and the two rounds recorded.
fn record_pouchdb(pouch: &str, work: &Path, docs: &[Vec<serde_json::Value>]) -> (PathBuf, [Round; 2]) {
    let dir = work.join("pouch-recording").join("data");
    let port = free_port();
    let server = pouchdb_server(pouch, &dir, port, None);
    assert!(matches!(request(port, "PUT", "/load"), 201 | 202), "the peer's database is created");
    stop(server);
    let before = work.join("pouch-before");
    copy_dir(&dir, &before);
    let server = pouchdb_server(pouch, &dir, port, None);
    let recorder = Recorder::start(([127, 0, 0, 1], port).into());
    let phones = work.join("pouch-phones.json");
    std::fs::write(&phones, serde_json::to_vec(docs).unwrap()).unwrap();
    let locals = work.join("pouch-phones");
    std::fs::create_dir_all(&locals).unwrap();
    let mut driver = Command::new("node")
        .arg(format!("{pouch}/load.js"))
        .arg(format!("http://{}/load", recorder.addr))
        .arg(&phones)
        .arg(&locals)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_driver = driver.stdin.take().unwrap();
    let mut from_driver = BufReader::new(driver.stdout.take().unwrap());
    let mut line = String::new();
    let mut next_line = |line: &mut String| {
        line.clear();
        from_driver.read_line(line).unwrap();
        line.trim().to_string()
    };
    assert_eq!(next_line(&mut line), "ready");
    let mut rounds: [Round; 2] = Default::default();
    for (r, round) in rounds.iter_mut().enumerate() {
        for i in 0..docs.len() {
            recorder.phone(i);
            writeln!(to_driver, "{} {i}", if r == 0 { "sync" } else { "pull" }).unwrap();
            assert_eq!(next_line(&mut line), format!("done {i}"));
        }
        *round = recorder.take();
    }
    drop(to_driver);
    let _ = driver.wait();
    let all = request(port, "GET", "/load");
    assert_eq!(all, 200);
    stop(server);
    (before, rounds)
}

// --- Report --------------------------------------------------------------------------------

fn quantile(xs: &mut [Duration], q: f64) -> Duration {
    xs.sort();
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Summary {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
    requests: usize,
    bytes: usize,
}

/// Three bursts on freshly restored data, each after one request (`warm`) that a server
/// running for a while would have answered long before (pouchdb-server opens a database on
/// its first request and answers 404 to the others arriving meanwhile); the median burst
/// (by wall time) counts.
fn measure(
    mut start: impl FnMut(&Path) -> (Child, SocketAddr),
    warm: &str,
    before: &Path,
    rounds: &[Round; 2],
    work: &Path,
) -> [Summary; 2] {
    let mut runs: Vec<[Burst; 2]> = (0..3)
        .map(|run| {
            let data = work.join(format!("run-{run}-{}", uuid::Uuid::now_v7()));
            copy_dir(before, &data);
            let (server, addr) = start(&data);
            assert_eq!(request(addr.port(), "GET", warm), 200, "{warm}");
            let bursts = [replay(addr, &rounds[0]), replay(addr, &rounds[1])];
            stop(server);
            let _ = std::fs::remove_dir_all(&data);
            bursts
        })
        .collect();
    runs.sort_by_key(|b| b[0].wall + b[1].wall);
    let [first, second] = runs.swap_remove(1);
    [first, second].map(|mut b| Summary {
        rate: b.latencies.len() as f64 / b.wall.as_secs_f64(),
        p50: quantile(&mut b.latencies, 0.5),
        p99: quantile(&mut b.latencies, 0.99),
        errors: b.errors,
        requests: b.requests,
        bytes: b.response_bytes,
    })
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Ok(pouch) = std::env::var("WV_POUCHDB_DIR") else {
        panic!("set WV_POUCHDB_DIR (scripts/bench.sh does): the load benchmark has a peer");
    };
    // The generator on core 1, the servers on core 0 (when there are two).
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (server_core, note) = if cores >= 2 {
        let ok = Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "taskset (util-linux) pins the load generator");
        (Some(0), "server on core 0, load from core 1")
    } else {
        (None, "one core: server and load share it")
    };
    let work = tempfile::tempdir().unwrap();
    let (ours_before, ours_rounds, docs) = record_ours(work.path());
    let (pouch_before, pouch_rounds) = record_pouchdb(&pouch, work.path(), &docs);
    let port = free_port();
    let ours = measure(
        |data| (serve(data, port, server_core), ([127, 0, 0, 1], port).into()),
        "/health",
        &ours_before,
        &ours_rounds,
        work.path(),
    );
    let peer = measure(
        |data| (pouchdb_server(&pouch, data, port, server_core), ([127, 0, 0, 1], port).into()),
        "/load",
        &pouch_before,
        &pouch_rounds,
        work.path(),
    );
    // Requests, their bytes and the bytes answered when recorded (one phone at a time).
    let recorded = |r: &Round| -> (usize, usize, usize) {
        (
            r.iter().map(Vec::len).sum(),
            r.iter().flatten().map(|e| e.request.len()).sum(),
            r.iter().flatten().map(|e| e.response_bytes).sum(),
        )
    };
    println!(
        "machine: {cores} cores, {note}; date {}; {PHONES} phones, 10 records each; the median of three bursts",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!();
    println!("| burst of {PHONES} phones | ours: syncs/s, p50, p99, errors | pouchdb-server: syncs/s, p50, p99, errors | requests (bytes sent / answered) ours, peer | throughput ours / peer | goal |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (i, name) in ["first sync (push 10, pull what is there)", "second sync (pull the others')"].iter().enumerate() {
        let (o, p) = (&ours[i], &peer[i]);
        let (or, ob, oa) = recorded(&ours_rounds[i]);
        let (pr, pb, pa) = recorded(&pouch_rounds[i]);
        assert_eq!((o.requests, p.requests), (or, pr));
        eprintln!("{name}: answered when recorded {oa} (ours), {pa} (peer); in the burst {} and {}", o.bytes, p.bytes);
        println!(
            "| {name} | {:.0}/s, {:.0} ms, {:.0} ms, {} | {:.0}/s, {:.0} ms, {:.0} ms, {} | {or} ({ob} / {}), {pr} ({pb} / {}) | {:.1}× | ≥ 5× |",
            o.rate, ms(o.p50), ms(o.p99), o.errors, p.rate, ms(p.p50), ms(p.p99), p.errors, o.bytes, p.bytes,
            o.rate / p.rate
        );
    }
}
