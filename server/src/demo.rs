//! The demo team, for a newcomer's first minute (`serve --demo`, what `scripts/run.sh` asks
//! for): three simulated phones — the real core, each with its own encrypted store — enrol
//! over HTTP, record an evening in Overvecht (Utrecht's real buurt boundaries) and sync; a
//! lead triages in the "browser" (the same code the pages call), asks a question, a phone
//! answers and syncs again. Then it prints where to look and how to sign in.
//!
//! Never part of a production `serve`: only with `--demo`, and only into a team of its own.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use chrono::TimeZone;
use wijkverkenner_core::record::{Conversation, Mood, Observation, Signal, Tone, Trust};
use wijkverkenner_core::sync::http::HttpTransport;
use wijkverkenner_core::*;

use crate::admin::{self, now_ms, sha256_hex};
use crate::error::{Error, Result};
use crate::review::{decide, Decision};
use crate::storage::{Role, Storage, WebAccount, WebSetup};
use crate::web::auth;

/// How to sign in as the demo lead.
#[derive(Clone, Debug)]
pub struct DemoSignIn {
    pub login: String,
    pub password: String,
    pub totp_secret: String,
    pub team_id: String,
}

struct DemoPhone {
    store: Store,
    transport: HttpTransport,
}

impl DemoPhone {
    /// Enrols and syncs once: the phone takes the team's settings (its boundaries among them).
    fn enrol(dir: &Path, name: &str, code: &str, url: &str) -> Result<DemoPhone> {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        std::fs::create_dir_all(dir).map_err(|e| Error::Other(format!("demo phone directory: {e}")))?;
        let store = Store::open(dir.join(format!("{name}.db")), Encryption::Key(StoreKey::new(key)))?;
        let transport = HttpTransport::new(url);
        store.enrol(&transport, code, &format!("Demotelefoon {name}"))?;
        let phone = DemoPhone { store, transport };
        phone.sync()?;
        if phone.store.neighbourhoods()?.is_none() {
            return Err(Error::Other("the demo phone did not receive the team's boundaries".into()));
        }
        Ok(phone)
    }

    fn sync(&self) -> Result<()> {
        self.store.sync(&self.transport, &AtomicBool::new(false))?;
        Ok(())
    }
}

/// A walk along `route` (lat, lon) from `start` for `minutes`, a fix every 10 seconds.
fn walk_fixes(start: Moment, minutes: i64, route: &[(f64, f64)]) -> Vec<Fix> {
    let n = minutes * 6;
    (0..=n)
        .map(|i| {
            let t = i as f64 / n as f64 * (route.len() - 1) as f64;
            let k = (t.floor() as usize).min(route.len() - 2);
            let f = t - k as f64;
            let (a, b) = (route[k], route[k + 1]);
            Fix {
                at_ms: start.utc_ms + i * 10_000,
                lat: a.0 + (b.0 - a.0) * f,
                lon: a.1 + (b.1 - a.1) * f,
                accuracy_m: 6.0 + (i % 5) as f64,
                source: LocationSource::Gps,
            }
        })
        .collect()
}

fn here(fixes: &[Fix], start: Moment, minute: i64) -> Option<Location> {
    let f = fixes.iter().find(|f| f.at_ms >= start.utc_ms + minute * 60_000)?;
    Some(Location { lat: f.lat, lon: f.lon, accuracy_m: 7.0, fix_ms: f.at_ms, source: LocationSource::Gps })
}

/// `days` ago, or the weekday before it if that falls in a weekend (a walk in office hours).
fn weekday_ago(days: i64) -> i64 {
    use chrono::Datelike;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Amsterdam).date_naive();
    (days..days + 3)
        .find(|d| (today - chrono::Days::new(*d as u64)).weekday().num_days_from_monday() < 5)
        .unwrap_or(days)
}

/// `days` ago at `hour`:`minute` in Dutch time.
fn dutch(days: i64, hour: u32, minute: u32) -> Moment {
    let day =
        chrono::Utc::now().with_timezone(&chrono_tz::Europe::Amsterdam).date_naive() - chrono::Days::new(days as u64);
    let local = chrono_tz::Europe::Amsterdam
        .from_local_datetime(&day.and_hms_opt(hour, minute, 0).expect("a valid time"))
        .earliest()
        .expect("a Dutch time");
    let offset = chrono::Offset::fix(local.offset()).local_minus_utc();
    Moment { utc_ms: local.timestamp_millis(), offset_s: offset }
}

