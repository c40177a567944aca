//! A phone from the command line: the real core with its own encrypted store, enrolled with a
//! team server, syncing over HTTP. The browser tests use it to answer a lead's question the way
//! a field worker's phone would.
//!
//! ```text
//! phone DIR enrol URL CODE          enrol with a one-time code
//! phone DIR sync URL                one sync round trip
//! phone DIR question ID             print the lead's question on a record or walk (after a sync)
//! phone DIR answer URL ID TEXT      answer it (a record's or a walk's), then sync
//! phone DIR category CODE           print a category of the team's taxonomy as the phone holds it
//! phone DIR office-hours            print the office hours the phone holds
//! ```

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::{Encryption, RecordId, Store, StoreKey, WalkId};

fn open(dir: &Path) -> Result<Store, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let key_file = dir.join("key");
    let mut key = [0u8; 32];
    if key_file.exists() {
        std::fs::File::open(&key_file)?.read_exact(&mut key)?;
    } else {
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        std::fs::File::create(&key_file)?.write_all(&key)?;
    }
    Ok(Store::open(dir.join("phone.db"), Encryption::Key(StoreKey::new(key)))?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).ok_or("usage: phone DIR enrol|sync|question|answer …");
    let store = open(Path::new(arg(0)?))?;
    let sync = |store: &Store, url: &str| -> Result<(), Box<dyn std::error::Error>> {
        let outcome = store.sync(&HttpTransport::new(url), &AtomicBool::new(false))?;
        println!("synced: acknowledged {}, pulled {}", outcome.acknowledged, outcome.pulled);
        Ok(())
    };
    match arg(1)? {
        "enrol" => {
            let identity = store.enrol(&HttpTransport::new(arg(2)?), arg(3)?, "Testtelefoon")?;
            println!("enrolled as {}", identity.member.display_name);
        }
        "sync" => sync(&store, arg(2)?)?,
        "question" => {
            let question = match store.record(&arg(2)?.parse::<RecordId>()?) {
                Ok(r) => r.review.question,
                Err(_) => store.walk(&arg(2)?.parse::<WalkId>()?)?.review.question,
            };
            println!("{}", question.unwrap_or_default());
        }
        "answer" => {
            let id = arg(3)?;
            if store.record(&id.parse::<RecordId>()?).is_ok() {
                store.answer_review(&id.parse::<RecordId>()?, arg(4)?)?;
            } else {
                store.answer_walk_question(&id.parse::<WalkId>()?, arg(4)?)?;
            }
            sync(&store, arg(2)?)?;
        }
        "category" => match store.taxonomy().get(arg(2)?) {
            Some(c) => println!("{}\t{}\tsensitive={}\tretired={}", c.code, c.nl, c.sensitive, c.retired),
            None => println!("unknown"),
        },
        "office-hours" => {
            let oh = store.settings().office_hours;
            println!("{:?} {}-{}", oh.days, oh.start, oh.end);
        }
        other => return Err(format!("unknown command {other}").into()),
    }
    Ok(())
}
