//! The default transport: HTTPS (rustls) with ureq, blocking, off the UI thread.

use std::time::Duration;

use crate::sync::engine::{HttpResponse, Transport, TransportError};
use crate::sync::wire::MAX_WIRE_BYTES;

/// HTTP(S) to one team server, e.g. `https://wijkteam.example.nl`.
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
}

impl HttpTransport {
    /// No redirects are followed (a redirect could lead to any `http://` host, whose answer
    /// would be taken as the team's), no proxy from the environment, and only HTTPS unless the
    /// address is the device itself (`crate::sync::server_url_is_allowed`).
    pub fn new(base_url: &str) -> Self {
        Self::build(base_url, None)
    }

    /// The same, trusting only these root certificates (DER) instead of the public roots: a
    /// team server whose certificate a private CA signed, or a test certificate.
    pub fn trusting(base_url: &str, roots_der: &[Vec<u8>]) -> Self {
        let roots: Vec<ureq::tls::Certificate<'static>> =
            roots_der.iter().map(|d| ureq::tls::Certificate::from_der(d).to_owned()).collect();
        Self::build(base_url, Some(roots))
    }

    fn build(base_url: &str, roots: Option<Vec<ureq::tls::Certificate<'static>>>) -> Self {
        let lower = base_url.trim().to_ascii_lowercase();
        let loopback = lower.starts_with("http://") && crate::sync::server_url_is_allowed(&lower);
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .timeout_connect(Some(Duration::from_secs(15)))
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(!loopback)
            .proxy(None);
        if let Some(roots) = roots {
            config = config.tls_config(
                ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&roots)).build(),
            );
        }
        Self { base: base_url.trim_end_matches('/').to_string(), agent: config.build().into() }
    }
}

impl Transport for HttpTransport {
    fn post(&self, path: &str, credential: Option<&str>, body: Vec<u8>) -> Result<HttpResponse, TransportError> {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        for (name, value) in crate::sync::engine::request_headers(credential) {
            req = req.header(name, value);
        }
        let mut resp = req.send(&body[..]).map_err(|e| TransportError(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_WIRE_BYTES as u64)
            .read_to_vec()
            .map_err(|e| TransportError(e.to_string()))?;
        Ok(HttpResponse { status, body })
    }
}
