//! Retention, on both backends: with the clock moved past each term, the purge removes exactly
//! the expired records (their content and review history gone from the server, tombstones to
//! every phone), leaves a complete deletion log without content, and — on the embedded
//! database — the purged text is in none of the server's files afterwards.

use crate::common;

use std::sync::Arc;

use common::*;
use wijkverkenner_core::*;
use wijkverkenner_server::retention::{self, Retention};
use wijkverkenner_server::Storage;

const DAY_MS: i64 = 86_400_000;

/// Every byte of every file in the data directory.
pub(crate) fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            p.is_file().then(|| (p.display().to_string(), std::fs::read(&p).unwrap()))
        })
        .collect()
}

pub(crate) fn holds(files: &[(String, Vec<u8>)], needle: &str) -> Vec<String> {
    files
        .iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn the_purge_removes_exactly_what_expired_everywhere_and_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let backends: Vec<(Arc<dyn Storage>, Option<&std::path::Path>)> =
        vec![(sqlite_storage(dir.path()), Some(dir.path())), (postgres_storage(), None)];
    for (storage, files_at) in backends {
        let server = TestServer::start(storage.clone());
        let t = team(storage.as_ref(), "Overvecht", 2);
        let (sanne, joost, lead) = (
            Phone::enrol(&server, storage.as_ref(), &t.workers[0]),
            Phone::enrol(&server, storage.as_ref(), &t.workers[1]),
            Phone::enrol(&server, storage.as_ref(), &t.lead),
        );
        let team_id = t.team.id.clone();
        retention::set_terms(
            storage.as_ref(),
            &team_id,
            &Retention {
                conversation_days: 365,
                observation_days: 730,
                closed_signal_days: 30,
                walk_days: 730,
                ..Retention::default()
            },
            admin_now(),
        )
        .unwrap();
        let walk = sanne.store.start_walk(new_walk(0)).unwrap();
        let add = |body| {
            sanne
                .store
                .add_record(NewRecord { walk_id: walk.id, body, created: at(5), location: Some(location(52.1, 5.11)) })
                .unwrap()
        };
        let talk = add(conversation("CANARY-CONVERSATION-4711 over de speeltuin"));
        let obs = add(observation("CANARY-OBSERVATION-4712 rolluik dicht"));
        let closed = add(signal("CANARY-CLOSED-4713 aanloop", "sig.other"));
        let open = add(signal("CANARY-OPEN-4714 aanloop", "sig.other"));
        sanne.store.end_walk(&walk.id, at(30)).unwrap();
        sanne.sync().unwrap();
        lead.sync().unwrap();
        lead.store
            .review_record(&closed.id, Review { status: Some(SignalStatus::Closed), ..Default::default() })
            .unwrap();
        lead.sync().unwrap();
        joost.sync().unwrap();
        assert!(!storage.history(&team_id, &closed.id.to_string()).unwrap().is_empty());
        let made = at(5).utc_ms;

        // Before any term: nothing goes (the signal was closed just now, 30 days to go).
        assert_eq!(retention::purge(storage.as_ref(), &team_id, admin_now() + 10 * DAY_MS).unwrap(), vec![]);

        // 400 days on: the conversation (365) and the signal closed over 30 days ago.
        let first_at = admin_now().max(made) + 400 * DAY_MS;
        let first = retention::purge(storage.as_ref(), &team_id, first_at).unwrap();
        let logged: Vec<(String, String)> = first.iter().map(|d| (d.entity_id.clone(), d.kind.clone())).collect();
        assert_eq!(
            logged,
            vec![(talk.id.to_string(), "conversation".into()), (closed.id.to_string(), "signal".into())],
            "{first:?}"
        );
        assert!(first.iter().all(|d| d.at_ms == first_at && !d.reason.contains("CANARY")));
        assert_eq!(storage.history(&team_id, &closed.id.to_string()).unwrap(), vec![], "the leads' comments go too");
        // Running it again purges nothing twice.
        assert_eq!(retention::purge(storage.as_ref(), &team_id, first_at).unwrap(), vec![]);

        // Every phone takes the tombstones.
        for p in [&sanne, &joost, &lead] {
            p.sync().unwrap();
            assert!(matches!(p.store.record(&talk.id), Err(Error::NotFound(_))));
            assert!(matches!(p.store.record(&closed.id), Err(Error::NotFound(_))));
            assert!(p.store.record(&obs.id).is_ok() && p.store.record(&open.id).is_ok());
        }

        // 800 days on: the observation; the walk stays while its open signal is kept.
        let second = retention::purge(storage.as_ref(), &team_id, made + 800 * DAY_MS).unwrap();
        assert_eq!(second.iter().map(|d| d.entity_id.clone()).collect::<Vec<_>>(), vec![obs.id.to_string()]);
        assert!(sanne.sync().is_ok() && sanne.store.walk(&walk.id).is_ok());

        // The log holds both purges, complete, without content.
        let log = storage.deletions(&team_id, 0).unwrap();
        assert_eq!(log.len(), 3);
        assert!(log.iter().all(|d| !d.reason.is_empty() && !format!("{d:?}").contains("CANARY")));

        // The purged text is in no file of the server; what is kept still is.
        if let Some(at) = files_at {
            let now = files(at);
            for gone in ["CANARY-CONVERSATION-4711", "CANARY-CLOSED-4713", "CANARY-OBSERVATION-4712"] {
                assert_eq!(holds(&now, gone), Vec::<String>::new(), "{gone}");
            }
            assert!(!holds(&now, "CANARY-OPEN-4714").is_empty(), "the scan can find what is there");
        }

        // The open signal closed: 30 days after that it goes, and with it the walk (730 days,
        // none of its records kept any more).
        lead.sync().unwrap();
        lead.store
            .review_record(&open.id, Review { status: Some(SignalStatus::Closed), ..Default::default() })
            .unwrap();
        lead.sync().unwrap();
        let third = retention::purge(storage.as_ref(), &team_id, admin_now().max(made) + 800 * DAY_MS).unwrap();
        let logged: Vec<(String, String)> = third.iter().map(|d| (d.entity_id.clone(), d.kind.clone())).collect();
        assert_eq!(logged, vec![(open.id.to_string(), "signal".into()), (walk.id.to_string(), "walk".into())]);
        sanne.sync().unwrap();
        assert!(matches!(sanne.store.walk(&walk.id), Err(Error::NotFound(_))), "the walk left the phone too");
        if let Some(at) = files_at {
            assert_eq!(holds(&files(at), "CANARY-OPEN-4714"), Vec::<String>::new());
        }
    }
}

