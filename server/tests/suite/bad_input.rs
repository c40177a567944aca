//! Bad input at the HTTP API: malformed, oversized, mistyped, unknown fields, invalid
//! coordinates, stale or forged credentials, wrong protocol versions. Every one gets a 4xx with
//! a clear message that repeats nothing from the body; nothing is partially stored; the server
//! keeps serving. Plus the payload fuzz target over its seeds and random mutations.

use crate::common;

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use wijkverkenner_core::sync::wire::ErrorBody;
use wijkverkenner_core::*;

struct Api {
    url: String,
    agent: ureq::Agent,
}

impl Api {
    fn new(url: &str) -> Self {
        // A fresh connection per request: after a refusal the server may close its side, and a
        // pooled connection reused then fails on the client ("peer disconnected"), not on the
        // server.
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
        Api { url: url.into(), agent }
    }

    /// POSTs raw bytes; returns the status and the error body, if it is one.
    fn post(
        &self,
        path: &str,
        auth: Option<&str>,
        encoding: Option<&str>,
        body: &[u8],
    ) -> (u16, Option<ErrorBody>, String) {
        let mut req = self.agent.post(format!("{}{path}", self.url)).header("Content-Type", "application/json");
        if let Some(a) = auth {
            req = req.header("Authorization", format!("Bearer {a}"));
        }
        if let Some(e) = encoding {
            req = req.header("Content-Encoding", e);
        }
        let mut resp = req.send(body).unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(100_000_000).read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).ok(), text)
    }
}

fn sync_body(push: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"protocol": 3, "cursor": 0, "push": push, "pull_limit": 100})).unwrap()
}

/// A valid observation entity for `author` in walk `walk`, as JSON, with a planted string.
fn observation_entity(author: &str, walk: &str, lat: f64) -> Value {
    json!({
        "kind": "observation",
        "id": uuid::Uuid::now_v7().to_string(),
        "walk_id": walk,
        "author_id": author,
        "created_ms": 1_795_539_600_000i64,
        "created_offset_s": 3600,
        "hlc": "01a2236d001f.0000.0000000000000001",
        "fields": {
            "themes": ["obs.vacancy"], "tone": "concern", "note": "PLANTED-06-12345678",
            "location": {"at": {"kind": "fix", "lat": lat, "lon": 5.11, "accuracy_m": 8.0, "fix_ms": 1_795_539_600_000i64, "source": "gps"}, "buurt": null, "wijk": null},
            "review_question": null, "review_answer": null, "reviewed_ms": null
        }
    })
}

/// A copy of `e` with a fresh id and one change.
fn altered(e: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut e = e.clone();
    e["id"] = json!(uuid::Uuid::now_v7().to_string());
    change(&mut e);
    e
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 3).unwrap()
}

