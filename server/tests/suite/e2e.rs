//! End to end over loopback HTTP: enrol, record, sync, see the team's records, the review
//! loop back to the author, need-to-know for sensitive signals, revocation and wipe.

use crate::common;

use common::*;
use wijkverkenner_core::*;

#[test]
fn a_walk_reaches_the_team_and_the_review_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Overvecht", 2);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let joost = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);
    assert_eq!(lead.store.identity().unwrap().member.role, MemberRole::Lead);

    // Sanne walks and notes an observation and a sensitive signal.
    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    let obs = sanne
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: observation("Leeg pand"),
            created: at(5),
            location: Some(location(52.09, 5.11)),
        })
        .unwrap();
    let sig = sanne
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal("Veel aanloop bij portiek", "sig.stash_house"),
            created: at(6),
            location: Some(location(52.091, 5.111)),
        })
        .unwrap();
    sanne.store.end_walk(&walk.id, at(30)).unwrap();
    assert_eq!(sanne.store.pending_count().unwrap(), 3);
    // A sync cancelled before it starts sends nothing and loses nothing.
    let cancelled = std::sync::atomic::AtomicBool::new(true);
    assert!(matches!(sanne.store.sync(sanne.transport.as_ref(), &cancelled), Err(Error::Cancelled)));
    assert_eq!(sanne.store.pending_count().unwrap(), 3);
    let out = sanne.sync().unwrap();
    assert_eq!(out.acknowledged, 3);
    assert_eq!(sanne.store.pending_count().unwrap(), 0);
    assert_eq!(sanne.store.sync_status().unwrap().state, sync::SyncState::Idle);

    // Joost sees the walk and the observation, never Sanne's sensitive signal.
    joost.sync().unwrap();
    assert!(joost.store.record(&obs.id).is_ok());
    assert!(matches!(joost.store.record(&sig.id), Err(Error::NotFound(_))));
    // Her walk's summary, as Joost sees it, counts only what he may see.
    let full = sanne.store.walk(&walk.id).unwrap().summary.unwrap();
    assert_eq!(full.records, 2);
    assert_eq!(joost.store.walk(&walk.id).unwrap().summary, Some(WalkSummary { records: 1, ..full.clone() }));

    // The lead sees both, refers the signal and asks a question.
    lead.sync().unwrap();
    let seen = lead.store.record(&sig.id).unwrap();
    assert_eq!(seen.body, sig.body);
    lead.store
        .review_record(
            &sig.id,
            Review {
                status: Some(SignalStatus::Referred),
                referral: Some("ref.police".into()),
                question: Some("Welk huisnummer?".into()),
                answer: None,
                ..Default::default()
            },
        )
        .unwrap();
    lead.sync().unwrap();

    // It reaches Sanne's phone on her next sync; she answers, and the lead gets the answer.
    sanne.sync().unwrap();
    let back = sanne.store.record(&sig.id).unwrap();
    assert_eq!(back.review.status, Some(SignalStatus::Referred));
    assert_eq!(back.review.question.as_deref(), Some("Welk huisnummer?"));
    sanne.store.answer_review(&sig.id, "Nummer 12, tweede portiek").unwrap();
    sanne.sync().unwrap();
    lead.sync().unwrap();
    assert_eq!(lead.store.record(&sig.id).unwrap().review.answer.as_deref(), Some("Nummer 12, tweede portiek"));
    // A field worker cannot review.
    assert!(matches!(joost.store.review_record(&obs.id, Review::default()), Err(Error::NotAuthor)));

    // A sync with nothing to do is one round trip.
    let idle = sanne.sync().unwrap();
    assert_eq!((idle.round_trips, idle.acknowledged, idle.pulled), (1, 0, 0));
}

