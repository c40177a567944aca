//! Faults: the connection cut at every point of the request and of the response (so on the
//! phone's side and on the server's), duplicated and reordered requests, the server restarted
//! mid-sync, phone clocks a day off. After the next good sync nothing is lost and nothing is
//! duplicated. Prints the figures.

use crate::common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::sync::{HttpResponse, Transport, TransportError};
use wijkverkenner_core::*;

/// What to do when a cut happens (e.g. restart the server right then).
type OnCut = Arc<Mutex<Option<Box<dyn FnMut() + Send>>>>;
/// A request as sent: path, credential, body.
type Recorded = (String, Option<String>, Vec<u8>);

/// Where to cut the next connection: after this many bytes from the phone, or to the phone.
#[derive(Clone, Copy, Debug)]
enum Cut {
    Request(usize),
    Response(usize),
}

/// A loopback TCP proxy in front of the server that can cut one connection mid-stream.
struct Proxy {
    addr: SocketAddr,
    /// The pending cut and the exchange it belongs to.
    cut: Arc<Mutex<(Option<Cut>, u64)>>,
    /// Called when a cut happens (e.g. to restart the server right then).
    on_cut: OnCut,
    /// Bytes sent to the server and back since the last `clear`.
    counted: Arc<[std::sync::atomic::AtomicUsize; 2]>,
}

/// Copies bytes one way. When a cut for this direction is pending (and this connection has
/// none running), it takes it: after that many more bytes, both sockets are shut.
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    pending: Arc<Mutex<(Option<Cut>, u64)>>,
    request_side: bool,
    counted: Arc<[std::sync::atomic::AtomicUsize; 2]>,
    cut_now: Arc<dyn Fn() + Send + Sync>,
) {
    let mut buf = [0u8; 4096];
    let mut left: Option<usize> = None;
    let mut taken_in = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut p = pending.lock().unwrap();
        if p.1 != taken_in {
            left = None; // A new exchange began: an unspent budget of the last one is void.
        }
        if left.is_none() {
            if let (Some(Cut::Request(k)), true) | (Some(Cut::Response(k)), false) = (p.0, request_side) {
                p.0 = None;
                left = Some(k);
                taken_in = p.1;
            }
        }
        drop(p);
        let take = n.min(left.unwrap_or(usize::MAX));
        counted[!request_side as usize].fetch_add(take, Ordering::SeqCst);
        if to.write_all(&buf[..take]).is_err() {
            break;
        }
        if let Some(l) = left.as_mut() {
            *l -= take;
            if *l == 0 {
                cut_now();
                break;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cut: Arc<Mutex<(Option<Cut>, u64)>> = Arc::new(Mutex::new((None, 0)));
        let on_cut: OnCut = Arc::new(Mutex::new(None));
        let counted: Arc<[std::sync::atomic::AtomicUsize; 2]> = Arc::new(Default::default());
        let (c, oc, cnt) = (cut.clone(), on_cut.clone(), counted.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (c1, s1) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let oc = oc.clone();
                let cut_now: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                    // First whatever happens at the cut (a restart), then the cut itself: the
                    // phone notices only when the connection drops.
                    if let Some(f) = oc.lock().unwrap().as_mut() {
                        f();
                    }
                    let _ = c2.shutdown(Shutdown::Both);
                    let _ = s2.shutdown(Shutdown::Both);
                });
                let (cn, c_req, c_resp, n1, n2) = (cut_now.clone(), c.clone(), c.clone(), cnt.clone(), cnt.clone());
                std::thread::spawn(move || pipe(client, server, c_req, true, n1, cn));
                std::thread::spawn(move || pipe(s1, c1, c_resp, false, n2, cut_now));
            }
        });
        Proxy { addr, cut, on_cut, counted }
    }

    /// Cuts the next exchange at the given byte.
    fn cut_next(&self, cut: Cut) {
        let mut c = self.cut.lock().unwrap();
        *c = (Some(cut), c.1 + 1);
    }

    /// Ends the faulty exchange: what was not spent of a cut is forgotten.
    fn clear(&self) {
        let mut c = self.cut.lock().unwrap();
        *c = (None, c.1 + 1);
        for n in self.counted.iter() {
            n.store(0, Ordering::SeqCst);
        }
    }

    /// Bytes of the request and of the response since the last `clear`.
    fn measured(&self) -> (usize, usize) {
        (self.counted[0].load(Ordering::SeqCst), self.counted[1].load(Ordering::SeqCst))
    }
}

