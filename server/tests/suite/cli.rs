//! The administrator's command line and the served process: create a team, add members, issue
//! and cancel codes, list and revoke devices, disable a member, change a role, repair stored
//! entities; the security log records refusals with address and reason; enrolment is rate
//! limited and a compression bomb costs the server no memory; the server's structured logs
//! never carry record content.

use crate::common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;

use common::*;
use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::*;

const BIN: &str = env!("CARGO_BIN_EXE_wijkverkenner-server");

fn admin(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--data").arg(data).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn administer_a_team_and_serve_it_without_logging_content() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let team = admin(&data, &["team-create", "Wijkteam Overvecht"]);
    let sanne = admin(
        &data,
        &["member-add", "--team", &team, "--name", "Sanne", "--role", "field_worker", "--organisation", "Buurtteam"],
    );
    let code = admin(&data, &["enrol-code", "--member", &sanne]);
    assert_eq!(code.len(), 14, "{code}");
    assert_eq!((&code[4..5], &code[9..10]), ("-", "-"));
    // A spare code, listed by an id and cancelled; and a QR line for the app.
    let spare = admin(&data, &["enrol-code", "--member", &sanne, "--server-url", "https://wijk.example.nl/"]);
    let (spare_code, qr) = spare.split_once('\n').unwrap();
    assert_eq!(qr, format!("wijkverkenner:enrol?server=https://wijk.example.nl&code={spare_code}"));
    let codes = admin(&data, &["codes", "--team", &team]);
    assert_eq!(codes.lines().count(), 2, "{codes}");
    assert!(!codes.contains(spare_code) && !codes.contains(&code), "codes are never listed: {codes}");
    let spare_id = codes.lines().next().unwrap().split('\t').next().unwrap().to_string();
    assert_eq!(admin(&data, &["code-cancel", "--team", &team, &spare_id]), format!("cancelled {spare_id}"));
    assert!(admin(&data, &["codes", "--team", &team]).contains("used or cancelled"));
    // Wrong input is a clear error, not a crash.
    let out = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args(["member-add", "--team", &team, "--name", "X", "--role", "boss"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("role"));

    let (server, url) = serve(&data, &dir.path().join("server.log"));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let health = agent.get(format!("{url}/health")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(health.contains("\"storage\":\"sqlite\""), "{health}");
    let openapi: serde_json::Value = serde_json::from_str(
        &agent.get(format!("{url}/openapi.json")).call().unwrap().body_mut().read_to_string().unwrap(),
    )
    .unwrap();
    assert!(openapi["paths"]["/v1/sync"].is_object());

    // A phone enrols with the code and syncs a signal with a planted text.
    let transport = HttpTransport::new(&url);
    let store = Store::open(dir.path().join("phone.db"), Encryption::Key(StoreKey::new([3; 32]))).unwrap();
    store.enrol(&transport, &code, "Pixel van Sanne").unwrap();
    let walk = store.start_walk(new_walk(0)).unwrap();
    store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal("PLANTED-LOG-4711 in de portiek", "sig.weapons"),
            created: at(1),
            location: Some(location(52.1, 5.1)),
        })
        .unwrap();
    store.sync(&transport, &AtomicBool::new(false)).unwrap();

    // The operator's repair tools: nothing suspect here; one record deleted for everyone.
    assert_eq!(admin(&data, &["suspects", "--team", &team]), "");
    let record = store.latest_records(&PageRequest::first(1)).unwrap().items[0].id.to_string();
    assert!(admin(&data, &["entity-quarantine", "--team", &team, &walk.id.to_string()]).starts_with("quarantined"));
    assert!(admin(&data, &["entity-delete", "--team", &team, &record]).starts_with("deleted"));
    // An erasure leaves a line in the deletion log (what, when, why; never the content).
    let log = admin(&data, &["deletions", "--team", &team]);
    assert!(log.contains(&record) && log.contains("signal") && log.contains("erased by an operator"), "{log}");
    assert!(!log.contains("PLANTED"), "{log}");

    let devices = admin(&data, &["devices", "--team", &team]);
    assert!(devices.contains("Sanne") && devices.contains("active"), "{devices}");
    let device = devices.split('\t').next().unwrap().to_string();
    assert_eq!(admin(&data, &["revoke", &device]), format!("revoked {device}"));
    assert!(matches!(store.sync(&transport, &AtomicBool::new(false)), Err(Error::Revoked)));
    // A member who left: disabled, no new codes; a role changes.
    let joost = admin(&data, &["member-add", "--team", &team, "--name", "Joost"]);
    assert!(admin(&data, &["member-role", &joost, "lead"]).contains("is now lead"));
    admin(&data, &["member-disable", &joost]);
    let members = admin(&data, &["members", "--team", &team]);
    assert!(
        members.lines().any(|l| l.starts_with(&joost) && l.contains("disabled") && l.contains("lead")),
        "{members}"
    );
    let out = Command::new(BIN).arg("--data").arg(&data).args(["enrol-code", "--member", &joost]).output().unwrap();
    assert!(!out.status.success());

    drop(server);
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let events: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(events.iter().any(|e| e["fields"]["message"] == "sync"), "structured sync events: {log}");
    assert!(events.iter().any(|e| e["fields"]["message"] == "device enrolled"));
    // The revoked phone's last call is in the security log, with its address and device.
    assert!(
        events.iter().any(|e| e["target"] == "security"
            && e["fields"]["reason"] == "revoked device"
            && e["fields"]["device"] == device.as_str()
            && e["fields"]["addr"] == "127.0.0.1"),
        "{log}"
    );
    assert!(!log.contains("PLANTED-LOG"), "the log holds record content");
    assert!(!log.contains("Sanne"), "the log holds a member's name");
}

