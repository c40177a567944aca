//! The administrator's command line and the served process: create a team, add members, issue
//! a code, list and revoke devices; the server's structured logs never carry record content.

mod common;

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
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-");
    // Wrong input is a clear error, not a crash.
    let out = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args(["member-add", "--team", &team, "--name", "X", "--role", "boss"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("role"));

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut server = Command::new(BIN)
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut up = false;
    for _ in 0..100 {
        if let Ok(mut r) = agent.get(format!("{url}/health")).call() {
            let body = r.body_mut().read_to_string().unwrap();
            assert!(body.contains("\"storage\":\"sqlite\""), "{body}");
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(up, "the server did not come up");
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

    let devices = admin(&data, &["devices", "--team", &team]);
    assert!(devices.contains("Sanne") && devices.contains("active"), "{devices}");
    let device = devices.split('\t').next().unwrap().to_string();
    assert_eq!(admin(&data, &["revoke", &device]), format!("revoked {device}"));
    assert!(matches!(store.sync(&transport, &AtomicBool::new(false)), Err(Error::Revoked)));

    server.kill().unwrap();
    server.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let events: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(events.iter().any(|e| e["fields"]["message"] == "sync"), "structured sync events: {log}");
    assert!(events.iter().any(|e| e["fields"]["message"] == "device enrolled"));
    assert!(!log.contains("PLANTED-LOG"), "the log holds record content");
    assert!(!log.contains("Sanne"), "the log holds a member's name");
}
