//! The served OpenAPI document against what really travels: every request real phones send
//! (a whole evening: a walk with pauses, its end with summary and track, records of every kind
//! with every kind of location, a lead's review, an answer, a deletion, an enrolment) and every
//! answer the server gives is valid by the document's schemas; and what the server refuses,
//! the schemas refuse too.

use crate::common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};
use wijkverkenner_core::sync::engine::{decode_body, HttpResponse, TransportError};
use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::sync::Transport;
use wijkverkenner_core::*;

/// Passes requests to the server and keeps a copy of each request and answer, unpacked.
struct Recording {
    inner: HttpTransport,
    seen: Arc<Mutex<Vec<(String, Value, Value)>>>,
}

impl Transport for Recording {
    fn post(&self, path: &str, credential: Option<&str>, body: Vec<u8>) -> Result<HttpResponse, TransportError> {
        // A photo's chunk is the photo's bytes, and a fetched photo a JPEG: not JSON.
        let request: Value = if path.contains("/bytes?") {
            Value::Null
        } else {
            serde_json::from_slice(&decode_body(&body).unwrap()).unwrap()
        };
        let resp = self.inner.post(path, credential, body)?;
        let answer: Value = if path == "/v1/photos/fetch" {
            Value::Null
        } else {
            serde_json::from_slice(&decode_body(&resp.body).unwrap()).unwrap()
        };
        assert_eq!(resp.status, 200, "{answer}");
        self.seen.lock().unwrap().push((path.to_string(), request, answer));
        Ok(resp)
    }
}

fn document(server: &TestServer) -> Value {
    let text = ureq::get(format!("{}/openapi.json", server.url)).call().unwrap().body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A validator for one of the document's schemas, resolving its references in the document.
fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let mut schema = json!({"$ref": format!("#/components/schemas/{name}")});
    schema["components"] = doc["components"].clone();
    jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, what: &str, instance: &Value) {
    let errors: Vec<String> = v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} is not valid by the document: {errors:#?}\n{instance}");
}