/// A served process, killed when dropped (also when a test fails).
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &std::path::Path, log: &std::path::Path) -> (Served, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .unwrap();
    let served = Served(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if ureq::get(format!("{url}/health")).call().is_ok() {
            return (served, url);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server did not come up");
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn enrolment_is_rate_limited_logged_and_costs_no_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let team = admin(&data, &["team-create", "Wijkteam Zuid"]);
    let member = admin(&data, &["member-add", "--team", &team, "--name", "Fatima"]);
    let good = admin(&data, &["enrol-code", "--member", &member]);
    let log_path = dir.path().join("server.log");
    let (server, url) = serve(&data, &log_path);
    // A fresh connection per request: after refusing a bomb the server closes its side, and a
    // pooled connection reused then fails on the client (status 0), not on the server.
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
    let enrol = |body: &[u8], encoding: Option<&str>| {
        let mut req = agent.post(format!("{url}/v1/enrol")).header("Content-Type", "application/json");
        if let Some(e) = encoding {
            req = req.header("Content-Encoding", e);
        }
        // A bomb far beyond the limit may be refused before it is read: the server answers
        // and closes while it is still being sent (status 0 here).
        let Ok(resp) = req.send(body) else { return (0, None, String::new()) };
        let status = resp.status().as_u16();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        (status, retry, resp.into_body().read_to_string().unwrap_or_default())
    };

    // A compression bomb — 2 KB on the wire, 64 MB unpacked — over and over: refused before it
    // is unpacked beyond a few KiB, and the server's memory stays where it was.
    let bomb = zstd::bulk::compress(&vec![b' '; 64 * 1024 * 1024], 19).unwrap();
    assert!(bomb.len() < 4096, "{}", bomb.len());
    let (status, _, _) = enrol(&bomb, Some("zstd"));
    assert_eq!(status, 413);
    // The same without the size in its header: unpacking stops at the limit (or at a window
    // larger than the limit needs).
    let stream_bomb = {
        use std::io::Write;
        let mut e = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
        e.write_all(&vec![b' '; 64 * 1024 * 1024]).unwrap();
        e.finish().unwrap()
    };
    assert!(zstd::zstd_safe::get_frame_content_size(&stream_bomb).unwrap().is_none());
    let both = || {
        assert_eq!(enrol(&bomb, Some("zstd")).0, 413);
        let (status, _, _) = enrol(&stream_bomb, Some("zstd"));
        assert!(status == 413 || status == 400 || status == 0, "{status}");
    };
    // Warmed up first (worker threads, the allocator's first pages), then counted: memory
    // that grew with the requests would show over the next two hundred.
    for _ in 0..50 {
        both();
    }
    let before = rss_kib(server.0.id());
    for _ in 0..200 {
        both();
    }
    let after = rss_kib(server.0.id());
    // Allocator noise under load (new blocking threads, their caches) is a few MiB; one unpacked
    // bomb would be 64 MiB, two hundred of them far more.
    assert!(after < before + 16 * 1024, "memory grew from {before} KiB to {after} KiB");

    // A burst of wrong codes: five are answered, then the address must wait, told how long.
    let wrong = |i: usize| format!(r#"{{"protocol":3,"code":"AAAA-BBBB-{i:04}","device_name":"x"}}"#);
    for i in 0..5 {
        assert_eq!(enrol(wrong(i).as_bytes(), None).0, 403);
    }
    let (status, retry_after, body) = enrol(wrong(5).as_bytes(), None);
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("rate_limited"));
    let wait: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Even the right code waits now: guessing is not faster with a good code in between.
    let right = format!(r#"{{"protocol":3,"code":"{good}","device_name":"telefoon"}}"#);
    assert_eq!(enrol(right.as_bytes(), None).0, 429);

    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let events: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let security = |reason: &str| {
        events
            .iter()
            .filter(|e| {
                e["target"] == "security" && e["fields"]["reason"] == reason && e["fields"]["addr"] == "127.0.0.1"
            })
            .count()
    };
    assert_eq!(security("invalid code"), 5, "{log}");
    assert!(security("rate limited") >= 2, "{log}");
    assert!(!log.contains("AAAA-BBBB"), "the log holds a code");
}

/// The data directory is closed to other users (0700, files 0600, also when it was made
/// open before), and a copy of it without the secret file does not give away an enrolment
/// code: codes are stored keyed with the secret, not as a plain hash.
#[test]
fn the_data_directory_is_private_and_codes_are_stored_keyed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("notes.txt"), "left by an operator").unwrap();
    std::fs::set_permissions(data.join("notes.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let team = admin(&data, &["team-create", "Wijkteam Zuilen"]);
    let member = admin(&data, &["member-add", "--team", &team, "--name", "Joost", "--role", "field_worker"]);
    let code = wijkverkenner_server::admin::normalise_code(&admin(&data, &["enrol-code", "--member", &member]));

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    assert!(files >= 3, "the database, the secret and the operator's file");
    let secret = std::fs::read_to_string(data.join("server.secret")).unwrap();
    assert_eq!(secret.trim().len(), 64);

    // No file but the secret holds the code or its plain SHA-256.
    let plain = wijkverkenner_server::admin::sha256_hex(&code);
    for entry in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&code) && !text.contains(&plain));
    }

    // The administrator's commands are in the team's audit trail: command and ids, who, from
    // where, never a name typed (the member's name).
    let trail = admin(&data, &["audit", "--team", &team]);
    let lines: Vec<Vec<&str>> = trail.lines().map(|l| l.split('\t').collect()).collect();
    assert!(lines.iter().all(|l| l.len() == 6), "{trail}");
    assert!(lines.iter().any(|l| l[2] == "admin" && l[3] == "member-add role field_worker" && l[4] == "ok"), "{trail}");
    assert!(lines
        .iter()
        .any(|l| l[3] == format!("enrol-code {member} 24 h") && l[1].starts_with("cli:") && l[5].starts_with("cli@")));
    assert!(!trail.contains("Joost"), "{trail}");
    let failed =
        Command::new(BIN).arg("--data").arg(&data).args(["member-disable", "no-such-member"]).output().unwrap();
    assert!(!failed.status.success());
    assert!(
        admin(&data, &["audit"]).contains("member-disable no-such-member\tfailed"),
        "a failed command is recorded too"
    );

    // A damaged secret file is a clear error, not a new key (codes issued would be lost).
    std::fs::write(data.join("server.secret"), "not a key").unwrap();
    let out = Command::new(BIN).arg("--data").arg(&data).args(["codes", "--team", &team]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server secret"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `serve --tls-cert --tls-key`: the server speaks TLS itself — a client that trusts the
/// certificate gets the API and the pages' headers, and a phone enrols and syncs over it; plain
/// HTTP and a client that does not trust it get nothing; a key that does not fit the
/// certificate stops the start with a clear error.
#[test]
fn the_server_serves_tls_from_certificate_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.path().join("server.log");
    let child = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--tls-cert"])
        .arg(&cert_pem)
        .arg("--tls-key")
        .arg(&key_pem)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let _served = Served(child);
    let root = ureq::tls::Certificate::from_der(cert.cert.der()).to_owned();
    let trusting: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&[root])).build())
        .build()
        .into();
    let url = format!("https://localhost:{port}");
    let mut health = None;
    for _ in 0..100 {
        if let Ok(r) = trusting.get(format!("{url}/health")).call() {
            health = Some(r);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut health = health.unwrap_or_else(|| panic!("no TLS answer: {}", std::fs::read_to_string(&log).unwrap()));
    assert_eq!(health.status().as_u16(), 200);
    assert!(health.body_mut().read_to_string().unwrap().contains("\"status\":\"ok\""));
    let page = trusting.get(format!("{url}/sign-in")).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers().get("strict-transport-security").is_some());

    // A phone (the real core store and its HTTPS client) enrols and syncs over TLS with the
    // test certificate; one that trusts only the public roots cannot reach it.
    let team = admin(&data, &["team-create", "Over TLS"]);
    let member = admin(&data, &["member-add", "--team", &team, "--name", "Sanne"]);
    let code = admin(&data, &["enrol-code", "--member", &member]);
    let transport = wijkverkenner_core::sync::http::HttpTransport::trusting(&url, &[cert.cert.der().to_vec()]);
    let phone_dir = tempfile::tempdir().unwrap();
    let store = wijkverkenner_core::Store::open(
        phone_dir.path().join("phone.db"),
        wijkverkenner_core::Encryption::Key(wijkverkenner_core::StoreKey::new([5; 32])),
    )
    .unwrap();
    store.enrol(&transport, &code, "telefoon").unwrap();
    let walk = store.start_walk(new_walk(0)).unwrap();
    store
        .add_record(wijkverkenner_core::NewRecord {
            walk_id: walk.id,
            body: observation("Over TLS"),
            created: at(1),
            location: None,
        })
        .unwrap();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let out = store.sync(&transport, &cancel).unwrap();
    assert_eq!(out.acknowledged, 2, "the walk and the note reached the team over HTTPS");
    let public_only = wijkverkenner_core::sync::http::HttpTransport::new(&url);
    let err = store.sync(&public_only, &cancel).unwrap_err().to_string();
    assert!(err.contains("could not be reached"), "{err}");
    assert!(!wijkverkenner_core::sync::server_url_is_allowed(&format!("http://wijk.example.nl:{port}")));

    // Plain HTTP on the TLS port, and a client that does not trust the certificate: nothing.
    assert!(ureq::get(format!("http://127.0.0.1:{port}/health")).call().is_err());
    assert!(ureq::get(format!("{url}/health")).call().is_err(), "an untrusted certificate is refused");

    // A key of another certificate: a clear error, no server.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let wrong_key = dir.path().join("other-key.pem");
    std::fs::write(&wrong_key, other.key_pair.serialize_pem()).unwrap();
    let out = Command::new(BIN)
        .arg("--data")
        .arg(dir.path().join("data2"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert_pem)
        .arg("--tls-key")
        .arg(&wrong_key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not fit"), "{}", String::from_utf8_lossy(&out.stderr));
}
