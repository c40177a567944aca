//! Sync: every record reaches the team exactly once, and the team's decisions come back.
//!
//! Layers: `wire` (the protocol's messages) and `merge` (per-field last-writer-wins) are pure
//! values that the store and the team server both use; `engine` drives one sync as explicit
//! stages over a [`Transport`]; `http` is the default transport.
//! The protocol is specified in `docs/sync-protocol.md`.

pub mod codec;
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod merge;
pub mod wire;

pub use engine::{HttpResponse, SyncOutcome, SyncProblem, SyncState, SyncStatus, Transport, TransportError};
pub use merge::merge;
pub use wire::{Entity, EntityKind, PROTOCOL_VERSION};

/// Whether a phone may talk to a team server at `url`: over `https://`, or over `http://` only
/// to the device itself (`localhost`, `127.0.0.0/8`, `[::1]`: tests and a developer's server).
/// Notes about residents never cross a network in clear, whatever address a walker types.
pub fn server_url_is_allowed(url: &str) -> bool {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("https://") {
        return !rest.is_empty() && !rest.starts_with('/');
    }
    let Some(rest) = lower.strip_prefix("http://") else { return false };
    // The authority ends at the first '/', '?' or '#'; a user part ("a@host") is refused.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, port)) if port.is_empty() || port.starts_with(':') => h,
            _ => return false,
        }
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host == "localhost" || host == "::1" {
        return true;
    }
    // 127.x.y.z, written out as four decimal numbers (no "127.1" or hex tricks).
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts[0] == "127"
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        && parts.iter().all(|p| p.parse::<u16>().is_ok_and(|n| n <= 255))
}

/// [`server_url_is_allowed`] as an error for the store's callers.
pub fn check_server_url(url: &str) -> crate::Result<()> {
    if server_url_is_allowed(url) {
        Ok(())
    } else {
        Err(crate::Error::Invalid { field: "server_url", rule: "https://, or http:// only to this device".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::server_url_is_allowed as ok;

    #[test]
    fn only_https_or_loopback() {
        for url in [
            "https://wijkteam.example.nl",
            "HTTPS://wijk.utrecht.nl/",
            "http://127.0.0.1:8080",
            "http://localhost:3000/",
            "http://[::1]:8080",
            "http://127.10.0.3",
        ] {
            assert!(ok(url), "{url}");
        }
        for url in [
            "http://wijkteam.example.nl",
            "http://192.168.1.10:8080",
            "http://127.0.0.1.evil.nl",
            "http://localhost.evil.nl",
            "http://127.0.0.1@evil.nl",
            "http://[::1].evil.nl",
            "http://127.1",
            "http://0x7f.0.0.1",
            "ftp://127.0.0.1",
            "wijkteam.example.nl",
            "https://",
            "",
        ] {
            assert!(!ok(url), "{url}");
        }
    }
}
