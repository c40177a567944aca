//! What a copy of the server's data directory reveals: the canary scan. A hundred enrolment
//! codes, the phones' credentials, the review pages' passwords, second-factor secrets and
//! session tokens — everything a thief could use to act as a member — are in none of the
//! files (database, WAL, shared memory) while the server runs; codes and credentials are
//! stored keyed or hashed, passwords as argon2id, TOTP secrets sealed under the server's key.
//! The sealing is checked on PostgreSQL too, in the column itself.

use std::collections::BTreeSet;

use crate::common::*;
use crate::retention::{files, holds};
use crate::web::{signed_in, PASSWORD};
use wijkverkenner_core::NewRecord;
use wijkverkenner_server::admin;

#[test]
fn no_secret_a_member_could_be_impersonated_with_is_in_the_servers_files() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start_web(storage.clone());
    let t = team(storage.as_ref(), "Kanaleneiland", 10);
    let mut planted: BTreeSet<String> = BTreeSet::new();
    // A hundred enrolment codes, ten per member; one in ten used by a phone over HTTP.
    for (i, member) in t.workers.iter().enumerate() {
        for j in 0..10 {
            let code = admin::issue_code(storage.as_ref(), &member.id, 24).unwrap();
            planted.insert(code.clone());
            planted.insert(code.replace('-', ""));
            if j == 0 && i < 5 {
                let (device, credential, _, _) = admin::redeem(storage.as_ref(), &code, "Telefoon").unwrap();
                planted.insert(credential.clone());
                planted.insert(format!("{}.{credential}", device.id));
            }
        }
    }
    assert_eq!(planted.iter().filter(|c| c.len() == 14).count(), 100, "a hundred codes");
    // Phones that enrolled through the API and synced, each with a signal in a sensitive
    // category (sealed in the database) and an observation (not: the scan finds it).
    let mut sensitive = Vec::new();
    for (i, member) in t.workers[5..].iter().enumerate() {
        let phone = Phone::enrol(&server, storage.as_ref(), member);
        let walk = phone.store.start_walk(new_walk(0)).unwrap();
        let text = format!("PLANTED-SENSITIVE-{i}-zq81");
        for body in [signal(&text, "sig.human_trafficking"), observation(&format!("PLANTED-OPEN-{i}-zq81"))] {
            phone
                .store
                .add_record(NewRecord { walk_id: walk.id, body, created: at(5), location: Some(location(52.1, 5.1)) })
                .unwrap();
        }
        phone.sync().unwrap();
        sensitive.push(text);
    }
    let lead_phone = Phone::enrol(&server, storage.as_ref(), &t.lead);
    lead_phone.sync().unwrap();
    let seen = lead_phone.store.latest_records(&wijkverkenner_core::PageRequest::first(50)).unwrap().items;
    assert_eq!(seen.len(), 10, "the lead's phone gets the sealed signals opened");
    planted.extend(sensitive);
    // Leads and workers with a sign-in for the review pages: their TOTP secrets and sessions.
    let mut browsers = Vec::new();
    for (i, member) in std::iter::once(&t.lead).chain(&t.workers[..4]).enumerate() {
        let (b, secret) = signed_in(&server, storage.as_ref(), member, &format!("login{i}"));
        planted.insert(secret.clone());
        planted.insert(secret.to_lowercase());
        let cookie = b.cookie.clone().unwrap();
        planted.insert(cookie.split_once('=').unwrap().1.to_string());
        browsers.push(b);
    }
    planted.insert(PASSWORD.to_string());
    // A lead's comment in the review history (free text about a case): sealed too.
    let comment = "PLANTED-COMMENT-zq83 gesproken met de wijkagent".to_string();
    let entry = wijkverkenner_server::storage::HistoryEntry {
        entity_id: uuid::Uuid::now_v7().to_string(),
        at_ms: 1,
        member_id: t.lead.id.clone(),
        field: "review_status".into(),
        value: "in_review".into(),
        comment: Some(comment.clone()),
    };
    storage.transaction(&mut |tx| tx.add_history(&t.team.id, &entry)).unwrap();
    assert_eq!(storage.history(&t.team.id, &entry.entity_id).unwrap()[0].comment.as_ref(), Some(&comment));
    planted.insert(comment);

    let files = files(dir.path());
    assert!(files.iter().any(|(n, _)| n.ends_with("-wal")), "the WAL is scanned too");
    assert!(!holds(&files, "PLANTED-OPEN-0-zq81").is_empty(), "the scan finds what is not sealed");
    let found: Vec<(String, Vec<String>)> =
        planted.iter().map(|p| (p.clone(), holds(&files, p))).filter(|(_, f)| !f.is_empty()).collect();
    assert!(found.is_empty(), "secrets in the server's files: {found:?}");
}

