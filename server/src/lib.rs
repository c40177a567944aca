//! Wijkverkenner team server: holds a team's members, devices and synced walks and records,
//! and serves the sync protocol (`docs/sync-protocol.md`). Storage is embedded SQLite by
//! default, PostgreSQL when given a database URL.

pub mod admin;
pub mod api;
pub mod demo;
pub mod error;
pub mod limits;
pub mod openapi;
pub mod photos;
pub mod reports;
pub mod retention;
pub mod review;
pub mod secret;
pub mod settings;
pub mod storage;
pub mod sync;
#[doc(hidden)]
pub mod testing;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use api::{router, AppState, ClientLimits};
pub use error::{ApiError, Error, Result};
pub use storage::Storage;

/// Serves the API on `listener` until `shutdown` completes.
///
/// Every connection is HTTP/1.1 with a timeout for the request headers (the body has its own,
/// in `api`), at most `state.clients.max_connections` at once and
/// `max_connections_per_address` from one address (unless behind a trusted proxy). Responses go out without Nagle's delay: a
/// response written in two parts would otherwise wait for the phone's delayed ACK (40 ms on
/// Linux) — measured as every fifth sync page taking 53 ms instead of 13. Each request carries
/// its peer address (`ConnectInfo`) for the rate limits and the security log.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`] over TLS: every connection's handshake first (within the header timeout), then
/// the same HTTP/1.1 as above.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Some(tokio_rustls::TlsAcceptor::from(tls)), shutdown).await
}

/// The server's TLS set-up from PEM files: the certificate chain (leaf first) and its private
/// key. TLS 1.2 and 1.3 with rustls' safe defaults; HTTP/1.1 announced by ALPN.
pub fn tls_config(cert_chain: &std::path::Path, key: &std::path::Path) -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let shown = |p: &std::path::Path, e: &dyn std::fmt::Display| Error::Other(format!("{}: {e}", p.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_chain)
        .map_err(|e| shown(cert_chain, &e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| shown(cert_chain, &e))?;
    if certs.is_empty() {
        return Err(Error::Other(format!("{}: no certificate in it", cert_chain.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| shown(key, &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Other(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Other(format!("TLS: the key does not fit the certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let limits = state.clients;
    let per_address = !state.trust_forwarded_for;
    let app = router(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> = Default::default();
    let (stop, stopped) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_full_warning: Option<std::time::Instant> = None;
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if last_full_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(target: "security", addr = %addr.ip(), limit = limits.max_connections, "connection limit reached; closing new connections");
                last_full_warning = Some(std::time::Instant::now());
            }
            drop(tcp);
            continue;
        };
        let from_address = per_address.then(|| AddressSlot::take(&open, addr.ip(), limits.max_connections_per_address));
        if let Some(None) = from_address {
            tracing::warn!(target: "security", addr = %addr.ip(), limit = limits.max_connections_per_address, "connections from one address at the limit; closing");
            drop(tcp);
            continue;
        }
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let service = app.clone().map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo::<SocketAddr>(addr));
            req
        });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut stopped = stopped.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = (slot, from_address);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.headers);
            macro_rules! run {
                ($io:expr) => {{
                    let conn = builder.serve_connection(TokioIo::new($io), service);
                    let mut conn = std::pin::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stopped.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                }};
            }
            match tls {
                None => run!(tcp),
                // A handshake that does not finish in time holds no slot for long.
                Some(acceptor) => match tokio::time::timeout(limits.headers, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => run!(stream),
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
            }
        });
    }
    drop(stop);
    Ok(())
}

/// One open connection from an address, counted until dropped.
struct AddressSlot {
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    addr: std::net::IpAddr,
}

impl AddressSlot {
    /// A slot for one more connection from `addr`, if it has fewer than `max` open.
    fn take(
        open: &Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
        addr: std::net::IpAddr,
        max: usize,
    ) -> Option<AddressSlot> {
        let mut counts = open.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(addr).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot { open: open.clone(), addr })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.addr);
            }
        }
    }
}

/// Opens the storage: PostgreSQL when `database_url` is given (its certificate verified
/// against `database_ca`, or the system's roots), else SQLite in `data_dir`.
pub fn open_storage(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    database_ca: Option<&std::path::Path>,
) -> Result<Arc<dyn Storage>> {
    Ok(match database_url {
        Some(url) => Arc::new(storage::postgres::PostgresStorage::open_verified(url, database_ca)?),
        None => Arc::new(storage::sqlite::SqliteStorage::open(data_dir)?),
    })
}
