//! `wijkverkenner-server`: run the team server, and administer teams, members and devices.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use wijkverkenner_core::{CategoryKind, OfficeHours, Taxonomy};
use wijkverkenner_server::admin::printable;
use wijkverkenner_server::retention::Retention;
use wijkverkenner_server::storage::Role;
use wijkverkenner_server::{admin, open_storage, secret, settings, sync, AppState};

/// The same allocator as the phone library (docs/adr/0005): many request threads allocate
/// and free each other's buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "wijkverkenner-server", about = "Wijkverkenner team server")]
struct Cli {
    /// Data directory of the embedded SQLite storage (the default).
    #[arg(long, env = "WV_DATA", default_value = "wv-data")]
    data: PathBuf,
    /// PostgreSQL URL (e.g. postgres://wv@localhost/wv); replaces the embedded storage.
    #[arg(long, env = "WV_DATABASE_URL")]
    database_url: Option<String>,
    /// PEM file of the certificate authority that signed the PostgreSQL server's certificate
    /// (default: the system's roots). The connection is TLS, verified for the URL's host name,
    /// and required unless the database is on this machine.
    #[arg(long, env = "WV_DATABASE_CA")]
    database_ca: Option<PathBuf>,
    /// The server's secret key (enrolment codes are stored keyed with it), kept outside the
    /// database; default `server.secret` in the data directory, created on first start.
    /// Several servers on one PostgreSQL share one file.
    #[arg(long, env = "WV_SECRET_FILE")]
    secret_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The retention terms a `retention` command sets (each one it names; the rest stay).
#[derive(clap::Args)]
struct TermArgs {
    #[arg(long)]
    conversation_days: Option<u32>,
    #[arg(long)]
    observation_days: Option<u32>,
    #[arg(long)]
    closed_signal_days: Option<u32>,
    #[arg(long)]
    walk_days: Option<u32>,
    #[arg(long)]
    raw_fixes_after_review_days: Option<u32>,
    #[arg(long)]
    lock_after_days: Option<u32>,
}

impl TermArgs {
    fn given(&self) -> [Option<u32>; 6] {
        [
            self.conversation_days,
            self.observation_days,
            self.closed_signal_days,
            self.walk_days,
            self.raw_fixes_after_review_days,
            self.lock_after_days,
        ]
    }