/// On PostgreSQL: a second factor's secret is sealed in its column, and the sign-in works.
#[test]
fn totp_secrets_are_sealed_on_postgresql_too() {
    let url = postgres_database();
    let storage: std::sync::Arc<dyn wijkverkenner_server::Storage> =
        std::sync::Arc::new(wijkverkenner_server::storage::postgres::PostgresStorage::open(&url).unwrap());
    let server = TestServer::start_web(storage.clone());
    let t = team(storage.as_ref(), "Lombok", 0);
    let (_, secret) = signed_in(&server, storage.as_ref(), &t.lead, "lead");
    assert_eq!(storage.web_account(&t.lead.id).unwrap().unwrap().totp_secret, secret, "the secret opens again");
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let stored: String =
        db.query_one("SELECT totp_secret FROM web_accounts WHERE member_id = $1", &[&t.lead.id]).unwrap().get(0);
    assert!(stored.starts_with("sealed1:") && !stored.contains(&secret), "stored as {stored}");

    // A secret stored before sealing existed is sealed at the next start, and still works.
    db.execute("UPDATE web_accounts SET totp_secret = 'PLAINSECRET234567' WHERE member_id = $1", &[&t.lead.id])
        .unwrap();
    assert_eq!(storage.web_account(&t.lead.id).unwrap().unwrap().totp_secret, "PLAINSECRET234567");
    assert_eq!(storage.seal_at_rest().unwrap(), 1);
    assert_eq!(storage.seal_at_rest().unwrap(), 0, "sealed once");
    let stored: String =
        db.query_one("SELECT totp_secret FROM web_accounts WHERE member_id = $1", &[&t.lead.id]).unwrap().get(0);
    assert!(stored.starts_with("sealed1:"), "{stored}");
    assert_eq!(storage.web_account(&t.lead.id).unwrap().unwrap().totp_secret, "PLAINSECRET234567");
}

#[test]
fn a_secret_stored_before_sealing_is_sealed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(dir.path());
    let server = TestServer::start_web(storage.clone());
    let t = team(storage.as_ref(), "Lombok", 0);
    signed_in(&server, storage.as_ref(), &t.lead, "lead");
    let db = rusqlite::Connection::open(dir.path().join("wijkverkenner-server.db")).unwrap();
    db.execute("UPDATE web_accounts SET totp_secret = 'PLAINSECRET234567' WHERE member_id = ?1", [&t.lead.id]).unwrap();
    // A sensitive signal stored in clear by an older version.
    let phone = Phone::enrol(&server, storage.as_ref(), &t.lead);
    let walk = phone.store.start_walk(new_walk(0)).unwrap();
    let sig = phone
        .store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: signal("PLANTED-LEGACY-zq82", "sig.weapons"),
            created: at(5),
            location: None,
        })
        .unwrap()
        .id
        .to_string();
    phone.sync().unwrap();
    let opened = || {
        let mut row = None;
        storage
            .transaction(&mut |tx| {
                row = tx.get_row(&t.team.id, &sig)?;
                Ok(())
            })
            .unwrap();
        row.unwrap().doc
    };
    let plain = opened();
    assert!(plain.contains("PLANTED-LEGACY-zq82"));
    db.execute("UPDATE entities SET doc = ?2 WHERE id = ?1", [&sig, &plain]).unwrap();
    assert_eq!(storage.seal_at_rest().unwrap(), 2);
    let raw: String = db.query_row("SELECT doc FROM entities WHERE id = ?1", [&sig], |r| r.get(0)).unwrap();
    assert!(raw.starts_with("sealed1:") && !raw.contains("PLANTED"), "{raw}");
    assert_eq!(opened(), plain, "and it opens as it was");
    let stored: String =
        db.query_row("SELECT totp_secret FROM web_accounts WHERE member_id = ?1", [&t.lead.id], |r| r.get(0)).unwrap();
    assert!(stored.starts_with("sealed1:"), "{stored}");
    assert_eq!(storage.web_account(&t.lead.id).unwrap().unwrap().totp_secret, "PLAINSECRET234567");
}