#[test]
fn a_signal_that_becomes_sensitive_leaves_the_other_field_workers_phones() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Kanaleneiland", 2);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let joost = Phone::enrol(&server, storage.as_ref(), &t.workers[1]);
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);
    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    let sig = sanne
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal("Jongeren worden aangesproken bij de snackbar", "sig.other"),
            created: at(5),
            location: Some(location(52.08, 5.09)),
        })
        .unwrap();
    sanne.sync().unwrap();
    joost.sync().unwrap();
    lead.sync().unwrap();
    assert!(joost.store.record(&sig.id).is_ok(), "an open signal reaches the team");

    // Sanne sees it is recruitment of youths: a sensitive category.
    sanne
        .store
        .edit_record(&sig.id, signal("Jongeren worden geronseld bij de snackbar", "sig.youth_recruitment"), None)
        .unwrap();
    sanne.sync().unwrap();
    let out = joost.sync().unwrap();
    assert_eq!(out.withdrawn, 1);
    assert!(matches!(joost.store.record(&sig.id), Err(Error::NotFound(_))), "gone from Joost's phone");
    assert_eq!(joost.store.record_counts().unwrap(), (0, 0), "no copy and no tombstone left");
    // The lead and Sanne keep it, with the new text.
    lead.sync().unwrap();
    for phone in [&lead, &sanne] {
        let r = phone.store.record(&sig.id).unwrap();
        assert_eq!(r.body, signal("Jongeren worden geronseld bij de snackbar", "sig.youth_recruitment"));
    }
    // Nothing comes back on later syncs.
    assert_eq!(joost.sync().unwrap().withdrawn, 0);
    assert!(matches!(joost.store.record(&sig.id), Err(Error::NotFound(_))));
}

#[test]
fn a_revoked_phone_is_refused_and_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Zuilen", 1);
    let phone = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let walk = phone.store.start_walk(new_walk(0)).unwrap();
    phone
        .store
        .add_record(NewRecord { walk_id: walk.id, body: observation("x"), created: at(1), location: None })
        .unwrap();
    phone.sync().unwrap();
    let device = phone.store.identity().unwrap().device.to_string();
    assert!(storage.revoke_device(&device, 1).unwrap());
    assert!(matches!(phone.sync(), Err(Error::Revoked)));
    assert_eq!(phone.store.record_counts().unwrap(), (0, 0));
    assert!(phone.store.identity().is_none());
    assert_eq!(phone.store.sync_status().unwrap().state, sync::SyncState::Revoked);
}

