//! Team settings over real HTTP with real phones, on both storage backends: what an
//! administrator sets (categories, office hours, boundaries) reaches every phone of the team at
//! its next sync; pushes are validated against the team's own categories; a retired category
//! stays valid on old records but is not offered for new ones; a category marked sensitive
//! takes its signals from the phones that may no longer see them; codes are never removed nor
//! reused.

use std::sync::Arc;

use crate::common;
use common::*;
use wijkverkenner_core::*;
use wijkverkenner_server::settings::{self, By, Change, Teams};
use wijkverkenner_server::Storage;

fn backends() -> Vec<(Arc<dyn Storage>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    vec![(sqlite_storage(dir.path()), Some(dir)), (postgres_storage(), None)]
}

fn utrecht() -> (String, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    (read("buurt.geojson"), read("wijk.geojson"))
}

/// Applies a change as the command line does; panics if it is refused.
fn set(storage: &dyn Storage, team: &str, change: Change) -> settings::Changed {
    settings::change(storage, &Teams::default(), team, By::CommandLine, &change).unwrap().unwrap()
}

fn refused(storage: &dyn Storage, team: &str, change: Change) -> String {
    settings::change(storage, &Teams::default(), team, By::CommandLine, &change).unwrap().unwrap_err().0
}

fn add(kind: CategoryKind, nl: &str, sensitive: bool) -> Change {
    Change::AddCategory { kind, code: None, nl: nl.into(), en: format!("{nl} (en)"), sensitive, professional: false }
}

fn edit(storage: &dyn Storage, team: &str, code: &str, f: impl FnOnce(&mut Category)) -> Change {
    let config = Teams::default().config_of(storage, team).unwrap().unwrap();
    let mut c = config.taxonomy.get(code).unwrap().clone();
    f(&mut c);
    Change::EditCategory {
        code: c.code,
        nl: c.nl,
        en: c.en,
        sensitive: c.sensitive,
        professional: c.professional,
        retired: c.retired,
    }
}

/// In Overvecht (buurt 26 of Utrecht's open data).
const OVERVECHT: (f64, f64) = (52.1120, 5.1100);

fn note(phone: &Phone, walk: WalkId, body: RecordBody, minute: i64) -> Result<Record> {
    phone.store.add_record(NewRecord {
        walk_id: walk,
        body,
        created: at(minute),
        location: Some(location(OVERVECHT.0, OVERVECHT.1)),
    })
}

