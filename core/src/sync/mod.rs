//! Sync: every record reaches the team exactly once, and the team's decisions come back.
//!
//! Layers: `wire` (the protocol's messages) and `merge` (per-field last-writer-wins) are pure
//! values that the store and the team server both use; `engine` drives one sync as explicit
//! stages over a [`Transport`]; `http` is the default transport.
//! The protocol is specified in `docs/sync-protocol.md`.

pub mod codec;
pub mod engine;
pub mod http;
pub mod merge;
pub mod wire;

pub use engine::{HttpResponse, SyncOutcome, SyncProblem, SyncState, SyncStatus, Transport, TransportError};
pub use merge::merge;
pub use wire::{Entity, EntityKind, PROTOCOL_VERSION};