#[test]
fn an_enrolment_whose_answer_is_lost_can_be_repeated() {
    /// Delivers the first request and loses its answer, like a tunnel on the way home.
    struct LosesFirstAnswer(wijkverkenner_core::sync::http::HttpTransport, std::sync::atomic::AtomicBool);
    impl sync::Transport for LosesFirstAnswer {
        fn post(
            &self,
            path: &str,
            credential: Option<&str>,
            body: Vec<u8>,
        ) -> std::result::Result<sync::engine::HttpResponse, sync::engine::TransportError> {
            let answer = self.0.post(path, credential, body);
            if !self.1.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Err(sync::engine::TransportError("connection reset".into()));
            }
            answer
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Lunetten", 1);
    let code = wijkverkenner_server::admin::issue_code(storage.as_ref(), &t.workers[0].id, 1).unwrap();
    let transport = LosesFirstAnswer(
        wijkverkenner_core::sync::http::HttpTransport::new(&server.url),
        std::sync::atomic::AtomicBool::new(false),
    );
    let path = dir.path().join("phone.db");
    let phone = Store::open(&path, Encryption::Key(StoreKey::new([3; 32]))).unwrap();
    assert!(matches!(phone.enrol(&transport, &code, "telefoon"), Err(Error::Transport(_))));
    assert!(phone.identity().is_none());
    // The app is restarted, then tries again with the same code: it works, once.
    drop(phone);
    let phone = Store::open(&path, Encryption::Key(StoreKey::new([3; 32]))).unwrap();
    let me = phone.enrol(&transport, &code, "telefoon").unwrap();
    assert_eq!(storage.devices(&t.team.id).unwrap().len(), 1, "one device, not two");
    assert_eq!(storage.devices(&t.team.id).unwrap()[0].0.id, me.device.to_string());
    phone.sync(&transport, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    // Another phone with the spent code is still refused.
    let other = Store::open(dir.path().join("other.db"), Encryption::Key(StoreKey::new([4; 32]))).unwrap();
    assert!(matches!(other.enrol(&transport, &code, "ander"), Err(Error::Server { status: 403, .. })));
}

#[test]
fn enrolment_codes_are_one_time() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Noord", 1);
    let code = wijkverkenner_server::admin::issue_code(storage.as_ref(), &t.workers[0].id, 1).unwrap();
    assert_eq!(code.len(), 14);
    let transport = wijkverkenner_core::sync::http::HttpTransport::new(&server.url);
    let a = Store::open(dir.path().join("a.db"), Encryption::Key(StoreKey::new([1; 32]))).unwrap();
    // Typed in lower case, without the dash: still valid.
    a.enrol(&transport, &code.replace('-', "").to_lowercase(), "telefoon A").unwrap();
    let b = Store::open(dir.path().join("b.db"), Encryption::Key(StoreKey::new([2; 32]))).unwrap();
    match b.enrol(&transport, &code, "telefoon B") {
        Err(Error::Server { status: 403, code, .. }) => assert_eq!(code, "invalid_code"),
        other => panic!("a used code must be refused, got {other:?}"),
    }
    assert!(b.identity().is_none());
}

#[test]
fn a_refused_change_gives_the_phone_the_teams_version_and_the_outbox_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Zuilen", 1);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let lead = Phone::enrol(&server, storage.as_ref(), &t.lead);
    let second_lead_member = wijkverkenner_server::admin::add_member(
        storage.as_ref(),
        &t.team.id,
        "Tweede",
        wijkverkenner_server::storage::Role::Lead,
        "Gemeente",
    )
    .unwrap();
    let lead2 = Phone::enrol(&server, storage.as_ref(), &second_lead_member);
    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    let add = |text: &str| {
        sanne
            .store
            .add_record(NewRecord {
                walk_id: walk.id,
                body: signal(text, "sig.drug_dealing"),
                created: at(5),
                location: Some(location(52.1, 5.1)),
            })
            .unwrap()
    };
    let (edited, deleted) = (add("Aanloop bij nummer 3"), add("Auto met draaiende motor"));
    sanne.sync().unwrap();
    lead.sync().unwrap();
    lead2.sync().unwrap();
    // Both leads decide at once; the first refers both signals, the second closes one.
    for id in [&edited.id, &deleted.id] {
        lead.store
            .review_record(
                id,
                Review {
                    status: Some(SignalStatus::Referred),
                    referral: Some("ref.police".into()),
                    question: None,
                    answer: None,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    lead.sync().unwrap();
    lead2
        .store
        .review_record(&edited.id, Review { status: Some(SignalStatus::InReview), ..Default::default() })
        .unwrap();
    // Meanwhile Sanne, offline, changes one and deletes the other.
    sanne.store.edit_record(&edited.id, signal("Aanloop bij nummer 5", "sig.drug_dealing"), None).unwrap();
    sanne.store.delete_record(&deleted.id).unwrap();

    // Referred means frozen for the author: both are refused, and her phone shows the team's
    // version again (the deleted signal comes back); nothing stays in the outbox.
    let out = sanne.sync().unwrap();
    assert_eq!(out.refused, 2, "{out:?}");
    assert_eq!(sanne.store.pending_count().unwrap(), 0);
    let back = sanne.store.record(&edited.id).unwrap();
    assert_eq!(back.body, edited.body);
    assert_eq!(back.review.status, Some(SignalStatus::Referred));
    assert_eq!(sanne.store.record(&deleted.id).unwrap().body, deleted.body);
    let status = sanne.store.sync_status().unwrap();
    assert_eq!(status.refused.len(), 2, "{status:?}");
    // And the phone itself now refuses to change what a lead referred.
    assert!(matches!(sanne.store.edit_record(&edited.id, signal("x", "sig.drug_dealing"), None), Err(Error::Reviewed)));
    // The second lead's "in review" was decided before it saw the referral; from "referred"
    // it is still a legal step (reopened for review), so it applies.
    let out = lead2.sync().unwrap();
    assert_eq!(out.refused, 0);
    assert_eq!(lead2.store.record(&edited.id).unwrap().review.status, Some(SignalStatus::InReview));
    // Everyone ends with the same state.
    for p in [&sanne, &lead, &lead2] {
        p.sync().unwrap();
    }
    assert_eq!(snapshot(&sanne.store), snapshot(&lead.store));
    assert_eq!(snapshot(&lead.store), snapshot(&lead2.store));
}

/// Passes requests on; changes what the server answers.
struct Meddling<F: Fn(&serde_json::Value, Vec<u8>) -> Vec<u8> + Send + Sync> {
    inner: wijkverkenner_core::sync::http::HttpTransport,
    answer: F,
}

impl<F: Fn(&serde_json::Value, Vec<u8>) -> Vec<u8> + Send + Sync> sync::Transport for Meddling<F> {
    fn post(
        &self,
        path: &str,
        credential: Option<&str>,
        body: Vec<u8>,
    ) -> Result<sync::HttpResponse, sync::TransportError> {
        let request: serde_json::Value = serde_json::from_slice(&sync::engine::decode_body(&body).unwrap()).unwrap();
        let mut resp = self.inner.post(path, credential, body)?;
        if path == "/v1/sync" && resp.status == 200 {
            resp.body = (self.answer)(&request, resp.body);
        }
        Ok(resp)
    }
}

#[test]
fn a_page_the_phone_cannot_take_is_asked_for_smaller_and_one_bad_entity_spoils_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Paginas", 1);
    let sanne = Phone::enrol(&server, storage.as_ref(), &t.workers[0]);
    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    for i in 0..5 {
        sanne
            .store
            .add_record(NewRecord {
                walk_id: walk.id,
                body: observation(&format!("nummer {i}")),
                created: at(1),
                location: None,
            })
            .unwrap();
    }
    sanne.sync().unwrap();

    // An answer too large to unpack whenever more than 64 entities are asked for.
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bomb = zstd::bulk::compress(&vec![b' '; 65 * 1024 * 1024], 3).unwrap();
    let seen = asked.clone();
    let shrinking = Meddling {
        inner: wijkverkenner_core::sync::http::HttpTransport::new(&server.url),
        answer: move |req: &serde_json::Value, body: Vec<u8>| {
            let asked = &seen;
            let limit = req["pull_limit"].as_u64().unwrap();
            asked.lock().unwrap().push(limit);
            if limit > 64 {
                bomb.clone()
            } else {
                body
            }
        },
    };
    let lead = Phone::enrol_with(Box::new(shrinking), storage.as_ref(), &t.lead);
    let out = lead.sync().unwrap();
    assert_eq!(out.pulled, 6, "the walk and its five records");
    let asked = asked.lock().unwrap().clone();
    assert!(asked.windows(2).all(|w| w[1] <= w[0]) && *asked.last().unwrap() <= 64, "{asked:?}");

    // One entity no app can read (a clock of thirteen digits, stored before servers bounded
    // clocks) among good ones: it is counted, the others arrive.
    let poisoning = Meddling {
        inner: wijkverkenner_core::sync::http::HttpTransport::new(&server.url),
        answer: |_: &serde_json::Value, body: Vec<u8>| {
            let mut answer: serde_json::Value =
                serde_json::from_slice(&sync::engine::decode_body(&body).unwrap()).unwrap();
            if let Some(pull) = answer["pull"].as_array_mut().filter(|p| !p.is_empty()) {
                let mut bad = pull[0].clone();
                bad["id"] = serde_json::json!(uuid::Uuid::now_v7().to_string());
                bad["hlc"] = serde_json::json!("1000000000000.0000.0000000000000000");
                pull.insert(0, bad);
            }
            serde_json::to_vec(&answer).unwrap()
        },
    };
    let joost_member = wijkverkenner_server::admin::add_member(
        storage.as_ref(),
        &t.team.id,
        "Joost",
        wijkverkenner_server::storage::Role::FieldWorker,
        "",
    )
    .unwrap();
    let joost = Phone::enrol_with(Box::new(poisoning), storage.as_ref(), &joost_member);
    let out = joost.sync().unwrap();
    assert_eq!((out.pulled, out.unreadable), (6, 1));
    assert_eq!(joost.store.sync_status().unwrap().unreadable, 1);
}

/// A colleague's walk shows what the viewer may see: its record count and its buurten leave
/// out a sensitive signal of someone else (a count or a buurt would hint at it); its author
/// and the lead see all of it.
#[test]
fn a_colleagues_walk_counts_only_what_the_viewer_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Overvecht", 2);
    let (sanne, joost, lead) = (
        Phone::enrol(&server, storage.as_ref(), &t.workers[0]),
        Phone::enrol(&server, storage.as_ref(), &t.workers[1]),
        Phone::enrol(&server, storage.as_ref(), &t.lead),
    );
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");
    let read = |f: &str| std::fs::read_to_string(format!("{root}/{f}")).unwrap();
    sanne.store.load_neighbourhoods(&read("buurt.geojson"), Some(&read("wijk.geojson"))).unwrap();
    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    let add = |body, lat, lon, minute| {
        sanne
            .store
            .add_record(NewRecord { walk_id: walk.id, body, created: at(minute), location: Some(location(lat, lon)) })
            .unwrap()
    };
    // An observation at the Dom, a sensitive signal in Overvecht, an ordinary one at the Dom.
    let obs = add(observation("Leeg pand"), 52.0907, 5.1214, 5);
    let hidden = add(signal("Veel aanloop bij portiek", "sig.stash_house"), 52.1160, 5.1270, 6);
    add(signal("Afval gedumpt", "sig.other"), 52.0909, 5.1216, 7);
    sanne.store.end_walk(&walk.id, at(30)).unwrap();
    sanne.sync().unwrap();
    let own = sanne.store.walk(&walk.id).unwrap();
    let (inside, outside) =
        (sanne.store.record(&obs.id).unwrap().buurt.unwrap(), sanne.store.record(&hidden.id).unwrap().buurt.unwrap());
    assert_ne!(inside, outside);
    assert!(own.buurten.contains(&outside) && own.summary.as_ref().unwrap().records == 3);

    joost.sync().unwrap();
    let seen = joost.store.walk(&walk.id).unwrap();
    assert_eq!(seen.summary.as_ref().unwrap().records, 2, "the sensitive signal is not counted");
    assert!(seen.buurten.contains(&inside));
    assert!(!seen.buurten.contains(&outside), "nor its buurt: {:?}", seen.buurten);
    lead.sync().unwrap();
    let led = lead.store.walk(&walk.id).unwrap();
    assert_eq!((led.summary, led.buurten), (own.summary, own.buurten), "the lead sees all");
}

/// Places as each one may see them: the author keeps the precise point; a conversation reaches
/// everyone else — the lead too — as the centre of its 100 m cell; a signal is precise for the
/// lead and coarse for colleagues; an observation of public space stays precise; a colleague's
/// route is coarsened (it would tell where a conversation took place, by its time).
#[test]
fn places_are_shared_as_precisely_as_each_viewer_needs() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Overvecht", 2);
    let (sanne, joost, lead) = (
        Phone::enrol(&server, storage.as_ref(), &t.workers[0]),
        Phone::enrol(&server, storage.as_ref(), &t.workers[1]),
        Phone::enrol(&server, storage.as_ref(), &t.lead),
    );
    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    let fixes: Vec<Fix> = (0..40)
        .map(|i| Fix {
            at_ms: at(0).utc_ms + i * 20_000,
            lat: 52.1000 + i as f64 * 3e-5,
            lon: 5.1100,
            accuracy_m: 6.0,
            source: LocationSource::Gps,
        })
        .collect();
    sanne.store.add_fixes(&walk.id, &fixes).unwrap();
    let add = |body, lat, lon| {
        sanne
            .store
            .add_record(NewRecord { walk_id: walk.id, body, created: at(3), location: Some(location(lat, lon)) })
            .unwrap()
    };
    let talk = add(conversation("Over de speeltuin"), 52.10031, 5.11012);
    // A second one a few metres from the first one's cell centre: surely in the same cell.
    let centre = location::coarsen(52.10031, 5.11012, wijkverkenner_server::sync::SHARED_CELL_M);
    let talk2 = add(conversation("Over het afval"), centre.0 + 0.00002, centre.1 - 0.00003);
    let sig = add(signal("Afval gedumpt", "sig.other"), 52.10047, 5.11031);
    let obs = add(observation("Rolluik altijd dicht"), 52.10052, 5.11044);
    sanne.store.end_walk(&walk.id, at(20)).unwrap();
    sanne.sync().unwrap();
    joost.sync().unwrap();
    lead.sync().unwrap();

    let point = |p: &Phone, id: &RecordId| *p.store.record(id).unwrap().location.point().unwrap();
    let exact = |id: &RecordId| *sanne.store.record(id).unwrap().location.point().unwrap();
    let coarse = |l: Location| {
        let (lat, lon) = location::coarsen(l.lat, l.lon, wijkverkenner_server::sync::SHARED_CELL_M);
        (lat, lon)
    };
    // The author: precise, all of it.
    assert_eq!(exact(&talk.id).lat, 52.10031);
    for viewer in [&joost, &lead] {
        let seen = point(viewer, &talk.id);
        assert_eq!((seen.lat, seen.lon), coarse(exact(&talk.id)));
        assert!(seen.accuracy_m >= 70.0, "the vaguer point says so");
        assert!(location::haversine_m(seen.lat, seen.lon, 52.10031, 5.11012) <= 71.0);
        // Two conversations in one cell: one point, nothing to average.
        assert_eq!((point(viewer, &talk2.id).lat, point(viewer, &talk2.id).lon), (seen.lat, seen.lon));
        // An observation: precise for everyone.
        assert_eq!(point(viewer, &obs.id), exact(&obs.id));
    }
    assert_eq!(point(&lead, &sig.id), exact(&sig.id), "the lead follows a signal up: precise");
    let colleague = point(&joost, &sig.id);
    assert_eq!((colleague.lat, colleague.lon), coarse(exact(&sig.id)));

    // The route: precise for the author and the lead, coarse for a colleague.
    let route = |p: &Phone| p.store.walk_track(&walk.id).unwrap();
    assert_eq!(route(&lead), route(&sanne));
    let theirs = route(&joost);
    assert!(!theirs.is_empty() && theirs != route(&sanne));
    assert!(theirs.windows(2).all(|w| (w[0].lat, w[0].lon) != (w[1].lat, w[1].lon)), "a run in one cell is one point");
    for p in &theirs {
        assert_eq!((p.lat, p.lon), location::coarsen(p.lat, p.lon, wijkverkenner_server::sync::SHARED_CELL_M));
    }
}

