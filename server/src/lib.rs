//! Wijkverkenner team server: holds a team's members, devices and synced walks and records,
//! and serves the sync protocol (`docs/sync-protocol.md`). Storage is embedded SQLite by
//! default, PostgreSQL when given a database URL.

pub mod admin;
pub mod api;
pub mod error;
pub mod storage;
pub mod sync;
#[doc(hidden)]
pub mod testing;

use std::sync::Arc;

pub use api::{router, AppState};
pub use error::{ApiError, Error, Result};
pub use storage::Storage;

/// Serves the API on `listener` until `shutdown` completes. Responses go out without Nagle's
/// delay: a response written in two parts would otherwise wait for the phone's delayed ACK
/// (40 ms on Linux) — measured as every fifth sync page taking 53 ms instead of 13.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Opens the storage: PostgreSQL when `database_url` is given, else SQLite in `data_dir`.
pub fn open_storage(data_dir: &std::path::Path, database_url: Option<&str>) -> Result<Arc<dyn Storage>> {
    Ok(match database_url {
        Some(url) => Arc::new(storage::postgres::PostgresStorage::open(url)?),
        None => Arc::new(storage::sqlite::SqliteStorage::open(data_dir)?),
    })
}
