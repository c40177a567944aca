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
        retention::Retention::set(
            storage.as_ref(),
            &team_id,
            &Retention { conversation_days: 365, observation_days: 730, closed_signal_days: 30, walk_days: 730 },
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
    }
}

#[test]
fn terms_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let t = team(storage.as_ref(), "Zuilen", 0);
    for bad in [0, 30 * 366 + 1] {
        let terms = Retention { conversation_days: bad, ..Retention::default() };
        assert!(Retention::set(storage.as_ref(), &t.team.id, &terms, 0).is_err());
    }
    assert_eq!(Retention::of(storage.as_ref(), &t.team.id).unwrap(), Retention::default());
}

fn admin_now() -> i64 {
    wijkverkenner_server::admin::now_ms()
}