#[test]
fn real_requests_and_answers_follow_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Schema", 1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recording = || Box::new(Recording { inner: HttpTransport::new(&server.url), seen: seen.clone() });
    let sanne = Phone::enrol_with(recording(), storage.as_ref(), &t.workers[0]);
    let lead = Phone::enrol_with(recording(), storage.as_ref(), &t.lead);

    let walk = sanne
        .store
        .start_walk(NewWalk {
            participants: vec![Participant::Guest { role: "wijkagent".into(), lay_person: false }],
            purpose: "Avondronde".into(),
            focus: vec!["obs.vacancy".into()],
            started: at(0),
        })
        .unwrap();
    sanne.sync().unwrap();
    let fixes: Vec<Fix> = (0..30)
        .map(|i| Fix {
            at_ms: at(0).utc_ms + i * 20_000,
            lat: 52.09 + i as f64 * 1e-4,
            lon: 5.11,
            accuracy_m: 6.0,
            source: LocationSource::Gps,
        })
        .collect();
    sanne.store.add_fixes(&walk.id, &fixes).unwrap();
    let add = |body, location| {
        sanne.store.add_record(NewRecord { walk_id: walk.id, body, created: at(3), location }).unwrap()
    };
    let obs = add(observation("Rolluik altijd dicht"), Some(location(52.091, 5.111)));
    let photo = sanne.store.attach_photo(&obs.id, &crate::photos::camera_jpeg(320, 240, 11)).unwrap();
    add(
        RecordBody::Conversation(Conversation {
            roles: vec!["role.resident".into(), "role.youth".into()],
            people: 3,
            duration_min: 25,
            gist: "Over de speeltuin".into(),
            mood: Mood::Open,
            trust: Trust::Medium,
            agreements: "Volgende week terug".into(),
            immediate_help: true,
        }),
        None,
    );
    let sig = add(
        RecordBody::Signal(Signal {
            category: "sig.drug_dealing".into(),
            severity: Severity::Acute,
            description: "Overdracht bij de achteringang".into(),
            at_known_place: true,
            follow_up: "Wijkagent bellen".into(),
            suggested_referral: Some("ref.police".into()),
        }),
        Some(location(52.092, 5.112)),
    );
    sanne.store.pause_walk(&walk.id, at(10)).unwrap();
    sanne.store.resume_walk(&walk.id, at(12)).unwrap();
    let gone = add(observation("Dubbel ingevoerd"), None);
    sanne.store.delete_record(&gone.id).unwrap();
    sanne.store.end_walk(&walk.id, at(20)).unwrap();
    sanne.store.submit_walk(&walk.id).unwrap();
    sanne.sync().unwrap();
    lead.sync().unwrap();
    assert_eq!(lead.store.refresh_photos(lead.transport.as_ref(), &obs.id).unwrap().len(), 1);
    lead.store.fetch_photo(lead.transport.as_ref(), &photo.id).unwrap();
    lead.store
        .review_record(
            &sig.id,
            Review {
                status: Some(SignalStatus::Referred),
                referral: Some("ref.police".into()),
                question: Some("Hoe laat?".into()),
                answer: None,
                ..Default::default()
            },
        )
        .unwrap();
    lead.store.review_walk(&walk.id, Some("Goed gedaan; waarom die route?".into()), false).unwrap();
    lead.store.mark_record_reviewed(&obs.id).unwrap();
    lead.sync().unwrap();
    sanne.sync().unwrap();
    sanne.store.answer_review(&sig.id, "Rond tien uur").unwrap();
    sanne.store.answer_walk_question(&walk.id, "Langs de school").unwrap();
    sanne.sync().unwrap();
    lead.sync().unwrap();

    let doc = document(&server);
    assert_eq!(doc["openapi"], "3.1.0");
    let requests = validator(&doc, "SyncRequest");
    let answers = validator(&doc, "SyncResponse");
    let (enrol_req, enrol_resp) = (validator(&doc, "EnrolRequest"), validator(&doc, "EnrolResponse"));
    let (settings_req, settings_resp) = (validator(&doc, "SettingsRequest"), validator(&doc, "TeamSettings"));
    let seen = seen.lock().unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for (path, request, answer) in seen.iter() {
        match path.as_str() {
            "/v1/sync" => {
                assert_valid(&requests, "a sync request", request);
                assert_valid(&answers, "a sync answer", answer);
                for e in request["push"].as_array().unwrap().iter().chain(answer["pull"].as_array().unwrap()) {
                    kinds.insert((e["kind"].as_str().unwrap().to_string(), e["deleted"].as_bool().unwrap_or(false)));
                }
            }
            "/v1/enrol" => {
                assert_valid(&enrol_req, "an enrolment request", request);
                assert_valid(&enrol_resp, "an enrolment answer", answer);
            }
            "/v1/settings" => {
                assert_valid(&settings_req, "a settings request", request);
                assert_valid(&settings_resp, "the team's settings", answer);
            }
            "/v1/photos/offer" => {
                assert_valid(&validator(&doc, "PhotoOffer"), "a photo's offer", request);
                assert_valid(&validator(&doc, "PhotoUpload"), "an upload's state", answer);
            }
            p if p.starts_with("/v1/photos/") && p.contains("/bytes?offset=") => {
                assert_valid(&validator(&doc, "PhotoUpload"), "an upload's state", answer);
            }
            "/v1/photos/list" => {
                assert_valid(&validator(&doc, "PhotoListRequest"), "a photo listing's request", request);
                assert_valid(&validator(&doc, "PhotoList"), "a photo listing", answer);
            }
            "/v1/photos/fetch" => assert_valid(&validator(&doc, "PhotoFetch"), "a photo's fetch", request),
            other => panic!("{other}"),
        }
    }
    for path in ["/v1/photos/offer", "/v1/photos/list", "/v1/photos/fetch"] {
        assert!(seen.iter().any(|(p, _, _)| p == path), "no {path} travelled");
    }
    assert!(seen.iter().any(|(p, _, _)| p == "/v1/settings"), "the phones fetched the team's settings");
    assert!(seen.iter().filter(|(p, _, _)| p == "/v1/enrol").count() == 2);
    for kind in ["walk", "observation", "conversation", "signal"] {
        assert!(kinds.contains(&(kind.to_string(), false)), "no {kind} travelled: {kinds:?}");
    }
    assert!(kinds.contains(&("observation".to_string(), true)), "no tombstone travelled");

    // What the server refuses, the document refuses too.
    let entity = validator(&doc, "Entity");
    let pushed = seen.iter().find_map(|(p, r, _)| {
        (p == "/v1/sync")
            .then(|| r["push"].as_array().unwrap().iter().find(|e| e["kind"] == "conversation").cloned())
            .flatten()
    });
    let good = pushed.expect("a pushed conversation");
    assert_valid(&entity, "a conversation", &good);
    type Change = Box<dyn Fn(&mut Value)>;
    let refused: Vec<(&str, Change)> = vec![
        ("an unknown field", Box::new(|e| e["fields"]["verborgen"] = json!(1))),
        ("an unknown key in the place", Box::new(|e| e["fields"]["location"]["verborgen"] = json!(1))),
        ("a text of 4,001 characters", Box::new(|e| e["fields"]["gist"] = json!("x".repeat(4001)))),
        ("no counterpart role", Box::new(|e| e["fields"]["roles"] = json!([]))),
        ("101 people", Box::new(|e| e["fields"]["people"] = json!(101))),
        ("a clock in capitals", Box::new(|e| e["hlc"] = json!(e["hlc"].as_str().unwrap().to_uppercase()))),
        ("a clock of 13 digits", Box::new(|e| e["hlc"] = json!("1000000000000.0000.0000000000000000"))),
        ("an id in capitals", Box::new(|e| e["id"] = json!(e["id"].as_str().unwrap().to_uppercase()))),
        (
            "a record without its walk",
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("walk_id");
            }),
        ),
        ("a status on a conversation", Box::new(|e| e["fields"]["review_status"] = json!("new"))),
        ("an offset beyond 18 hours", Box::new(|e| e["created_offset_s"] = json!(-2147483648i64))),
        ("a tombstone with content", Box::new(|e| e["deleted"] = json!(true))),
    ];
    for (what, change) in refused {
        let mut e = good.clone();
        change(&mut e);
        assert!(!entity.is_valid(&e), "the document takes {what}");
    }
    let request = |protocol: Value, pull_limit: Value| json!({"protocol": protocol, "cursor": 0, "push": [], "pull_limit": pull_limit});
    assert!(requests.is_valid(&request(json!(3), json!(5000))));
    assert!(requests.is_valid(&request(json!(4), json!(5000))));
    assert!(requests.is_valid(&request(json!(5), json!(5000))));
    for (protocol, limit) in [(0, 10), (2, 10), (6, 10), (3, 0), (3, 5001)] {
        assert!(!requests.is_valid(&request(json!(protocol), json!(limit))), "{protocol} {limit}");
    }
    for name in ["", "telefoon\nvals", &"x".repeat(101)] {
        assert!(
            !enrol_req.is_valid(&json!({"protocol": 3, "code": "ABCD-EFGH-JKMN", "device_name": name})),
            "{name:?}"
        );
    }
    // Every error code the server can answer with is in the document.
    let listed: Vec<&str> =
        doc["x-error-codes"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    for code in [
        "malformed",
        "invalid_request",
        "unauthorized",
        "device_revoked",
        "payload_too_large",
        "rate_limited",
        "method_not_allowed",
    ] {
        assert!(listed.contains(&code), "{code}");
    }
}

#[test]
fn the_taxonomy_is_served_to_an_enrolled_device() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Categorieën", 1);
    let code = wijkverkenner_server::admin::issue_code(storage.as_ref(), &t.workers[0].id, 1).unwrap();
    let (device, secret, _, _) = wijkverkenner_server::admin::redeem(storage.as_ref(), &code, "x").unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{}/v1/taxonomy", server.url);
    assert_eq!(agent.get(&url).call().unwrap().status().as_u16(), 401);
    let mut resp = agent.get(&url).header("Authorization", format!("Bearer {}.{}", device.id, secret)).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let taxonomy: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_valid(&validator(&document(&server), "Taxonomy"), "the taxonomy", &taxonomy);
    let weapons = taxonomy["categories"].as_array().unwrap().iter().find(|c| c["code"] == "sig.weapons").unwrap();
    assert_eq!(weapons["sensitive"], true);
    assert_eq!(Taxonomy::from_json(&taxonomy.to_string()).unwrap(), Taxonomy::default_taxonomy());
}