#[test]
fn bad_requests_get_clear_4xx_answers_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Foutief", 1);
    let phone = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);
    let walk = phone.store.start_walk(new_walk(0)).unwrap();
    phone.sync().unwrap();
    // A second device of the same member, for hand-made requests.
    let credential: String = {
        let code = wijkverkenner_server::admin::issue_code(storage.as_ref(), &t.workers[0].id, 1).unwrap();
        let (device, secret, _, _) = wijkverkenner_server::admin::redeem(storage.as_ref(), &code, "raw").unwrap();
        format!("{}.{}", device.id, secret)
    };
    let author = t.workers[0].id.clone();
    let api = Api::new(&server.url);
    let good = observation_entity(&author, &walk.id.to_string(), 52.09);

    let forged = format!("{}.PLANTED", credential.split('.').next().unwrap());
    let stranger = format!("{}.abc", uuid::Uuid::now_v7());
    // (what, credential, content encoding, body, expected status, expected error code)
    type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("not JSON", Some(&credential), None, b"{\"protocol\": 1, PLANTED-06-12345678".to_vec(), 400, "malformed"),
        (
            "wrong type",
            Some(&credential),
            None,
            br#"{"protocol":1,"cursor":"PLANTED-06-12345678","push":[],"pull_limit":1}"#.to_vec(),
            400,
            "malformed",
        ),
        (
            "unknown field",
            Some(&credential),
            None,
            br#"{"protocol":1,"cursor":0,"push":[],"pull_limit":1,"PLANTED":1}"#.to_vec(),
            400,
            "malformed",
        ),
        ("missing field", Some(&credential), None, br#"{"protocol":1,"push":[]}"#.to_vec(), 400, "malformed"),
        (
            "number too large",
            Some(&credential),
            None,
            br#"{"protocol":1,"cursor":1e400,"push":[],"pull_limit":1}"#.to_vec(),
            400,
            "malformed",
        ),
        ("bad zstd", Some(&credential), Some("zstd"), b"PLANTED-06-12345678".to_vec(), 400, "bad_encoding"),
        ("unknown encoding", Some(&credential), Some("br"), sync_body(json!([])), 415, "bad_encoding"),
        (
            "pull limit zero",
            Some(&credential),
            None,
            br#"{"protocol":3,"cursor":0,"push":[],"pull_limit":0}"#.to_vec(),
            400,
            "invalid_request",
        ),
        (
            "pull limit above the page",
            Some(&credential),
            None,
            br#"{"protocol":3,"cursor":0,"push":[],"pull_limit":5001}"#.to_vec(),
            400,
            "invalid_request",
        ),
        (
            "a clock in capitals (one spelling)",
            Some(&credential),
            None,
            sync_body(Value::Array(vec![altered(&good, |e| e["hlc"] = json!("01A2236D001F.0000.0000000000000001"))])),
            400,
            "malformed",
        ),
        (
            "a clock of thirteen digits",
            Some(&credential),
            None,
            sync_body(Value::Array(vec![altered(&good, |e| e["hlc"] = json!("1000000000000.0000.0000000000000001"))])),
            400,
            "malformed",
        ),
        (
            "not a uuid",
            Some(&credential),
            None,
            sync_body(Value::Array(vec![altered(&good, |e| e["id"] = json!("PLANTED-06-12345678"))])),
            400,
            "invalid_request",
        ),
        (
            "an id in capitals (one id, one spelling)",
            Some(&credential),
            None,
            sync_body(Value::Array(vec![altered(&good, |e| {
                e["id"] = json!(e["id"].as_str().unwrap().to_uppercase())
            })])),
            400,
            "invalid_request",
        ),
        (
            "the same entity twice",
            Some(&credential),
            None,
            sync_body(json!([good.clone(), good.clone()])),
            400,
            "invalid_request",
        ),
        (
            "protocol too new",
            Some(&credential),
            None,
            br#"{"protocol":99,"cursor":0,"push":[],"pull_limit":1}"#.to_vec(),
            426,
            "protocol_unsupported",
        ),
        (
            "protocol too old",
            Some(&credential),
            None,
            br#"{"protocol":0,"cursor":0,"push":[],"pull_limit":1}"#.to_vec(),
            426,
            "protocol_unsupported",
        ),
        ("no credential", None, None, sync_body(json!([])), 401, "unauthorized"),
        ("forged credential", Some(&forged), None, sync_body(json!([])), 401, "unauthorized"),
        ("unknown device", Some(&stranger), None, sync_body(json!([])), 401, "unauthorized"),
        ("malformed credential", Some("PLANTED-06-12345678"), None, sync_body(json!([])), 401, "unauthorized"),
        (
            "too many changes",
            Some(&credential),
            None,
            sync_body(Value::Array(vec![good.clone(); 2001])),
            413,
            "too_many_changes",
        ),
    ];
    for (what, auth, encoding, body, status, code) in cases {
        let (got, err, text) = api.post("/v1/sync", auth, encoding, &body);
        assert_eq!(got, status, "{what}: {text}");
        let err = err.unwrap_or_else(|| panic!("{what}: not an error body: {text}"));
        assert_eq!(err.error, code, "{what}");
        assert!(!err.message.is_empty(), "{what}");
        assert!(!text.contains("PLANTED"), "{what}: the answer repeats input: {text}");
    }

    // Changes that break a rule: the push is answered (the phone's outbox moves on), the change
    // is refused with a code and a sentence that repeats nothing, and nothing of it is stored.
    let entity_cases: Vec<(&str, Value, &str)> = vec![
        ("invalid latitude", observation_entity(&author, &walk.id.to_string(), 200.0), "invalid"),
        ("unknown theme", altered(&good, |e| e["fields"]["themes"] = json!(["obs.PLANTED"])), "invalid"),
        (
            "unknown tone, a name planted",
            altered(&good, |e| e["fields"]["tone"] = json!("PLANTED-Jan-de-Vries")),
            "invalid",
        ),
        ("an author id in capitals", altered(&good, |e| e["author_id"] = json!(author.to_uppercase())), "invalid"),
        ("text too long", altered(&good, |e| e["fields"]["note"] = json!("x".repeat(5000))), "invalid"),
        ("negative accuracy", altered(&good, |e| e["fields"]["location"]["at"]["accuracy_m"] = json!(-1.0)), "invalid"),
        (
            "an unknown key deep inside",
            altered(&good, |e| e["fields"]["location"]["at"]["PLANTED"] = json!("x".repeat(100_000))),
            "invalid",
        ),
        ("an unknown field", altered(&good, |e| e["fields"]["PLANTED"] = json!(1)), "invalid"),
        (
            "a buurt code of a megabyte",
            altered(&good, |e| e["fields"]["location"]["buurt"] = json!("x".repeat(1_000_000))),
            "invalid",
        ),
        ("the smallest UTC offset", altered(&good, |e| e["created_offset_s"] = json!(-2147483648i64)), "invalid"),
        (
            "the largest clock",
            altered(&good, |e| e["hlc"] = json!("ffffffffffff.ffff.ffffffffffffffff")),
            "clock_out_of_range",
        ),
        (
            "a clock from 2001",
            altered(&good, |e| e["hlc"] = json!("00e3c8d7e000.0000.0000000000000001")),
            "clock_out_of_range",
        ),
        (
            "a field clock later than the version",
            altered(&good, |e| e["clocks"] = json!({"note": "01a2236d0020.0000.0000000000000001"})),
            "invalid",
        ),
        ("someone else's name", observation_entity(&t.lead.id, &walk.id.to_string(), 52.09), "not_author"),
        (
            "a walk that does not exist",
            observation_entity(&author, &uuid::Uuid::now_v7().to_string(), 52.09),
            "walk_not_found",
        ),
    ];
    for (what, entity, code) in entity_cases {
        let (got, _, text) = api.post("/v1/sync", Some(&credential), None, &sync_body(json!([entity])));
        assert_eq!(got, 200, "{what}: {text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["acknowledged"], 1, "{what}");
        let rejected = answer["rejected"].as_array().unwrap_or_else(|| panic!("{what}: nothing refused: {text}"));
        assert_eq!(rejected.len(), 1, "{what}: {text}");
        assert_eq!(rejected[0]["code"], code, "{what}: {text}");
        assert!(!rejected[0]["reason"].as_str().unwrap().is_empty());
        assert!(!text.contains("PLANTED"), "{what}: the answer repeats input: {text}");
    }
    // Every status answers with a JSON error body, a wrong method too.
    let resp = api.agent.get(format!("{}/v1/sync", server.url)).call().unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let err: ErrorBody = serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(err.error, "method_not_allowed");

    // Oversized and compression bombs.
    // Past the limit the server answers 413 and stops reading; a client still sending the
    // rest may then see the connection closed instead of the answer — refused either way.
    let big = vec![b' '; 9 * 1024 * 1024];
    let mut req = api.agent.post(format!("{}/v1/sync", api.url)).header("Content-Type", "application/json");
    req = req.header("Authorization", format!("Bearer {credential}"));
    match req.send(&big[..]) {
        Ok(mut resp) => {
            assert_eq!(resp.status().as_u16(), 413);
            let err: ErrorBody = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
            assert_eq!(err.error, "payload_too_large");
        }
        Err(ureq::Error::Io(e)) => eprintln!("the oversized push was cut off by the server: {e}"),
        Err(e) => panic!("{e}"),
    }
    let bomb = zstd(&vec![b' '; 80 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    let (got, err, _) = api.post("/v1/sync", Some(&credential), Some("zstd"), &bomb);
    assert_eq!((got, err.unwrap().error.as_str()), (413, "payload_too_large"));
    // Enrolment with nonsense.
    let (got, err, _) = api.post("/v1/enrol", None, None, br#"{"protocol":3,"code":"PLANTED","device_name":"x"}"#);
    assert_eq!((got, err.unwrap().error.as_str()), (403, "invalid_code"));
    for name in ["", r"telefoon\nabc-123\tactive\tlast seen never", r"x\u0007"] {
        let body = format!(r#"{{"protocol":3,"code":"x","device_name":"{name}"}}"#);
        let (got, err, text) = api.post("/v1/enrol", None, None, body.as_bytes());
        assert_eq!((got, err.unwrap().error.as_str()), (400, "invalid_enrolment"), "{name}: {text}");
    }
    let (got, err, _) = api.post("/v1/enrol", None, None, &vec![b' '; 5000]);
    assert_eq!((got, err.unwrap().error.as_str()), (413, "payload_too_large"), "enrolment takes a few KiB");
    let (got, _, _) = api.post("/v1/nowhere", None, None, b"{}");
    assert_eq!(got, 404);

    // Nothing of any refused push was stored: the lead sees only the walk.
    lead.sync().unwrap();
    assert_eq!(lead.store.record_counts().unwrap(), (0, 0));
    assert_eq!(lead.store.recent_walks(&PageRequest::first(10)).unwrap().items.len(), 1);
    // A revoked device is told to wipe.
    let device = credential.split('.').next().unwrap();
    storage.revoke_device(device, 1).unwrap();
    let (got, err, _) = api.post("/v1/sync", Some(&credential), None, &sync_body(json!([])));
    let err = err.unwrap();
    assert_eq!((got, err.error.as_str(), err.wipe), (401, "device_revoked", true));
    // And the server still serves.
    assert_eq!(api.agent.get(format!("{}/health", server.url)).call().unwrap().status().as_u16(), 200);
    phone.sync().unwrap();
}

#[test]
fn the_payload_fuzz_target_holds_on_its_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/payload");
    let seeds: Vec<Vec<u8>> =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    assert!(seeds.len() >= 5);
    for s in &seeds {
        wijkverkenner_server::api::fuzz_payload(s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Byte mutations of valid requests, like a short fuzzing run in every test run.
    #[test]
    fn mutated_payloads_never_panic(seed in 0usize..5, edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/payload");
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut data = std::fs::read(&files[seed % files.len()]).unwrap();
        for (pos, byte, op) in edits {
            if data.is_empty() { break; }
            let i = pos % data.len();
            match op { 0 => data[i] = byte, 1 => { data.remove(i); } _ => data.insert(i, byte) }
        }
        wijkverkenner_server::api::fuzz_payload(&data);
    }
}
