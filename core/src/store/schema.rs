//! Schema creation and upgrades.
//!
//! Migrations are numbered SQL files in `core/sql/`, applied in one immediate transaction that
//! writes `user_version` last. Each released version is frozen as a fixture with data in
//! `core/sql/tests/vN.sql`; a test upgrades every fixture and compares with a fresh store.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// Migration `i` brings a store from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../sql/v1.sql"),
    include_str!("../../sql/v2.sql"),
    include_str!("../../sql/v3.sql"),
    include_str!("../../sql/v4.sql"),
    include_str!("../../sql/v5.sql"),
    include_str!("../../sql/v6.sql"),
    include_str!("../../sql/v7.sql"),
];

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
    // A migration may rebuild tables (new, copy, drop, rename): foreign keys are off meanwhile
    // (the pragma is a no-op inside a transaction) and checked before the commit.
    conn.execute_batch("PRAGMA foreign_keys = OFF;")?;
    let upgraded = upgrade(conn);
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    upgraded
}

fn upgrade(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again inside the lock: another process may have upgraded meanwhile.
    let found = check_version(&tx)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql)?;
        tracing::info!(to = i + 1, "store schema upgraded");
    }
    let dangling: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
    if dangling > 0 {
        return Err(Error::invalid("store upgrade", format!("{dangling} rows would lose their walk")));
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