/// Sends every request twice, or replays an old request before the current one.
struct Mischief {
    inner: HttpTransport,
    duplicate: AtomicBool,
    replay: AtomicBool,
    recorded: Mutex<Vec<Recorded>>,
}

impl Transport for Mischief {
    fn post(&self, path: &str, credential: Option<&str>, body: Vec<u8>) -> Result<HttpResponse, TransportError> {
        self.recorded.lock().unwrap().push((path.into(), credential.map(String::from), body.clone()));
        if self.replay.swap(false, Ordering::SeqCst) {
            let old = self.recorded.lock().unwrap().first().cloned();
            if let Some((p, c, b)) = old {
                let _ = self.inner.post(&p, c.as_deref(), b);
            }
        }
        if self.duplicate.swap(false, Ordering::SeqCst) {
            let _ = self.inner.post(path, credential, body.clone());
        }
        self.inner.post(path, credential, body)
    }
}

/// What the team holds, as the lead's phone sees it after syncing.
fn team_ids(lead: &Phone) -> Vec<String> {
    lead.sync().unwrap();
    snapshot(&lead.store).into_iter().map(|(id, _)| id).collect()
}

struct Tally {
    runs: u32,
    lost: usize,
    duplicates: usize,
}

impl Tally {
    fn check(&mut self, lead: &Phone, expected: &BTreeSet<String>) {
        let ids = team_ids(lead);
        let unique: BTreeSet<String> = ids.iter().cloned().collect();
        self.runs += 1;
        self.duplicates += ids.len() - unique.len();
        self.lost += expected.difference(&unique).count();
        assert_eq!(&unique, expected, "run {}: the team's records differ from what the phone made", self.runs);
    }
}

