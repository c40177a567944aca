//! A team server on a loopback port, for tests and benchmarks (not for production use).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::{AppState, Storage};

/// A team server on 127.0.0.1 with a port of its own, stopped when dropped.
pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    pub storage: Arc<dyn Storage>,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub fn start(storage: Arc<dyn Storage>) -> Self {
        Self::start_on(storage, "127.0.0.1:0".parse().unwrap())
    }

    pub fn start_on(storage: Arc<dyn Storage>, addr: SocketAddr) -> Self {
        Self::start_with(storage, addr, crate::ClientLimits::default())
    }

    /// A server with its own timeouts and connection caps (tests of slow and many clients).
    pub fn start_with(storage: Arc<dyn Storage>, addr: SocketAddr, limits: crate::ClientLimits) -> Self {
        Self::start_configured(storage, addr, |state| state.clients = limits)
    }

    /// A server serving the review pages over plain HTTP (cookies without `Secure`), with
    /// Utrecht's buurt boundaries.
    pub fn start_web(storage: Arc<dyn Storage>) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
        let n = wijkverkenner_core::Neighbourhoods::from_geojson(&read("buurt.geojson"), Some(&read("wijk.geojson")))
            .unwrap();
        Self::start_configured(storage, "127.0.0.1:0".parse().unwrap(), |state| {
            state.web = Arc::new(crate::web::WebConfig { secure_cookies: false, ..Default::default() });
            state.teams = Arc::new(crate::settings::Teams::new(Some(Arc::new(
                crate::settings::Boundaries::from_neighbourhoods(&n),
            ))));
        })
    }

    /// A server whose state `configure` adjusts first.
    pub fn start_configured(
        storage: Arc<dyn Storage>,
        addr: SocketAddr,
        configure: impl FnOnce(&mut AppState),
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut state = AppState::new(storage.clone(), crate::settings::Teams::default());
        configure(&mut state);
        let listener = runtime.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            crate::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer { url: format!("http://{addr}"), addr, storage, runtime: Some(runtime), stop: Some(stop) }
    }

    /// Stops the server at once (connections in flight are cut).
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