/// Records one walk on `phone`: fixes along `route`, then `records` at their minutes.
fn record_walk(
    phone: &DemoPhone,
    new: NewWalk,
    minutes: i64,
    route: &[(f64, f64)],
    records: Vec<(i64, RecordBody)>,
    submit: bool,
) -> Result<WalkId> {
    let start = new.started;
    let walk = phone.store.start_walk(new)?;
    let fixes = walk_fixes(start, minutes, route);
    for chunk in fixes.chunks(30) {
        phone.store.add_fixes(&walk.id, chunk)?;
    }
    for (minute, body) in records {
        phone.store.add_record(NewRecord {
            walk_id: walk.id,
            body,
            created: start.plus_ms(minute * 60_000),
            location: here(&fixes, start, minute),
        })?;
    }
    phone.store.end_walk(&walk.id, start.plus_ms(minutes * 60_000))?;
    if submit {
        phone.store.submit_walk(&walk.id)?;
    }
    Ok(walk.id)
}

/// The demo's photo: a shop front with its shutter half down, drawn (no one in it), encoded
/// as a phone's camera would before the core cleans it.
fn demo_shopfront() -> Result<Vec<u8>> {
    let (w, h) = (1024usize, 768usize);
    let mut px = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let brick = if (y / 24 + (x / 64) % 2) % 2 == 0 { [150, 72, 52] } else { [138, 64, 46] };
            let rgb: [u8; 3] = match (x, y) {
                (_, y) if y < 120 => [186, 204, 222],                          // sky
                (x, y) if y < 200 && (160..864).contains(&x) => [30, 60, 130], // the sign
                (x, y) if (200..700).contains(&y) && (160..864).contains(&x) => {
                    if y < 460 {
                        // The shutter, half down: grey slats.
                        let v = if (y - 200) % 16 < 2 { 120 } else { 178 };
                        [v, v, v + 6]
                    } else if (420..604).contains(&x) {
                        [28, 26, 30] // the dark doorway under it
                    } else {
                        [70, 88, 96] // the window
                    }
                }
                (_, y) if y >= 700 => [96, 96, 100], // the pavement
                _ => brick,
            };
            px.extend_from_slice(&rgb);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(&px, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| Error::Other(format!("the demo photo: {e}")))?;
    Ok(out)
}

fn obs(theme: &str, tone: Tone, note: &str) -> RecordBody {
    RecordBody::Observation(Observation { themes: vec![theme.into()], tone, note: note.into() })
}