#[test]
fn no_loss_and_no_duplicates_under_faults() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = Arc::new(Mutex::new(TestServer::start(storage.clone())));
    let server_addr = server.lock().unwrap().addr;
    let proxy = Proxy::start(server_addr);
    let t = team(storage.as_ref(), "Storingen", 1);

    // The field worker's phone talks through the proxy; its clock runs a day behind.
    let via_proxy = format!("http://{}", proxy.addr);
    let phone = Phone::enrol_with(Box::new(HttpTransport::new(&via_proxy)), storage.as_ref(), &t.workers[0]);
    phone.store.simulate_clock_skew(-86_400_000);
    let lead = Phone::enrol(&server.lock().unwrap(), storage.as_ref(), &t.lead);
    lead.store.simulate_clock_skew(86_400_000);
    let walk = phone.store.start_walk(new_walk(0)).unwrap();
    let mut expected = BTreeSet::new();
    let mut tally = Tally { runs: 0, lost: 0, duplicates: 0 };
    let mut n = 0u32;
    let mut make_changes = |expected: &mut BTreeSet<String>| {
        for _ in 0..6 {
            n += 1;
            let r = phone
                .store
                .add_record(NewRecord {
                    walk_id: walk.id,
                    body: observation(&format!("waarneming {n}")),
                    created: at(1),
                    location: None,
                })
                .unwrap();
            expected.insert(r.id.to_string());
        }
        // An edit and a delete in every batch too.
        let first = expected.iter().next().unwrap().parse().unwrap();
        phone.store.edit_record(&first, observation(&format!("bewerkt {n}")), None).unwrap();
        let last: RecordId = expected.iter().last().unwrap().parse().unwrap();
        phone.store.delete_record(&last).unwrap();
        expected.remove(&last.to_string());
    };

    // One round: the phone makes changes, and the lead asks about one of its earlier records,
    // so the answer to the phone carries a pull too. (Ids are time-ordered: all but the five
    // just made are on the server already.)
    let mut round = |expected: &mut BTreeSet<String>, i: usize| {
        make_changes(expected);
        lead.sync().unwrap();
        if i == usize::MAX {
            return; // The very first round: nothing of the phone's is on the server yet.
        }
        let asked: RecordId = expected.iter().nth(i % (expected.len() - 5)).unwrap().parse().unwrap();
        lead.store.review_record(&asked, Review { question: Some(format!("vraag {i}")), ..Review::default() }).unwrap();
        lead.sync().unwrap();
    };

    // Measure a typical exchange, then cut at points spread over the request and the response.
    round(&mut expected, usize::MAX);
    phone.sync().unwrap();
    round(&mut expected, 0);
    proxy.clear();
    phone.sync().unwrap();
    let (request_len, response_len) = proxy.measured();
    assert!(request_len > 200 && response_len > 200, "{request_len} {response_len}");
    tally.check(&lead, &expected);
    const POINTS: usize = 30;
    // Over the first 85%: compressed exchanges differ by some bytes from run to run.
    let spread = |len: usize| (0..POINTS).map(move |i| 1 + i * (len * 85 / 100) / (POINTS - 1));
    let cuts: Vec<Cut> = spread(request_len).map(Cut::Request).chain(spread(response_len).map(Cut::Response)).collect();
    let mut failed = 0;
    for (i, &cut) in cuts.iter().enumerate() {
        round(&mut expected, i + 1);
        proxy.cut_next(cut);
        // Fails when the cut falls inside the exchange.
        if phone.sync().is_err() {
            failed += 1;
        }
        proxy.clear();
        phone.sync().unwrap();
        assert_eq!(phone.store.pending_count().unwrap(), 0);
        tally.check(&lead, &expected);
    }

    // The server restarted mid-sync: killed when the cut happens, started again on its port.
    let restarts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (k, fraction) in [10, 40, 70, 85].into_iter().enumerate() {
        for (j, cut) in [Cut::Request(request_len * fraction / 100), Cut::Response(response_len * fraction / 100)]
            .into_iter()
            .enumerate()
        {
            // A question not asked before, so the phone has something to pull.
            round(&mut expected, 1000 + 2 * k + j);
            let (srv, dir_path, count) = (server.clone(), dir.path().to_path_buf(), restarts.clone());
            *proxy.on_cut.lock().unwrap() = Some(Box::new(move || {
                let mut s = srv.lock().unwrap();
                s.stop();
                *s = TestServer::start_on(sqlite_storage(&dir_path), server_addr);
                count.fetch_add(1, Ordering::SeqCst);
            }));
            proxy.cut_next(cut);
            if phone.sync().is_err() {
                failed += 1;
            }
            proxy.clear();
            *proxy.on_cut.lock().unwrap() = None;
            phone.sync().unwrap();
            tally.check(&lead, &expected);
        }
    }

    // Duplicated and reordered requests.
    let mischief = Mischief {
        inner: HttpTransport::new(&server.lock().unwrap().url),
        duplicate: AtomicBool::new(false),
        replay: AtomicBool::new(false),
        recorded: Mutex::new(Vec::new()),
    };
    let cancel = AtomicBool::new(false);
    for i in 0..10 {
        round(&mut expected, 100 + i);
        if i % 2 == 0 {
            mischief.duplicate.store(true, Ordering::SeqCst);
        } else {
            mischief.replay.store(true, Ordering::SeqCst);
        }
        phone.store.sync(&mischief, &cancel).unwrap();
        tally.check(&lead, &expected);
    }

    eprintln!(
        "faults: {} runs (cuts at {POINTS} points of the request and {POINTS} of the response, {failed} syncs broken off, {} server restarts mid-sync, 10 duplicated or replayed); records lost: {}, duplicates: {}",
        tally.runs,
        restarts.load(Ordering::SeqCst),
        tally.lost,
        tally.duplicates
    );
    assert_eq!(failed, cuts.len() + 8, "every cut must break a sync");
    assert_eq!(restarts.load(Ordering::SeqCst), 8);
    assert_eq!((tally.lost, tally.duplicates), (0, 0));
}
