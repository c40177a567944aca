//! Schema creation and upgrades.
//!
//! Migrations are numbered SQL files in `core/sql/`, applied in one immediate transaction that
//! writes `user_version` last. Each released version is frozen as a fixture with data in
//! `core/sql/tests/vN.sql`; a test upgrades every fixture and compares with a fresh store.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// Migration `i` brings a store from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("../../sql/v1.sql"), include_str!("../../sql/v2.sql")];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Refuses a store written by a newer app; returns the version found.
pub(crate) fn check_version(conn: &Connection) -> Result<i64> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    Ok(found)
}

/// Creates or upgrades the schema. Never deletes data.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    if check_version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again inside the lock: another process may have upgraded meanwhile.
    let found = check_version(&tx)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql)?;
        tracing::info!(to = i + 1, "store schema upgraded");
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