#[test]
fn terms_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let t = team(storage.as_ref(), "Zuilen", 0);
    for bad in [0, 30 * 366 + 1] {
        let terms = Retention { conversation_days: bad, ..Retention::default() };
        assert!(retention::set_terms(storage.as_ref(), &t.team.id, &terms, 0).is_err());
    }
    assert_eq!(retention::terms(storage.as_ref(), &t.team.id).unwrap(), Retention::default());
}

fn admin_now() -> i64 {
    wijkverkenner_server::admin::now_ms()
}

/// The phone's side: it takes the team's terms with the settings, forgets what expired by
/// itself (offline, nothing pushed; what the team has not received yet is kept until it has),
/// drops the raw fixes of a reviewed walk, leaves none of it in its file, and locks its data
/// when it has not synced for the team's number of days — until a sync succeeds.
#[test]
fn every_phone_purges_by_the_teams_terms_and_locks_when_it_does_not_sync() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Zuilen", 1);
    let terms = Retention {
        conversation_days: 365,
        observation_days: 730,
        closed_signal_days: 30,
        walk_days: 730,
        raw_fixes_after_review_days: 0,
        lock_after_days: 14,
    };
    retention::set_terms(storage.as_ref(), &t.team.id, &terms, admin_now()).unwrap();
    // A phone whose file can be read (plaintext, tests only), to look for what it forgot.
    let phone_dir = tempfile::tempdir().unwrap();
    let file = phone_dir.path().join("phone.db");
    let store = Store::open(&file, Encryption::PlaintextForTestsOnly).unwrap();
    let transport: Box<dyn sync::Transport> = Box::new(sync::http::HttpTransport::new(&server.url));
    let code = wijkverkenner_server::admin::issue_code(storage.as_ref(), &t.workers[0].id, 1).unwrap();
    store.enrol(transport.as_ref(), &code, "telefoon").unwrap();
    let sanne = Phone { store, transport, dir: phone_dir };
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);

    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    let fixes: Vec<Fix> = (0..20)
        .map(|i| Fix {
            at_ms: at(1).utc_ms + i * 10_000,
            lat: 52.1 + i as f64 * 0.0001,
            lon: 5.11,
            accuracy_m: 5.0,
            source: LocationSource::Gps,
        })
        .collect();
    sanne.store.add_fixes(&walk.id, &fixes).unwrap();
    let add = |body| {
        sanne
            .store
            .add_record(NewRecord { walk_id: walk.id, body, created: at(5), location: Some(location(52.1, 5.11)) })
            .unwrap()
    };
    let talk = add(conversation("CANARY-PHONE-TALK-5711 over de speeltuin"));
    let obs = add(observation("CANARY-PHONE-OBS-5712 rolluik dicht"));
    let closed = add(signal("CANARY-PHONE-CLOSED-5713 aanloop", "sig.other"));
    let open = add(signal("CANARY-PHONE-OPEN-5714 aanloop", "sig.other"));
    sanne.store.end_walk(&walk.id, at(30)).unwrap();
    sanne.sync().unwrap();
    assert_eq!(sanne.store.retention().unwrap(), Some(terms), "the phone took the team's terms");
    // Phones of protocol 4 get the settings without them (they would refuse the field).
    let code = wijkverkenner_server::admin::issue_code(storage.as_ref(), &t.workers[0].id, 1).unwrap();
    let (device, secret, _, _) = wijkverkenner_server::admin::redeem(storage.as_ref(), &code, "raw").unwrap();
    for (protocol, has) in [(4, false), (5, true)] {
        let mut resp = ureq::post(format!("{}/v1/settings", server.url))
            .header("Authorization", format!("Bearer {}.{secret}", device.id))
            .header("Content-Type", "application/json")
            .send(serde_json::json!({"protocol": protocol}).to_string())
            .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(doc.get("retention").is_some(), has, "protocol {protocol}");
        TeamSettings::from_json(doc.to_string().as_bytes()).unwrap();
    }
    lead.sync().unwrap();
    lead.store.review_record(&closed.id, Review { status: Some(SignalStatus::Closed), ..Default::default() }).unwrap();
    lead.store.review_walk(&walk.id, None, true).unwrap();
    lead.sync().unwrap();
    sanne.sync().unwrap();
    let count =
        |sql: &str| -> i64 { rusqlite::Connection::open(&file).unwrap().query_row(sql, [], |r| r.get(0)).unwrap() };
    // The sync that brought the review dropped the walk's raw fixes (0 days after the review),
    // nothing else.
    assert_eq!(count("SELECT count(*) FROM fixes"), 0);
    assert_eq!(sanne.store.purge_expired(admin_now()).unwrap(), Purged::default());
    assert!(sanne.store.walk(&walk.id).unwrap().summary.is_some(), "the walk keeps its summary");

    // A conversation recorded late (made long ago) that the team has not received yet.
    let second = sanne.store.start_walk(new_walk(100)).unwrap();
    let late = sanne
        .store
        .add_record(NewRecord {
            walk_id: second.id,
            body: conversation("CANARY-PHONE-LATE-5715 nog niet gesynct"),
            created: at(105),
            location: Some(location(52.1, 5.11)),
        })
        .unwrap();
    // 400 days on, offline: the conversation (365) and the closed signal (30) go; nothing is
    // pushed; the late one stays until the team has it.
    let later = admin_now().max(at(5).utc_ms) + 400 * DAY_MS;
    let purged = sanne.store.purge_expired(later).unwrap();
    assert_eq!((purged.records, purged.walks), (2, 0));
    for gone in [&talk.id, &closed.id] {
        assert!(matches!(sanne.store.record(gone), Err(Error::NotFound(_))));
    }
    for kept in [&obs.id, &open.id, &late.id] {
        assert!(sanne.store.record(kept).is_ok());
    }
    assert_eq!(sanne.store.pending_count().unwrap(), 2, "only the late walk and conversation wait to be pushed");
    // The phone's own deletion log: what, which, when, why — never content.
    let log = sanne.store.purge_log().unwrap();
    let lines: Vec<(&str, String)> = log.iter().map(|l| (l.kind.as_str(), l.id.clone())).collect();
    assert_eq!(
        lines,
        vec![("fixes", walk.id.to_string()), ("conversation", talk.id.to_string()), ("signal", closed.id.to_string())]
    );
    assert!(log[1..].iter().all(|l| l.at_ms == later && !l.reason.is_empty()));
    assert!(!format!("{log:?}").contains("CANARY"));
    let bytes = std::fs::read(&file).unwrap();
    let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    assert!(!has("CANARY-PHONE-TALK-5711") && !has("CANARY-PHONE-CLOSED-5713"), "forgotten text is in the file");
    assert!(has("CANARY-PHONE-OBS-5712"), "the scan reads the file");
    assert!(!std::fs::read(phone_dir_wal(&file)).unwrap_or_default().windows(10).any(|w| w == b"CANARY-PHO"));
    // The server was not told anything: its copy is the team's to purge.
    assert_eq!(storage.deletions(&t.team.id, 0).unwrap(), vec![]);
    sanne.sync().unwrap();
    assert_eq!(sanne.store.purge_expired(later).unwrap().records, 1, "pushed, the late one goes too");

    // Not synced for 15 days (the team allows 14): the data locks, sync stays open.
    sanne.store.simulate_clock_skew(15 * DAY_MS);
    assert!(sanne.store.is_locked());
    assert!(matches!(sanne.store.record(&obs.id), Err(Error::Locked)));
    assert!(matches!(sanne.store.recent_walks(&PageRequest::first(10)), Err(Error::Locked)));
    assert!(matches!(sanne.store.start_walk(new_walk(60)), Err(Error::Locked)));
    assert!(sanne.store.sync_status().is_ok());
    sanne.sync().unwrap();
    assert!(!sanne.store.is_locked(), "a sync unlocks it");
    assert!(sanne.store.record(&obs.id).is_ok());
}

fn phone_dir_wal(db: &std::path::Path) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    p.into()
}
