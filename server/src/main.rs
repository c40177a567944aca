//! `wijkverkenner-server`: run the team server, and administer teams, members and devices.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use wijkverkenner_core::Taxonomy;
use wijkverkenner_server::storage::Role;
use wijkverkenner_server::{admin, open_storage, AppState};

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, env = "WV_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Create a team; prints its id.
    TeamCreate { name: String },
    /// Add a member to a team; prints the member id.
    MemberAdd {
        #[arg(long)]
        team: String,
        #[arg(long)]
        name: String,
        /// field_worker, lead or admin
        #[arg(long, default_value = "field_worker")]
        role: String,
        #[arg(long, default_value = "")]
        organisation: String,
    },
    /// Issue a one-time enrolment code for a member (default valid 24 hours).
    EnrolCode {
        #[arg(long)]
        member: String,
        #[arg(long, default_value_t = 24)]
        hours: u32,
    },
    /// List a team's devices.
    Devices {
        #[arg(long)]
        team: String,
    },
    /// Revoke a device (a lost phone): its next sync is refused and it wipes its data.
    Revoke { device: String },
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

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let storage = open_storage(&cli.data, cli.database_url.as_deref())?;
    match cli.command {
        Command::Serve { listen } => {
            let state = AppState { storage, taxonomy: Arc::new(Taxonomy::default_taxonomy()) };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen).await?;
                tracing::info!(%listen, storage = state.storage.backend(), "serving");
                wijkverkenner_server::serve(listener, state, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
            })?;
        }
        Command::TeamCreate { name } => println!("{}", admin::create_team(storage.as_ref(), &name)?.id),
        Command::MemberAdd { team, name, role, organisation } => {
            let role = Role::parse(&role).ok_or("role is field_worker, lead or admin")?;
            println!("{}", admin::add_member(storage.as_ref(), &team, &name, role, &organisation)?.id);
        }
        Command::EnrolCode { member, hours } => println!("{}", admin::issue_code(storage.as_ref(), &member, hours)?),
        Command::Devices { team } => {
            for (d, m) in storage.devices(&team)? {
                let state = if d.revoked_ms.is_some() { "revoked" } else { "active" };
                let seen = d.last_seen_ms.map(|ms| ms.to_string()).unwrap_or_else(|| "never".into());
                println!("{}\t{}\t{}\t{}\tlast seen {}", d.id, state, m.display_name, d.name, seen);
            }
        }
        Command::Revoke { device } => {
            if !storage.revoke_device(&device, admin::now_ms())? {
                return Err("no such device".into());
            }
            println!("revoked {device}");
        }
    }
    Ok(())
}