/// Creates the demo team on the running server at `url` and fills it. `dir` holds the phones'
/// stores. Returns the lead's sign-in.
pub fn run(storage: &dyn Storage, url: &str, dir: &Path, buurten: &str, wijken: Option<&str>) -> Result<DemoSignIn> {
    let team =
        admin::create_team(storage, &format!("Demoteam Overvecht {}", chrono::Utc::now().format("%Y-%m-%d %H:%M")))?;
    let sanne = admin::add_member(storage, &team.id, "Sanne de Vries", Role::FieldWorker, "JoU Jongerenwerk")?;
    let joost = admin::add_member(storage, &team.id, "Joost Bakker", Role::FieldWorker, "Buurtteam Overvecht")?;
    let fatima =
        admin::add_member(storage, &team.id, "Fatima El Amrani", Role::FieldWorker, "Woningcorporatie Mitros")?;
    let lead = admin::add_member(storage, &team.id, "Marieke Jansen", Role::Lead, "Gemeente Utrecht")?;
    // The team's own settings, as an administrator sets them: Utrecht's boundaries, office
    // hours from nine, and a category of the team's own. The phones take them at their first sync.
    let boundaries = crate::settings::Boundaries::parse(buurten, wijken).map_err(Error::Other)?;
    let teams = crate::settings::Teams::default();
    for change in [
        crate::settings::Change::Boundaries(std::sync::Arc::new(boundaries)),
        crate::settings::Change::OfficeHours(OfficeHours { start: "09:00".into(), ..OfficeHours::default() }),
        crate::settings::Change::AddCategory {
            kind: CategoryKind::ObservationTheme,
            code: Some("obs.drug_litter".into()),
            nl: "Drugsafval (ballonnen, patronen, zakjes)".into(),
            en: "Drug litter (balloons, cartridges, baggies)".into(),
            sensitive: false,
            professional: false,
        },
    ] {
        crate::settings::change(storage, &teams, &team.id, crate::settings::By::CommandLine, &change)?
            .map_err(|r| Error::Other(r.0))?;
    }
    let phones = dir.join(&team.id);
    let phone_s = DemoPhone::enrol(&phones, "sanne", &admin::issue_code(storage, &sanne.id, 1)?, url)?;
    let phone_j = DemoPhone::enrol(&phones, "joost", &admin::issue_code(storage, &joost.id, 1)?, url)?;
    let phone_f = DemoPhone::enrol(&phones, "fatima", &admin::issue_code(storage, &fatima.id, 1)?, url)?;

    // Yesterday evening, 19:30: Sanne and Joost with the wijkagent, Zamenhofdreef to
    // Taagdreef and Neckardreef.
    let start = dutch(1, 19, 30);
    let sanne_walk = record_walk(
        &phone_s,
        NewWalk {
            participants: vec![
                Participant::Member {
                    member_id: joost.id.parse()?,
                    display_name: joost.display_name.clone(),
                    organisation: joost.organisation.clone(),
                },
                Participant::Guest { role: "wijkagent".into(), lay_person: false },
            ],
            purpose: "Avondronde Zamenhofdreef en Taagdreef: winkelstrip, speelplekken en portieken".into(),
            focus: vec!["obs.risky_business".into(), "obs.youth_groups".into()],
            started: start,
        },
        95,
        &[(52.1105, 5.1075), (52.1118, 5.1120), (52.1108, 5.1178), (52.1142, 5.1205), (52.1170, 5.1222)],
        vec![
            (
                8,
                obs(
                    "obs.risky_business",
                    Tone::Concern,
                    "Belwinkel met rolluik half open; veel in- en uitloop via de achterkant, geen klanten voorin.",
                ),
            ),
            (15, obs("obs.youth_groups", Tone::Neutral, "Groep van zes jongeren bij het speelveld, rustig.")),
            (
                22,
                RecordBody::Conversation(Conversation {
                    roles: vec!["role.youth".into()],
                    people: 3,
                    duration_min: 18,
                    gist: "Jongeren vertellen dat ze geld krijgen aangeboden om 'pakketjes weg te brengen'.".into(),
                    mood: Mood::Open,
                    trust: Trust::Medium,
                    agreements: "Donderdag langskomen bij het jongerenwerk.".into(),
                    immediate_help: false,
                }),
            ),
            (
                30,
                RecordBody::Signal(Signal {
                    category: "sig.youth_recruitment".into(),
                    severity: Severity::High,
                    description:
                        "Oudere man in auto spreekt jongeren aan bij het speelveld; jongeren stappen kort in en uit."
                            .into(),
                    at_known_place: true,
                    follow_up: "Bespreken met wijkagent en teamleider.".into(),
                    suggested_referral: Some("ref.police".into()),
                }),
            ),
            (
                44,
                RecordBody::Conversation(Conversation {
                    roles: vec!["role.entrepreneur".into()],
                    people: 1,
                    duration_min: 25,
                    gist: "Eigenaar bakkerij: 's nachts busjes bij het pand ernaast, ramen afgeplakt.".into(),
                    mood: Mood::Warm,
                    trust: Trust::High,
                    agreements: "Telefoonnummer buurtteam achtergelaten.".into(),
                    immediate_help: false,
                }),
            ),
            (
                52,
                RecordBody::Signal(Signal {
                    category: "sig.drug_production".into(),
                    severity: Severity::Medium,
                    description: "Bovenwoning met afgeplakte ramen, sterke geur, condens op de ruiten.".into(),
                    at_known_place: false,
                    follow_up: "Navragen bij de woningcorporatie wie er woont.".into(),
                    suggested_referral: Some("ref.housing_corporation".into()),
                }),
            ),
            (60, obs("obs.lighting", Tone::Concern, "Drie lantaarnpalen kapot in het onderdoorgangetje.")),
            (
                70,
                RecordBody::Conversation(Conversation {
                    roles: vec!["role.resident".into()],
                    people: 1,
                    duration_min: 12,
                    gist: "Oudere bewoonster durft 's avonds niet meer naar buiten; post stapelt zich op.".into(),
                    mood: Mood::Tense,
                    trust: Trust::Medium,
                    agreements: "Buurtteam belt morgen; boodschappen voor morgen geregeld.".into(),
                    immediate_help: true,
                }),
            ),
            (
                78,
                RecordBody::Signal(Signal {
                    category: "sig.victim_isolation".into(),
                    severity: Severity::Medium,
                    description: "Bewoonster geïsoleerd, mogelijk schulden (aanmaningen in de gang).".into(),
                    at_known_place: false,
                    follow_up: "Buurtteam: huisbezoek deze week.".into(),
                    suggested_referral: Some("ref.care".into()),
                }),
            ),
            (88, obs("obs.pleasant_place", Tone::Positive, "Buurtcentrum druk: huiswerkbegeleiding en koken.")),
        ],
        true,
    )?;

    // Joost, the same evening after the round, alone along the Neckardreef.
    record_walk(
        &phone_j,
        NewWalk {
            participants: vec![],
            purpose: "Nalopen portieken Neckardreef".into(),
            focus: vec![],
            started: dutch(1, 21, 15),
        },
        35,
        &[(52.1165, 5.1190), (52.1180, 5.1225), (52.1190, 5.1260)],
        vec![
            (10, obs("obs.drug_litter", Tone::Concern, "Grofvuil en lachgascilinders in portiek 14.")),
            (
                20,
                RecordBody::Conversation(Conversation {
                    roles: vec!["role.key_figure".into(), "role.professional".into()],
                    people: 2,
                    duration_min: 15,
                    gist: "Huismeester en buurtvader: overlast neemt af sinds het nieuwe hek.".into(),
                    mood: Mood::Open,
                    trust: Trust::High,
                    agreements: "Volgende maand samen rondlopen.".into(),
                    immediate_help: false,
                }),
            ),
        ],
        true,
    )?;

    // Fatima, on a weekday about five days ago in the afternoon (office hours), Vechtzoom.
    record_walk(
        &phone_f,
        NewWalk {
            participants: vec![],
            purpose: "Woningschouw Vechtzoom-zuid".into(),
            focus: vec!["obs.vacancy".into()],
            started: dutch(weekday_ago(5), 14, 0),
        },
        50,
        &[(52.1160, 5.0950), (52.1175, 5.0985), (52.1190, 5.0995)],
        vec![
            (12, obs("obs.vacancy", Tone::Concern, "Woning lijkt leeg maar brievenbus wordt geleegd.")),
            (
                25,
                RecordBody::Signal(Signal {
                    category: "sig.housing_fraud".into(),
                    severity: Severity::Low,
                    description: "Mogelijk onderverhuur: wisselende namen op de brievenbus.".into(),
                    at_known_place: false,
                    follow_up: "Dossier opvragen.".into(),
                    suggested_referral: None,
                }),
            ),
        ],
        false,
    )?;

    // Sanne's photo of the phone shop (the place, no people: as the app asks).
    let first = phone_s.store.walk_timeline(&sanne_walk, &PageRequest::first(1))?.items;
    if let Some(shop) = first.first() {
        phone_s.store.attach_photo(&shop.id, &demo_shopfront()?)?;
    }

    // Sanne looks back on her evening (the four logics of the practice guide).
    phone_s.store.debrief_walk(
        &sanne_walk,
        Debrief {
            dominant: Some(Logic::Situational),
            note:
                "Weinig volgens plan: de jongeren bij het speelveld wilden praten, daar hebben we de tijd voor genomen."
                    .into(),
        },
    )?;
    for p in [&phone_s, &phone_j, &phone_f] {
        p.sync()?;
    }

    // The lead: her sign-in, made as a set-up link would make it (the demo prints it).
    let login = format!("teamleider-{}", &team.id[team.id.len() - 6..]);
    let password = format!("demo-{}", &auth::token()[..16]);
    let totp_secret = auth::new_totp_secret();
    let token = auth::token();
    let now = now_ms();
    storage.create_web_setup(&WebSetup {
        token_hash: sha256_hex(&token),
        member_id: lead.id.clone(),
        login: login.clone(),
        totp_secret: totp_secret.clone(),
        issued_ms: now,
        expires_ms: now + 60_000,
    })?;
    let account = WebAccount {
        member_id: lead.id.clone(),
        login: login.clone(),
        password_hash: auth::hash_password(&password).map_err(Error::Other)?,
        totp_secret: totp_secret.clone(),
        totp_last_step: 0,
        failures: 0,
        locked_until_ms: 0,
        created_ms: now,
    };
    if !storage.finish_web_setup(&sha256_hex(&token), &account, now)? {
        return Err(Error::Other("the demo sign-in could not be created".into()));
    }

    // Monday morning came early: the lead takes the acute-looking signal into review and asks
    // Sanne a question about her walk; Sanne's phone syncs, she answers, and syncs again.
    let config = teams.config_of(storage, &team.id)?.ok_or_else(|| Error::Other("the demo team is gone".into()))?;
    let rules: crate::sync::Rules = config.as_ref().into();
    let records = phone_s.store.walk_timeline(&sanne_walk, &PageRequest::first(50))?.items;
    if let Some(recruitment) =
        records.iter().find(|r| matches!(&r.body, RecordBody::Signal(s) if s.category == "sig.youth_recruitment"))
    {
        let status = Decision::Status { status: SignalStatus::InReview, referral: None };
        let _ = decide(
            storage,
            rules,
            &lead,
            &team,
            &recruitment.id.to_string(),
            &status,
            Some("Met de wijkagent bespreken in het overleg van dinsdag."),
        )?;
    }
    let ask = Decision::Ask("Was de auto van de man bij het speelveld al eerder gezien?".into());
    let _ = decide(storage, rules, &lead, &team, &sanne_walk.to_string(), &ask, None)?;
    phone_s.sync()?;
    phone_s
        .store
        .answer_walk_question(&sanne_walk, "Ja, vorige week ook; grijze Audi, kenteken genoteerd bij de wijkagent.")?;
    phone_s.sync()?;
    for p in [&phone_j, &phone_f] {
        p.sync()?;
    }
    Ok(DemoSignIn { login, password, totp_secret, team_id: team.id })
}