    /// `before` with the terms given here in its place.
    fn over(&self, before: Retention) -> Retention {
        Retention {
            conversation_days: self.conversation_days.unwrap_or(before.conversation_days),
            observation_days: self.observation_days.unwrap_or(before.observation_days),
            closed_signal_days: self.closed_signal_days.unwrap_or(before.closed_signal_days),
            walk_days: self.walk_days.unwrap_or(before.walk_days),
            raw_fixes_after_review_days: self.raw_fixes_after_review_days.unwrap_or(before.raw_fixes_after_review_days),
            lock_after_days: self.lock_after_days.unwrap_or(before.lock_after_days),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, env = "WV_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Serve TLS with this certificate chain (PEM, leaf first); with `--tls-key`. Without
        /// them the server speaks plain HTTP and must sit behind a TLS proxy (docs/security.md).
        #[arg(long, env = "WV_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM), readable by the server's user only.
        #[arg(long, env = "WV_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Behind a reverse proxy that sets X-Forwarded-For: take the client's address from it
        /// (for the rate limits and the security log). Never set this without such a proxy.
        #[arg(long, env = "WV_TRUST_FORWARDED_FOR")]
        trust_forwarded_for: bool,
        /// Buurt boundaries (GeoJSON) the review pages draw; with `--wijken` for district names.
        #[arg(long, env = "WV_BUURTEN")]
        buurten: Option<PathBuf>,
        #[arg(long, env = "WV_WIJKEN")]
        wijken: Option<PathBuf>,
        /// A basemap tile URL for the review pages' maps, e.g. PDOK's BRT achtergrondkaart:
        /// https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/standaard/EPSG:3857/{z}/{x}/{y}.png
        #[arg(long, env = "WV_TILE_URL")]
        tile_url: Option<String>,
        /// Session cookies without `Secure`: only for a demo on http://127.0.0.1. Behind HTTPS
        /// (always, in production) leave this off.
        #[arg(long, env = "WV_INSECURE_COOKIES")]
        insecure_cookies: bool,
        /// The review pages' address as browsers reach it (https://wijk.example.nl), behind a
        /// proxy: forms must come from exactly this origin.
        #[arg(long, env = "WV_PUBLIC_URL")]
        public_url: Option<String>,
        /// Create a demo team in this storage once serving (three simulated phones record and
        /// sync an evening walk; a demo lead's sign-in is printed). Never in production.
        #[arg(long)]
        demo: bool,
        /// How long the audit trail is kept, in days (180..3650); older entries are deleted by
        /// the purge every six hours, the purge itself recorded in the trail.
        #[arg(long, env = "WV_AUDIT_DAYS", default_value_t = wijkverkenner_server::retention::AUDIT_DAYS)]
        audit_days: u32,
    },
    /// Create a team; prints its id.
    TeamCreate { name: String },
    /// Add a member to a team; prints the member id.
    MemberAdd {
        #[arg(long)]
        team: String,
        #[arg(long)]
        name: String,
        /// field_worker, lead, admin or partner
        #[arg(long, default_value = "field_worker")]
        role: String,
        #[arg(long, default_value = "")]
        organisation: String,
        /// For a partner: the referral target of their organisation (`ref.police`); they see
        /// the signals referred there, in the browser, and nothing else.
        #[arg(long)]
        referral: Option<String>,
    },
    /// List a team's members.
    Members {
        #[arg(long)]
        team: String,
    },
    /// Disable a member (someone who left the team): every phone revoked and wiped at its next
    /// sync, every unused code cancelled, no new codes.
    MemberDisable { member: String },
    /// Change a member's role (field_worker, lead, admin, partner with --referral). What a
    /// phone may hold depends on the role, so the member's phones are revoked (wiped at their
    /// next sync) and their sessions ended: issue a new code.
    MemberRole {
        member: String,
        role: String,
        #[arg(long)]
        referral: Option<String>,
    },
    /// Issue a one-time enrolment code for a member (default valid 24 hours).
    EnrolCode {
        #[arg(long)]
        member: String,
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// The server's address as phones reach it: also prints the line to put in a QR code.
        #[arg(long)]
        server_url: Option<String>,
    },
    /// A one-time link (valid 72 hours) where a member sets up the sign-in for the review pages:
    /// a password of their choosing and an authenticator app. Also for a lost authenticator.
    WebSetup {
        #[arg(long)]
        member: String,
        /// The user name to sign in with (a-z, 0-9, '.', '-', '_').
        #[arg(long)]
        login: String,
        /// The server's address as browsers reach it.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server_url: String,
    },
    /// List a team's enrolment codes (never the codes themselves: an id, whose, and state).
    Codes {
        #[arg(long)]
        team: String,
    },
    /// Cancel an unused enrolment code by the id `codes` lists.
    CodeCancel {
        #[arg(long)]
        team: String,
        code: String,
    },
    /// List a team's devices.
    Devices {
        #[arg(long)]
        team: String,
    },
    /// Revoke a device (a lost phone): its next sync is refused and it wipes its data; its
    /// member's unused codes are cancelled.
    Revoke { device: String },
    /// List a team's stored entities that break today's rules (clocks beyond belief, over the
    /// size budget, unreadable): stored before the server bounded them.
    Suspects {
        #[arg(long)]
        team: String,
    },
    /// Turn one stored walk or record into a tombstone: every phone deletes it.
    EntityDelete {
        #[arg(long)]
        team: String,
        id: String,
    },
    /// Take one stored walk or record out of sync: no longer served, deleted from every phone
    /// but its author's, pushes on it refused.
    EntityQuarantine {
        #[arg(long)]
        team: String,
        id: String,
    },
    /// Show a team's settings: office hours, boundaries, categories (code, kind, flags, labels).
    Settings {
        #[arg(long)]
        team: String,
    },
    /// Add a category; prints its code (made from the kind and the Dutch label unless given).
    /// Codes are never reused: a code used once stays, retired if need be.
    CategoryAdd {
        #[arg(long)]
        team: String,
        /// observation_theme, counterpart_role, signal_category or referral_target
        #[arg(long)]
        kind: String,
        #[arg(long)]
        nl: String,
        #[arg(long)]
        en: String,
        #[arg(long)]
        code: Option<String>,
        /// A signal category shared only with the author and the team's leads.
        #[arg(long)]
        sensitive: bool,
        /// A counterpart role of professionals (for the street tactics).
        #[arg(long)]
        professional: bool,
    },
    /// Change a category: labels, sensitive, professional, retired (what is not given stays).
    /// Marking a signal category sensitive withdraws its signals from phones that may no longer
    /// see them; a retired category stays on old records but is not offered for new ones.
    CategorySet {
        #[arg(long)]
        team: String,
        code: String,
        #[arg(long)]
        nl: Option<String>,
        #[arg(long)]
        en: Option<String>,
        #[arg(long)]
        sensitive: Option<bool>,
        #[arg(long)]
        professional: Option<bool>,
        #[arg(long)]
        retired: Option<bool>,
    },
    /// Print a team's taxonomy as JSON (to edit and import again).
    TaxonomyExport {
        #[arg(long)]
        team: String,
    },
    /// Replace a team's taxonomy from a JSON file: every code it has must stay (retired if need be).
    TaxonomyImport {
        #[arg(long)]
        team: String,
        file: PathBuf,
    },
    /// Set a team's office hours (walking time outside them is the street tactic "go out
    /// outside office hours").
    OfficeHours {
        #[arg(long)]
        team: String,
        /// Working days, 1 (Monday) to 7, comma-separated.
        #[arg(long, default_value = "1,2,3,4,5")]
        days: String,
        #[arg(long, default_value = "08:30")]
        start: String,
        #[arg(long, default_value = "17:00")]
        end: String,
        #[arg(long, default_value = "Europe/Amsterdam")]
        time_zone: String,
    },
    /// Set a team's buurt boundaries from GeoJSON (any municipality's, e.g. the CBS wijk- en
    /// buurtkaart in WGS84); phones take them at their next sync and tag new records with them.
    Boundaries {
        #[arg(long)]
        team: String,
        #[arg(long)]
        buurten: PathBuf,
        #[arg(long)]
        wijken: Option<PathBuf>,
    },
    /// Show or set a team's retention terms in days (conversations, observations, closed
    /// signals, walks); records older are purged every six hours by the server, or by `purge`,
    /// and by every phone of the team. On phones also: raw GPS fixes after a lead reviewed the
    /// walk, and the days without a sync after which a phone locks its data (0: never).
    Retention {
        #[arg(long)]
        team: String,
        #[command(flatten)]
        terms: TermArgs,
    },
    /// Show or set the grid, in metres, to which the team's places are coarsened for everyone
    /// but their author (conversations for all, signals for colleagues, colleagues' routes;
    /// 50..2000, default 100). Applies to what is shared from now on.
    LocationGrid {
        #[arg(long)]
        team: String,
        #[arg(long)]
        metres: Option<u32>,
    },
    /// Purge what a team's retention terms let expire, now; prints the deletion log entries.
    Purge {
        #[arg(long)]
        team: String,
    },
    /// A team's deletion log (tab-separated: time, entity, kind, reason), never content.
    Deletions {
        #[arg(long)]
        team: String,
    },
    /// Print the audit trail (tab-separated: time, actor, action, object, result, origin) of a
    /// team, or of the whole server without `--team`; `--days` back (default 30).
    Audit {
        #[arg(long)]
        team: Option<String>,
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

fn category_kind(s: &str) -> Result<CategoryKind, String> {
    CategoryKind::ALL
        .into_iter()
        .find(|k| serde_json::to_value(k).ok().and_then(|v| v.as_str().map(|v| v == s)).unwrap_or(false))
        .ok_or_else(|| "kind is observation_theme, counterpart_role, signal_category or referral_target".into())
}

/// Applies a settings change from the command line and says what it did.
fn change_settings(
    s: &dyn wijkverkenner_server::Storage,
    team: &str,
    change: settings::Change,
) -> Result<settings::Changed, String> {
    let teams = settings::Teams::default();
    match settings::change(s, &teams, team, settings::By::CommandLine, &change) {
        Ok(Ok(c)) => {
            if c.restricted > 0 {
                println!(
                    "{} signal(s) are now shared only with their authors and the team's leads; other phones delete them at their next sync",
                    c.restricted
                );
            }
            Ok(c)
        }
        Ok(Err(refused)) => Err(refused.0),
        Err(e) => Err(e.to_string()),
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .json()
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

fn role(s: &str) -> Result<Role, &'static str> {
    Role::parse(s).ok_or("role is field_worker, lead, admin or partner")
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    secret::private_data_dir(&cli.data)?;
    let storage = open_storage(&cli.data, cli.database_url.as_deref(), cli.database_ca.as_deref())?;
    // The key belongs to its database: made at the first start only, and a key file that is
    // not the one this database was set up with is refused (its codes could not work).
    let secret_file = cli.secret_file.clone().unwrap_or_else(|| cli.data.join("server.secret"));
    let first_start = storage.server_value("secret_check", None)?.is_none();
    secret::load(&secret_file, first_start)?;
    let check = secret::check_value();
    if storage.server_value("secret_check", Some(&check))?.as_deref() != Some(check.as_str()) {
        return Err(format!(
            "{} is not the server secret this database was set up with (see --secret-file)",
            secret_file.display()
        )
        .into());
    }
    let sealed = storage.seal_at_rest()?;
    if sealed > 0 {
        tracing::info!(target: "security", sealed, "secrets and sensitive records stored before sealing are sealed now");
        storage.compact()?; // the plain ones' bytes out of free pages and the WAL
    }
    let audited = audit_of(&cli.command, storage.as_ref());
    let result = execute(cli.command, &cli.data, storage.clone());
    if let Some((team_id, object)) = audited {
        // The administrator's actions are in the team's audit trail, done or failed.
        // The user by the kernel's account (uid, and the login uid a `sudo` keeps), the name in
        // the environment only as a note beside it.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("?");
        let login = std::fs::read_to_string("/proc/self/loginuid").unwrap_or_default();
        let name = ["SUDO_USER", "USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok()).unwrap_or_default();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        wijkverkenner_server::web::record_audit(
            storage.as_ref(),
            &wijkverkenner_server::storage::AuditEvent {
                team_id,
                at_ms: admin::now_ms(),
                actor: format!("cli:uid={uid},login={},name={name}", login.trim()),
                action: "admin".into(),
                object,
                result: if result.is_ok() { "ok".into() } else { "failed".into() },
                origin: format!("cli@{}", host.trim()),
            },
        )?;
    }
    result
}

/// The team and the description (command and ids, never names or texts) of a command for the
/// audit trail; `None` for the server itself.
fn audit_of(command: &Command, s: &dyn wijkverkenner_server::Storage) -> Option<(String, String)> {
    let team_of_member = |m: &str| s.member(m).ok().flatten().map(|m| m.team_id).unwrap_or_default();
    // An argument as the trail keeps it: an id as it is, anything else (a name, a pasted code)
    // as `…`.
    let id = |a: &str| wijkverkenner_server::web::audit_object(a, None);
    Some(match command {
        Command::Serve { .. } => return None,
        Command::TeamCreate { .. } => (String::new(), "team-create".into()),
        Command::MemberAdd { team, role, .. } => (team.clone(), format!("member-add role {}", id(role))),
        Command::Members { team } => (team.clone(), "members".into()),
        Command::MemberDisable { member } => (team_of_member(member), format!("member-disable {}", id(member))),
        Command::MemberRole { member, role, .. } => {
            (team_of_member(member), format!("member-role {} {}", id(member), id(role)))
        }
        Command::EnrolCode { member, hours, .. } => {
            (team_of_member(member), format!("enrol-code {} {hours} h", id(member)))
        }
        Command::WebSetup { member, .. } => (team_of_member(member), format!("web-setup {}", id(member))),
        Command::Codes { team } => (team.clone(), "codes".into()),
        Command::CodeCancel { team, code } => (
            team.clone(),
            format!("code-cancel {}", if code.bytes().all(|b| b.is_ascii_hexdigit()) { code.as_str() } else { "…" }),
        ),
        Command::Devices { team } => (team.clone(), "devices".into()),
        Command::Revoke { device } => {
            let team = s.caller(device).ok().flatten().map(|c| c.team.id).unwrap_or_default();
            (team, format!("revoke {}", id(device)))
        }
        Command::Suspects { team } => (team.clone(), "suspects".into()),
        Command::EntityDelete { team, id: i } => (team.clone(), format!("entity-delete {}", id(i))),
        Command::EntityQuarantine { team, id: i } => (team.clone(), format!("entity-quarantine {}", id(i))),
        Command::Settings { team } => (team.clone(), "settings".into()),
        Command::CategoryAdd { team, kind, .. } => (team.clone(), format!("category-add {}", id(kind))),
        Command::CategorySet { team, code, .. } => (team.clone(), format!("category-set {}", id(code))),
        Command::TaxonomyExport { team } => (team.clone(), "taxonomy-export".into()),
        Command::TaxonomyImport { team, .. } => (team.clone(), "taxonomy-import".into()),
        Command::OfficeHours { team, .. } => (team.clone(), "office-hours".into()),
        Command::Boundaries { team, .. } => (team.clone(), "boundaries".into()),
        Command::Audit { team, .. } => (team.clone().unwrap_or_default(), "audit".into()),
        Command::Retention { team, terms } => {
            let set = terms.given().map(|d| d.map(|d| d.to_string()).unwrap_or("-".into()));
            (team.clone(), format!("retention {}", set.join(" ")))
        }
        Command::Purge { team } => (team.clone(), "purge".into()),
        Command::LocationGrid { team, metres } => {
            (team.clone(), format!("location-grid {}", metres.map(|m| m.to_string()).unwrap_or("-".into())))
        }
        Command::Deletions { team } => (team.clone(), "deletions".into()),
    })
}

fn execute(
    command: Command,
    data: &std::path::Path,
    storage: std::sync::Arc<dyn wijkverkenner_server::Storage>,
) -> Result<(), Box<dyn std::error::Error>> {
    let s = storage.as_ref();
    let found = |ok: bool, what: &'static str| if ok { Ok(()) } else { Err(what) };
    match command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            trust_forwarded_for,
            buurten,
            wijken,
            tile_url,
            insecure_cookies,
            public_url,
            demo,
            audit_days,
        } => {
            if !wijkverkenner_server::retention::AUDIT_DAYS_RANGE.contains(&audit_days) {
                return Err("--audit-days lies within 180..3650".into());
            }
            let mut state = AppState::new(storage.clone(), wijkverkenner_server::settings::Teams::default());
            state.trust_forwarded_for = trust_forwarded_for;
            let read =
                |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
            let buurten_text = buurten.as_ref().map(read).transpose()?;
            let wijken_text = wijken.as_ref().map(read).transpose()?;
            // The server's default boundaries: for every team that has not uploaded its own.
            if let Some(b) = &buurten_text {
                let b = wijkverkenner_server::settings::Boundaries::parse(b, wijken_text.as_deref())?;
                state.teams = Arc::new(wijkverkenner_server::settings::Teams::new(Some(Arc::new(b))));
            }
            state.web = Arc::new(wijkverkenner_server::web::WebConfig {
                secure_cookies: !insecure_cookies,
                tile_url,
                public_origin: public_url.map(|u| u.trim_end_matches('/').to_string()),
                ..Default::default()
            });
            let demo_boundaries = match (&demo, &buurten_text) {
                (true, Some(b)) => Some((b.clone(), wijken_text.clone())),
                (true, None) => return Err("--demo needs --buurten (the demo walks in Utrecht)".into()),
                _ => None,
            };
            let demo_dir = data.join("demo-phones");
            let tls = match (&tls_cert, &tls_key) {
                (Some(c), Some(k)) => Some(wijkverkenner_server::tls_config(c, k)?),
                _ => None,
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen).await?;
                tracing::info!(%listen, storage = state.storage.backend(), "serving");
                if let Some((b, w)) = demo_boundaries {
                    let storage = state.storage.clone();
                    let url = format!("http://{}", listener.local_addr()?);
                    tokio::task::spawn_blocking(move || {
                        match wijkverkenner_server::demo::run(storage.as_ref(), &url, &demo_dir, &b, w.as_deref()) {
                            Ok(d) => println!(
                                "\nDemo team ready. Open {url}/ and sign in:\n  user name  {}\n  password   {}\n  \
                                 TOTP key   {}  (add it to an authenticator app, or: oathtool --totp -b {})\n  \
                                 team       {}\n",
                                d.login, d.password, d.totp_secret, d.totp_secret, d.team_id
                            ),
                            Err(e) => eprintln!("the demo failed: {e}"),
                        }
                    });
                }
                // Retention: every team's purge at start and then every six hours.
                let purging = state.storage.clone();
                tokio::spawn(async move {
                    loop {
                        let storage = purging.clone();
                        let done = tokio::task::spawn_blocking(move || {
                            let now = admin::now_ms();
                            wijkverkenner_server::retention::purge_all(storage.as_ref(), now)?;
                            wijkverkenner_server::retention::purge_audit(storage.as_ref(), now, audit_days)
                        })
                        .await;
                        if !matches!(done, Ok(Ok(_))) {
                            tracing::error!("the retention purge failed; it runs again in six hours");
                        }
                        tokio::time::sleep(std::time::Duration::from_secs(6 * 3600)).await;
                    }
                });
                let stop = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                match tls {
                    Some(tls) => wijkverkenner_server::serve_tls(listener, state, tls, stop).await,
                    None => wijkverkenner_server::serve(listener, state, stop).await,
                }
            })?;
        }
        Command::TeamCreate { name } => println!("{}", admin::create_team(s, &name)?.id),
        Command::MemberAdd { team, name, role: r, organisation, referral } => {
            let m = match (role(&r)?, referral) {
                (Role::Partner, Some(referral)) => admin::add_partner(s, &team, &name, &organisation, &referral)?,
                (Role::Partner, None) => return Err("a partner needs --referral (e.g. ref.police)".into()),
                (_, Some(_)) => return Err("--referral is for partners".into()),
                (r, None) => admin::add_member(s, &team, &name, r, &organisation)?,
            };
            println!("{}", m.id);
        }
        Command::Members { team } => {
            for m in s.members(&team)? {
                let state = if m.disabled_ms.is_some() { "disabled" } else { "active" };
                let role = match &m.referral {
                    Some(r) => format!("{} {}", m.role.as_str(), printable(r)),
                    None => m.role.as_str().to_string(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    m.id,
                    state,
                    role,
                    printable(&m.display_name),
                    printable(&m.organisation)
                );
            }
        }
        Command::MemberDisable { member } => {
            found(s.disable_member(&member, admin::now_ms())?, "no such member")?;
            tracing::warn!(target: "security", member = %member, "member disabled");
            println!("disabled {member}: its phones are wiped at their next sync");
        }
        Command::MemberRole { member, role: r, referral } => {
            let r = role(&r)?;
            match (r, &referral) {
                (Role::Partner, Some(referral)) => {
                    let team = s.member(&member)?.map(|m| m.team_id).ok_or("no such member")?;
                    admin::check_referral(s, &team, referral)?;
                }
                (Role::Partner, None) => return Err("a partner needs --referral (e.g. ref.police)".into()),
                (_, Some(_)) => return Err("--referral is for partners".into()),
                (_, None) => {}
            }
            found(
                s.set_role(&member, r, referral.as_deref(), admin::now_ms())?,
                "no such member, or it has that role already",
            )?;
            tracing::warn!(target: "security", member = %member, role = r.as_str(), "role changed");
            println!("{member} is now {}; its phones are wiped at their next sync: issue a new code", r.as_str());
        }
        Command::EnrolCode { member, hours, server_url } => {
            let code = admin::issue_code(s, &member, hours)?;
            println!("{code}");
            if let Some(url) = server_url {
                println!("{}", admin::enrol_payload(&url, &code));
            }
        }
        Command::WebSetup { member, login, server_url } => {
            let token = admin::issue_web_setup(s, &member, &login)?;
            tracing::warn!(target: "security", member = %member, "web set-up link issued");
            println!("{}/setup/{token}", server_url.trim_end_matches('/'));
        }
        Command::Codes { team } => {
            let now = admin::now_ms();
            for c in s.codes(&team)? {
                let state = match c.used_ms {
                    Some(_) => "used or cancelled",
                    None if c.expires_ms <= now => "expired",
                    None => "open",
                };
                println!(
                    "{}\t{}\t{}\tissued {}\texpires {}",
                    c.id,
                    state,
                    printable(&c.member_name),
                    time(c.issued_ms),
                    time(Some(c.expires_ms))
                );
            }
        }
        Command::CodeCancel { team, code } => {
            found(s.cancel_code(&team, &code, admin::now_ms())?, "no open code with that id in this team")?;
            tracing::warn!(target: "security", team = %team, code = %code, "enrolment code cancelled");
            println!("cancelled {code}");
        }
        Command::Devices { team } => {
            for (d, m) in s.devices(&team)? {
                let state = if d.revoked_ms.is_some() { "revoked" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{}\tlast seen {}",
                    d.id,
                    state,
                    printable(&m.display_name),
                    printable(&d.name),
                    time(d.last_seen_ms)
                );
            }
        }
        Command::Revoke { device } => {
            found(s.revoke_device(&device, admin::now_ms())?, "no such device")?;
            tracing::warn!(target: "security", device = %device, "device revoked");
            println!("revoked {device}");
        }
        Command::Suspects { team } => {
            for (id, why) in sync::suspects(s, &team)? {
                println!("{id}\t{why}");
            }
        }
        Command::EntityDelete { team, id } => {
            // An erasure (a resident's request, a note that should never have been made): the
            // content and the leads' comments go, a line in the deletion log says what and
            // why, and the bytes leave the files, as with a retention purge.
            let mut row = None;
            s.transaction(&mut |tx| {
                row = tx.get_row(&team, &id)?;
                Ok(())
            })?;
            let kind = row
                .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.doc).ok())
                .and_then(|d| d.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                .unwrap_or_default();
            found(sync::delete_entity(s, &team, &id)?, "no such entity in this team")?;
            s.forget_history(&team, &id)?;
            s.log_deletion(&wijkverkenner_server::storage::Deletion {
                team_id: team.clone(),
                at_ms: admin::now_ms(),
                entity_id: id.clone(),
                kind,
                reason: "erased by an operator".into(),
            })?;
            s.compact()?;
            tracing::warn!(target: "security", team = %team, entity = %id, "entity deleted by an operator");
            println!("deleted {id}: every phone removes it at its next sync");
        }
        Command::EntityQuarantine { team, id } => {
            found(sync::quarantine_entity(s, &team, &id)?, "no such entity in this team")?;
            tracing::warn!(target: "security", team = %team, entity = %id, "entity quarantined by an operator");
            println!("quarantined {id}");
        }
        Command::Settings { team } => {
            let config = settings::Teams::default().config_of(s, &team)?.ok_or("no such team")?;
            let oh = &config.office_hours;
            println!("version\t{}\ttag {}", config.version, config.tag);
            println!("office hours\tdays {:?} {}–{} ({})", oh.days, oh.start, oh.end, oh.time_zone);
            match (&config.boundaries, config.own_boundaries) {
                (Some(b), true) => println!("boundaries\t{} buurten (the team's own)", b.names.len()),
                _ => println!("boundaries\tthe server's (serve --buurten)"),
            }
            for c in &config.taxonomy.categories {
                let kind = serde_json::to_value(c.kind)?;
                let flags: Vec<&str> =
                    [(c.sensitive, "sensitive"), (c.professional, "professional"), (c.retired, "retired")]
                        .into_iter()
                        .filter_map(|(on, name)| on.then_some(name))
                        .collect();
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    c.code,
                    kind.as_str().unwrap_or_default(),
                    flags.join(","),
                    printable(&c.nl),
                    printable(&c.en)
                );
            }
        }
        Command::CategoryAdd { team, kind, nl, en, code, sensitive, professional } => {
            let kind = category_kind(&kind)?;
            let change = settings::Change::AddCategory { kind, code, nl, en, sensitive, professional };
            let c = change_settings(s, &team, change)?;
            println!("{}", c.code.unwrap_or_default());
        }
        Command::CategorySet { team, code, nl, en, sensitive, professional, retired } => {
            let config = settings::Teams::default().config_of(s, &team)?.ok_or("no such team")?;
            let current = config.taxonomy.get(&code).ok_or("no such category")?.clone();
            let change = settings::Change::EditCategory {
                code: code.clone(),
                nl: nl.unwrap_or(current.nl),
                en: en.unwrap_or(current.en),
                sensitive: sensitive.unwrap_or(current.sensitive),
                professional: professional.unwrap_or(current.professional),
                retired: retired.unwrap_or(current.retired),
            };
            let c = change_settings(s, &team, change)?;
            println!("changed {code} (settings version {})", c.version);
        }
        Command::TaxonomyExport { team } => {
            let config = settings::Teams::default().config_of(s, &team)?.ok_or("no such team")?;
            println!("{}", serde_json::to_string_pretty(config.taxonomy.as_ref())?);
        }
        Command::TaxonomyImport { team, file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let next = Taxonomy::from_json(&text)?;
            let c = change_settings(s, &team, settings::Change::Taxonomy(next))?;
            println!("imported (settings version {})", c.version);
        }
        Command::OfficeHours { team, days, start, end, time_zone } => {
            let days = days
                .split(',')
                .map(|d| d.trim().parse::<u8>().map_err(|_| "days are numbers 1 (Monday) to 7, comma-separated"))
                .collect::<Result<Vec<_>, _>>()?;
            let c =
                change_settings(s, &team, settings::Change::OfficeHours(OfficeHours { time_zone, days, start, end }))?;
            println!("office hours set (settings version {})", c.version);
        }
        Command::Boundaries { team, buurten, wijken } => {
            let read =
                |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
            let b = read(&buurten)?;
            let w = wijken.as_ref().map(read).transpose()?;
            let parsed = settings::Boundaries::parse(&b, w.as_deref())?;
            let n = parsed.names.len();
            let c = change_settings(s, &team, settings::Change::Boundaries(Arc::new(parsed)))?;
            println!("{n} buurten set (settings version {})", c.version);
        }
        Command::Retention { team, terms: given } => {
            found(s.team(&team)?.is_some(), "no such team")?;
            let before = wijkverkenner_server::retention::terms(s, &team)?;
            let terms = given.over(before);
            if terms != before {
                wijkverkenner_server::retention::set_terms(s, &team, &terms, admin::now_ms())?;
            }
            println!(
                "conversations\t{} days\nobservations\t{} days\nclosed signals\t{} days\nwalks\t{} days\n\
                 raw fixes after review\t{} days\nlock after no sync for\t{} days",
                terms.conversation_days,
                terms.observation_days,
                terms.closed_signal_days,
                terms.walk_days,
                terms.raw_fixes_after_review_days,
                terms.lock_after_days
            );
        }
        Command::LocationGrid { team, metres } => {
            found(s.team(&team)?.is_some(), "no such team")?;
            if let Some(m) = metres {
                wijkverkenner_server::sync::set_location_grid(s, &team, m, admin::now_ms())?;
            }
            let m = wijkverkenner_server::sync::location_grid(s, &team)?;
            println!("places shared on a {m} m grid");
        }
        Command::Purge { team } => {
            found(s.team(&team)?.is_some(), "no such team")?;
            for d in wijkverkenner_server::retention::purge(s, &team, admin::now_ms())? {
                println!("{}\t{}\t{}\t{}", time_precise(d.at_ms), d.entity_id, d.kind, d.reason);
            }
        }
        Command::Deletions { team } => {
            for d in s.deletions(&team, 0)? {
                println!("{}\t{}\t{}\t{}", time_precise(d.at_ms), d.entity_id, d.kind, d.reason);
            }
        }
        Command::Audit { team, days } => {
            let since = admin::now_ms() - i64::from(days.min(3_650)) * 86_400_000;
            for e in s.audit(team.as_deref(), since, 1_000_000)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    time_precise(e.at_ms),
                    admin::printable(&e.actor),
                    e.action,
                    admin::printable(&e.object),
                    admin::printable(&e.result),
                    admin::printable(&e.origin)
                );
            }
        }
    }
    Ok(())
}

fn time_precise(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}