#[test]
fn settings_reach_every_phone_and_pushes_are_checked_against_the_teams_categories() {
    for (storage, _dir) in backends() {
        let s = storage.as_ref();
        let server = TestServer::start(storage.clone());
        let t = team(s, "Overvecht", 2);
        let other = team(s, "Zuilen", 1);
        let sanne = Phone::enrol(&server, s, &t.workers[0]);
        let joost = Phone::enrol(&server, s, &t.workers[1]);
        let stranger = Phone::enrol(&server, s, &other.workers[0]);
        // The first sync takes the server's defaults: the shipped taxonomy, no boundaries.
        assert!(sanne.sync().unwrap().settings_taken);
        assert!(sanne.store.neighbourhoods().unwrap().is_none());

        let added = set(s, &t.team.id, add(CategoryKind::ObservationTheme, "Drugsafval", false));
        assert_eq!(added.code.as_deref(), Some("obs.drugsafval"));
        let oh =
            OfficeHours { start: "09:00".into(), end: "16:30".into(), days: vec![1, 2, 3, 4], ..Default::default() };
        set(s, &t.team.id, Change::OfficeHours(oh.clone()));
        let (b, w) = utrecht();
        let changed =
            set(s, &t.team.id, Change::Boundaries(Arc::new(settings::Boundaries::parse(&b, Some(&w)).unwrap())));
        assert_eq!(changed.version, added.version + 2, "three changes, three versions");

        let out = sanne.sync().unwrap();
        assert!(out.settings_taken);
        assert!(!sanne.sync().unwrap().settings_taken, "taken once");
        let taxonomy = sanne.store.taxonomy();
        assert_eq!(taxonomy.get("obs.drugsafval").unwrap().nl, "Drugsafval");
        assert_eq!(sanne.store.settings().office_hours, oh);
        let places = sanne.store.neighbourhoods().unwrap().expect("the team's boundaries");
        assert_eq!(places.len(), 111);
        let buurt = places.locate(OVERVECHT.0, OVERVECHT.1).unwrap().clone();
        assert_eq!(buurt.wijk_name.as_deref(), Some("OVERVECHT"), "{buurt:?}");

        // A record with the team's new theme, tagged with a buurt of the team's boundaries,
        // is accepted by the server and reaches the team.
        let walk = sanne.store.start_walk(new_walk(0)).unwrap();
        let body = RecordBody::Observation(Observation {
            themes: vec!["obs.drugsafval".into()],
            tone: Tone::Concern,
            note: "Lachgasballonnen bij de speeltuin".into(),
        });
        let r = note(&sanne, walk.id, body.clone(), 5).unwrap();
        assert_eq!(r.buurt.as_deref(), Some(buurt.buurt_code.as_str()));
        sanne.store.end_walk(&walk.id, at(30)).unwrap();
        let out = sanne.sync().unwrap();
        assert_eq!((out.acknowledged, out.refused), (2, 0));
        // The walk's office hours were the team's: 19:00–19:30 local, all outside.
        let summary = sanne.store.walk(&walk.id).unwrap().summary.unwrap();
        assert_eq!(summary.outside_office_hours_ms, summary.walking_ms);
        joost.sync().unwrap();
        assert_eq!(joost.store.record(&r.id).unwrap().body, body);
        assert!(joost.store.taxonomy().get("obs.drugsafval").is_some());

        // Another team's phone does not know the code: its store refuses it…
        stranger.sync().unwrap();
        let walk = stranger.store.start_walk(new_walk(0)).unwrap();
        assert!(matches!(note(&stranger, walk.id, body.clone(), 5), Err(Error::Invalid { field: "themes", .. })));
        // …and a phone that took another team's categories (modified, or buggy) is refused by
        // the server: its team's taxonomy decides.
        let config = Teams::default().config_of(s, &t.team.id).unwrap().unwrap();
        let (foreign, places) =
            TeamSettings::from_json(config.document(wijkverkenner_core::sync::wire::PROTOCOL_VERSION).as_bytes())
                .unwrap();
        stranger.store.apply_team_settings(&foreign, places).unwrap();
        let forged = note(&stranger, walk.id, body.clone(), 6).unwrap();
        let out = stranger.sync().unwrap();
        assert_eq!(out.refused, 1);
        // The same sync put the phone's own team's settings back (keeping the codes its records
        // use, retired).
        assert!(out.settings_taken);
        assert!(stranger.store.taxonomy().get("obs.drugsafval").unwrap().retired);
        assert!(stranger.store.sync_status().unwrap().refused[0].contains("rule"));
        let stored: Vec<_> = s.entities_after(&other.team.id, 0).unwrap().into_iter().map(|c| c.id).collect();
        assert!(!stored.contains(&forged.id.to_string()), "the record with a foreign code is not stored");
    }
}