/// A team's own grid (`location-grid`): what is shared from then on is coarsened to it, on the
/// phones and in the review pages' data alike; the author still has the precise point.
#[test]
fn a_team_sets_its_own_grid_for_shared_places() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Vleuten", 1);
    let (sanne, lead) =
        (Phone::enrol(&server, storage.as_ref(), &t.workers[0]), Phone::enrol(&server, storage.as_ref(), &t.lead));
    storage.set_location_cell(&t.team.id, 500, wijkverkenner_server::admin::now_ms()).unwrap();
    let walk = sanne.store.start_walk(new_walk(0)).unwrap();
    let talk = sanne
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: conversation("Over de speeltuin"),
            created: at(3),
            location: Some(location(52.10031, 5.11012)),
        })
        .unwrap();
    sanne.store.end_walk(&walk.id, at(20)).unwrap();
    sanne.sync().unwrap();
    lead.sync().unwrap();
    let wide = location::coarsen(52.10031, 5.11012, 500.0);
    assert_ne!(wide, location::coarsen(52.10031, 5.11012, wijkverkenner_server::sync::SHARED_CELL_M));
    let seen = *lead.store.record(&talk.id).unwrap().location.point().unwrap();
    assert_eq!((seen.lat, seen.lon), wide, "the lead's phone: the team's 500 m grid");
    assert!(seen.accuracy_m >= 350.0, "and it says how vague it is");
    let data =
        wijkverkenner_server::reports::load_walk(storage.as_ref(), &t.team.id, &walk.id.to_string()).unwrap().unwrap();
    let page = data.records[0].location.point().unwrap();
    assert_eq!((page.lat, page.lon), wide, "the review pages: the same grid");
    assert_eq!(sanne.store.record(&talk.id).unwrap().location.point().unwrap().lat, 52.10031);
}