#[test]
fn a_retired_category_stays_on_old_records_but_is_not_offered_for_new_ones() {
    for (storage, _dir) in backends() {
        let s = storage.as_ref();
        let server = TestServer::start(storage.clone());
        let t = team(s, "Overvecht", 1);
        let sanne = Phone::enrol(&server, s, &t.workers[0]);
        let lead = Phone::enrol(&server, s, &t.lead);
        let walk = sanne.store.start_walk(new_walk(0)).unwrap();
        // `obs.vacancy` and `ref.riec` are about to be retired.
        let old = note(&sanne, walk.id, observation("Leeg pand"), 5).unwrap();
        let sig = note(&sanne, walk.id, signal("Veel aanloop", "sig.stash_house"), 6).unwrap();
        sanne.sync().unwrap();
        lead.sync().unwrap();
        lead.store
            .review_record(
                &sig.id,
                Review {
                    status: Some(SignalStatus::Referred),
                    referral: Some("ref.riec".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        lead.sync().unwrap();
        for code in ["obs.vacancy", "ref.riec"] {
            set(s, &t.team.id, edit(s, &t.team.id, code, |c| c.retired = true));
        }
        sanne.sync().unwrap();
        lead.sync().unwrap();

        // Not offered for a new record…
        let e = note(&sanne, walk.id, observation("Nog een leeg pand"), 7).unwrap_err();
        assert!(e.to_string().contains("retired"), "{e}");
        // …nor for a new referral…
        let sig2 = note(&sanne, walk.id, signal("Drugsafval", "sig.other"), 8).unwrap();
        sanne.sync().unwrap();
        lead.sync().unwrap();
        let referral = |code: &str| Review {
            status: Some(SignalStatus::Referred),
            referral: Some(code.into()),
            ..Default::default()
        };
        assert!(lead.store.review_record(&sig2.id, referral("ref.riec")).is_err());
        lead.store.review_record(&sig2.id, referral("ref.police")).unwrap();
        // …but the old record keeps it through an edit, and syncs.
        let mut body = old.body.clone();
        if let RecordBody::Observation(o) = &mut body {
            o.note = "Leeg pand, rolluik kapot".into();
        }
        sanne.store.edit_record(&old.id, body.clone(), None).unwrap();
        let out = sanne.sync().unwrap();
        assert_eq!(out.refused, 0, "{:?}", sanne.store.sync_status().unwrap().refused);
        // The lead still decides on the signal referred to the retired target.
        lead.store
            .review_record(&sig.id, Review { question: Some("Wanneer?".into()), ..referral("ref.riec") })
            .unwrap();
        let out = lead.sync().unwrap();
        assert_eq!(out.refused, 0, "{:?}", lead.store.sync_status().unwrap().refused);
        sanne.sync().unwrap();
        assert_eq!(sanne.store.record(&sig.id).unwrap().review.question.as_deref(), Some("Wanneer?"));
        assert_eq!(lead.store.record(&old.id).unwrap().body, body);
        // The label is still there for the report.
        assert_eq!(lead.store.taxonomy().get("obs.vacancy").unwrap().nl, "Leegstaand of altijd 'open' pand");
    }
}

#[test]
fn a_category_marked_sensitive_takes_its_signals_from_the_phones_that_may_no_longer_see_them() {
    for (storage, _dir) in backends() {
        let s = storage.as_ref();
        let server = TestServer::start(storage.clone());
        let t = team(s, "Overvecht", 2);
        let sanne = Phone::enrol(&server, s, &t.workers[0]);
        let joost = Phone::enrol(&server, s, &t.workers[1]);
        let lead = Phone::enrol(&server, s, &t.lead);
        let walk = sanne.store.start_walk(new_walk(0)).unwrap();
        let sig = note(&sanne, walk.id, signal("Busje dat elke nacht lost", "sig.other"), 5).unwrap();
        let deleted = note(&sanne, walk.id, signal("Vergissing", "sig.other"), 6).unwrap();
        sanne.store.delete_record(&deleted.id).unwrap();
        sanne.sync().unwrap();
        joost.sync().unwrap();
        assert!(joost.store.record(&sig.id).is_ok(), "an open signal reaches the team");

        let changed = set(s, &t.team.id, edit(s, &t.team.id, "sig.other", |c| c.sensitive = true));
        assert_eq!(changed.restricted, 1, "the live signal; the tombstone has nothing to hide");
        let out = joost.sync().unwrap();
        assert_eq!(out.withdrawn, 1);
        assert!(matches!(joost.store.record(&sig.id), Err(Error::NotFound(_))));
        sanne.sync().unwrap();
        assert!(sanne.store.record(&sig.id).is_ok(), "the author keeps her signal");
        lead.sync().unwrap();
        assert!(lead.store.record(&sig.id).is_ok(), "leads see every signal");
        // New signals in it are need-to-know from the start.
        let new = note(&sanne, walk.id, signal("Weer het busje", "sig.other"), 9).unwrap();
        sanne.sync().unwrap();
        joost.sync().unwrap();
        assert!(matches!(joost.store.record(&new.id), Err(Error::NotFound(_))));

        // Unmarking it shares new signals again; those recorded while it was sensitive stay
        // with their author and the leads (what was need-to-know is not shared after the fact).
        let changed = set(s, &t.team.id, edit(s, &t.team.id, "sig.other", |c| c.sensitive = false));
        assert_eq!(changed.restricted, 0);
        sanne.sync().unwrap();
        let open = note(&sanne, walk.id, signal("Fietsen in de gang", "sig.other"), 12).unwrap();
        sanne.sync().unwrap();
        joost.sync().unwrap();
        assert!(joost.store.record(&open.id).is_ok());
        assert!(matches!(joost.store.record(&sig.id), Err(Error::NotFound(_))));
        assert!(matches!(joost.store.record(&new.id), Err(Error::NotFound(_))));
    }
}

#[test]
fn codes_are_never_removed_nor_reused_and_refused_changes_change_nothing() {
    for (storage, _dir) in backends() {
        let s = storage.as_ref();
        let t = team(s, "Overvecht", 0);
        let before = Teams::default().config_of(s, &t.team.id).unwrap().unwrap();
        // The roster counts too (adding the team's lead was one version).
        assert_eq!(before.version, 1);
        let taken = Change::AddCategory {
            kind: CategoryKind::SignalCategory,
            code: Some("sig.weapons".into()),
            nl: "Wapens".into(),
            en: "Weapons".into(),
            sensitive: true,
            professional: false,
        };
        assert!(refused(s, &t.team.id, taken).contains("never reused"));
        let mut shorter = Taxonomy::default_taxonomy().categories;
        shorter.retain(|c| c.code != "obs.litter");
        let shorter = Taxonomy::new("x".into(), shorter).unwrap();
        assert!(refused(s, &t.team.id, Change::Taxonomy(shorter)).contains("obs.litter"));
        let late = OfficeHours { start: "17:00".into(), end: "09:00".into(), ..Default::default() };
        assert!(refused(s, &t.team.id, Change::OfficeHours(late)).contains("before"));
        let twice = OfficeHours { days: vec![1, 1], ..Default::default() };
        assert!(refused(s, &t.team.id, Change::OfficeHours(twice)).contains("twice"));
        assert!(refused(s, &t.team.id, edit(s, &t.team.id, "obs.litter", |c| c.sensitive = true)).contains("signal"));
        assert!(refused(s, &t.team.id, edit(s, &t.team.id, "sig.other", |c| c.nl = "\u{7}".into())).contains("label"));
        // Retiring every counterpart role would leave a conversation nothing to choose.
        for code in ["role.resident", "role.entrepreneur", "role.youth", "role.professional", "role.key_figure"] {
            set(s, &t.team.id, edit(s, &t.team.id, code, |c| c.retired = true));
        }
        let last = refused(s, &t.team.id, edit(s, &t.team.id, "role.visitor", |c| c.retired = true));
        assert!(last.contains("no active category"), "{last}");
        let after = Teams::default().config_of(s, &t.team.id).unwrap().unwrap();
        assert_eq!(after.version, before.version + 5, "only the five accepted changes counted");
        assert_ne!(after.tag, before.tag);
        // A retired code can be offered again; it is the same code (records keep their meaning).
        set(s, &t.team.id, edit(s, &t.team.id, "role.youth", |c| c.retired = false));
        let again = Teams::default().config_of(s, &t.team.id).unwrap().unwrap();
        assert!(!again.taxonomy.get("role.youth").unwrap().retired);
        assert_eq!(again.taxonomy.categories.len(), Taxonomy::default_taxonomy().categories.len());
        // Bad boundaries are refused with the rule, before anything is stored.
        let e = settings::Boundaries::parse("{\"type\":\"FeatureCollection\",\"features\":[]}", None).unwrap_err();
        assert!(e.contains("no features"), "{e}");
        let e = settings::Boundaries::parse("niet eens json", None).unwrap_err();
        assert!(e.contains("not GeoJSON"), "{e}");
    }
}

#[test]
fn a_server_instance_sees_another_instances_change_at_once() {
    // Two server processes on one database (a region behind a load balancer): the team's
    // settings version travels with every caller, so no instance serves stale settings.
    let storage = postgres_storage();
    let a = TestServer::start(storage.clone());
    let b = TestServer::start(storage.clone());
    let t = team(storage.as_ref(), "Overvecht", 2);
    let on_a = Phone::enrol(&a, storage.as_ref(), &t.workers[0]);
    let on_b = Phone::enrol(&b, storage.as_ref(), &t.workers[1]);
    on_a.sync().unwrap();
    on_b.sync().unwrap();
    let added = set(storage.as_ref(), &t.team.id, add(CategoryKind::SignalCategory, "Illegale gokhal", true));
    let code = added.code.unwrap();
    for phone in [&on_a, &on_b] {
        assert!(phone.sync().unwrap().settings_taken);
        assert!(phone.store.taxonomy().get(&code).unwrap().sensitive);
    }
    let walk = on_b.store.start_walk(new_walk(0)).unwrap();
    note(&on_b, walk.id, signal("Achterkamer met speelautomaten", &code), 3).unwrap();
    let out = on_b.sync().unwrap();
    assert_eq!(out.refused, 0);
}

#[test]
fn a_push_judged_with_categories_read_before_they_changed_is_judged_by_the_new_ones() {
    // A phone syncs while an administrator marks a category sensitive: its push read the
    // team's categories before the change committed and is applied after it (found in an
    // adversarial review: 80 of 5,400 signals stayed shared for good).
    for (storage, _dir) in backends() {
        let s = storage.as_ref();
        let server = TestServer::start(storage.clone());
        let t = team(s, "Overvecht", 2);
        let sanne = Phone::enrol(&server, s, &t.workers[0]);
        let joost = Phone::enrol(&server, s, &t.workers[1]);
        let walk = sanne.store.start_walk(new_walk(0)).unwrap();
        let sig = note(&sanne, walk.id, signal("Busje dat elke nacht lost", "sig.other"), 5).unwrap();
        let push = sanne.store.pending_changes(100).unwrap();
        let stale = Teams::default().config_of(s, &t.team.id).unwrap().unwrap();
        set(s, &t.team.id, edit(s, &t.team.id, "sig.other", |c| c.sensitive = true));
        let device = sanne.store.identity().unwrap().device.to_string();
        let caller = s.caller(&device).unwrap().unwrap();
        let out = wijkverkenner_server::sync::apply_push(s, &caller, &push, stale.as_ref().into()).unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let stored = s.entities_after(&t.team.id, 0).unwrap();
        let doc = stored.iter().find(|c| c.id == sig.id.to_string()).unwrap();
        let e: wijkverkenner_core::sync::Entity = serde_json::from_str(&doc.doc).unwrap();
        assert!(e.sensitive, "judged by the categories in force when it was stored");
        joost.sync().unwrap();
        assert!(matches!(joost.store.record(&sig.id), Err(Error::NotFound(_))));
    }
}

#[test]
fn phones_know_their_colleagues_and_a_walk_can_name_them() {
    for (storage, _dir) in backends() {
        let s = storage.as_ref();
        let server = TestServer::start(storage.clone());
        let t = team(s, "Overvecht", 2);
        let sanne = Phone::enrol(&server, s, &t.workers[0]);
        sanne.sync().unwrap();
        let names = |p: &Phone| {
            let mut n: Vec<String> = p.store.colleagues().unwrap().into_iter().map(|c| c.name).collect();
            n.sort();
            n
        };
        assert_eq!(names(&sanne), ["Teamleider", "Veldwerker 0", "Veldwerker 1"]);
        // A new member, and one who left: the phone follows at its next sync; administrators
        // never appear (they do not walk).
        let fatima = wijkverkenner_server::admin::add_member(
            s,
            &t.team.id,
            "Fatima",
            wijkverkenner_server::storage::Role::FieldWorker,
            "Mitros",
        )
        .unwrap();
        wijkverkenner_server::admin::add_member(
            s,
            &t.team.id,
            "Beheer",
            wijkverkenner_server::storage::Role::Admin,
            "ICT",
        )
        .unwrap();
        s.disable_member(&t.workers[1].id, wijkverkenner_server::admin::now_ms()).unwrap();
        assert!(sanne.sync().unwrap().settings_taken);
        assert_eq!(names(&sanne), ["Fatima", "Teamleider", "Veldwerker 0"]);
        let colleague = sanne.store.colleagues().unwrap().into_iter().find(|c| c.id == fatima.id).unwrap();
        assert_eq!(colleague.organisation, "Mitros");
        // A walk with her along is the team's.
        let walk = sanne
            .store
            .start_walk(NewWalk {
                participants: vec![Participant::Member {
                    member_id: colleague.id.parse().unwrap(),
                    display_name: colleague.name.clone(),
                    organisation: colleague.organisation.clone(),
                }],
                ..new_walk(0)
            })
            .unwrap();
        assert_eq!(sanne.sync().unwrap().refused, 0);
        let lead = Phone::enrol(&server, s, &t.lead);
        lead.sync().unwrap();
        assert_eq!(lead.store.walk(&walk.id).unwrap().details.participants.len(), 1);
    }
}
