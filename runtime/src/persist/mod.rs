//! Durable storage of a node: agent specs and agent state in SQLite.
//!
//! Why SQLite (WAL mode, `synchronous=NORMAL`): a commit is one append to
//! the write-ahead log, with no fsync per transaction, and a committed
//! transaction survives the node process being killed (SIGKILL): it is in
//! the WAL, which the next open replays. (A power loss may lose the last
//! commits; that is the price of not syncing per message.) It is one file,
//! crash-safe, and readable with the `sqlite3` tool when debugging.
//!
//! What is stored: for every live agent its plugin, limits, restart policy
//! and config (so a restarted node can spawn it again), and its key-value
//! state, written in one transaction per handled batch; and the components
//! tenants uploaded (bytes once per content hash). Mailboxes are not
//! stored: messages queued when the node dies are lost, and the restore
//! report says how many agents came back, not how many messages were lost.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::core::limits::AgentLimits;
use crate::core::supervision::RestartPolicy;

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("node database {path}: {source}")]
pub struct PersistError {
    path: String,
    source: rusqlite::Error,
}

/// What is needed to spawn an agent again after a node restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Its tenant.
    pub tenant: String,
    /// Its name.
    pub name: String,
    /// The plugin, as the script named it (built-in name or path).
    pub plugin: String,
    /// Its limits.
    pub limits: AgentLimits,
    /// Its restart policy.
    pub restart: RestartPolicy,
    /// Its `init` config.
    pub config: String,
}

/// A component a tenant uploaded, as the database lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRecord {
    /// The tenant that uploaded it (the only one that sees it).
    pub tenant: String,
    /// Its name in that tenant.
    pub name: String,
    /// SHA-256 of its bytes, hex.
    pub hash: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One state write: a key and its new value (`None` deletes).
pub type StateWrite = (String, Option<Vec<u8>>);

/// The node's database.
#[derive(Debug)]
pub struct Db {
    conn: Mutex<Connection>,
    path: String,
}

impl Db {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Db, PersistError> {
        let name = path.display().to_string();
        let fail = |source| PersistError {
            path: name.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(fail)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS agents (
                 tenant TEXT NOT NULL, name TEXT NOT NULL, record TEXT NOT NULL,
                 PRIMARY KEY (tenant, name));
             CREATE TABLE IF NOT EXISTS state (
                 tenant TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                 PRIMARY KEY (tenant, name, key));
             CREATE TABLE IF NOT EXISTS components (
                 tenant TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,
                 PRIMARY KEY (tenant, name));
             CREATE TABLE IF NOT EXISTS component_bytes (
                 hash TEXT PRIMARY KEY, bytes BLOB NOT NULL);",
        )
        .map_err(fail)?;
        Ok(Db {
            conn: Mutex::new(conn),
            path: name,
        })
    }

    fn fail(&self, source: rusqlite::Error) -> PersistError {
        PersistError {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores a freshly spawned agent's spec and clears any state left
    /// under its name (by an earlier agent of that name), in one transaction:
    /// a new agent never inherits stale state.
    pub fn create_agent(&self, record: &AgentRecord) -> Result<(), PersistError> {
        let json = serde_json::to_string(record).expect("a record always serializes");
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction().map_err(|e| self.fail(e))?;
        tx.execute(
            "DELETE FROM state WHERE tenant = ?1 AND name = ?2",
            params![record.tenant, record.name],
        )
        .map_err(|e| self.fail(e))?;
        tx.execute(
            "INSERT OR REPLACE INTO agents (tenant, name, record) VALUES (?1, ?2, ?3)",
            params![record.tenant, record.name, json],
        )
        .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))
    }

    /// Keeps a tenant's uploaded component: its name and the bytes (stored
    /// once per content hash, whoever uploaded them), in one transaction.
    pub fn put_component(
        &self,
        component: &ComponentRecord,
        bytes: &[u8],
    ) -> Result<(), PersistError> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction().map_err(|e| self.fail(e))?;
        tx.execute(
            "INSERT OR IGNORE INTO component_bytes (hash, bytes) VALUES (?1, ?2)",
            params![component.hash, bytes],
        )
        .map_err(|e| self.fail(e))?;
        tx.execute(
            "INSERT OR REPLACE INTO components (tenant, name, hash, size) VALUES (?1, ?2, ?3, ?4)",
            params![
                component.tenant,
                component.name,
                component.hash,
                component.size as i64
            ],
        )
        .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))
    }

    /// Every tenant's uploaded components (without their bytes).
    pub fn components(&self) -> Result<Vec<ComponentRecord>, PersistError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn
            .prepare("SELECT tenant, name, hash, size FROM components")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(ComponentRecord {
                    tenant: row.get(0)?,
                    name: row.get(1)?,
                    hash: row.get(2)?,
                    size: row.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// The bytes of the component with content hash `hash`.
    pub fn component_bytes(&self, hash: &str) -> Result<Option<Vec<u8>>, PersistError> {
        let conn = self.conn.lock().unwrap();
        conn.query_row(
            "SELECT bytes FROM component_bytes WHERE hash = ?1",
            params![hash],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| self.fail(e))
    }

    /// Forgets an agent and its state (it was stopped or killed).
    pub fn delete_agent(&self, tenant: &str, name: &str) -> Result<(), PersistError> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction().map_err(|e| self.fail(e))?;
        tx.execute(
            "DELETE FROM agents WHERE tenant = ?1 AND name = ?2",
            params![tenant, name],
        )
        .map_err(|e| self.fail(e))?;
        tx.execute(
            "DELETE FROM state WHERE tenant = ?1 AND name = ?2",
            params![tenant, name],
        )
        .map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))
    }

    /// Every stored agent, in no particular order. Records that no longer
    /// parse (written by an incompatible version) are skipped with a warning.
    pub fn agents(&self) -> Result<Vec<AgentRecord>, PersistError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn
            .prepare("SELECT tenant, name, record FROM agents")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.fail(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (tenant, name, json) = row.map_err(|e| self.fail(e))?;
            match serde_json::from_str(&json) {
                Ok(record) => out.push(record),
                Err(e) => tracing::warn!(tenant, name, "skipping an unreadable agent record: {e}"),
            }
        }
        Ok(out)
    }

    /// An agent's whole state.
    pub fn load_state(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<HashMap<String, Vec<u8>>, PersistError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn
            .prepare("SELECT key, value FROM state WHERE tenant = ?1 AND name = ?2")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map(params![tenant, name], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Applies the state writes of one handled batch, atomically.
    pub fn commit_state(
        &self,
        tenant: &str,
        name: &str,
        writes: &[StateWrite],
    ) -> Result<(), PersistError> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction().map_err(|e| self.fail(e))?;
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO state (tenant, name, key, value) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| self.fail(e))?;
            let mut del = tx
                .prepare_cached("DELETE FROM state WHERE tenant = ?1 AND name = ?2 AND key = ?3")
                .map_err(|e| self.fail(e))?;
            for (key, value) in writes {
                match value {
                    Some(v) => put.execute(params![tenant, name, key, v]),
                    None => del.execute(params![tenant, name, key]),
                }
                .map_err(|e| self.fail(e))?;
            }
        }
        tx.commit().map_err(|e| self.fail(e))
    }

    /// One value (for tests and tools).
    pub fn state_value(
        &self,
        tenant: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, PersistError> {
        self.conn
            .lock()
            .unwrap()
            .query_row(
                "SELECT value FROM state WHERE tenant = ?1 AND name = ?2 AND key = ?3",
                params![tenant, name, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> AgentRecord {
        AgentRecord {
            tenant: "t".into(),
            name: name.into(),
            plugin: "counter".into(),
            limits: AgentLimits::default(),
            restart: RestartPolicy::default(),
            config: "{}".into(),
        }
    }

    #[test]
    fn agents_and_state_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("caxton-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.db");
        let _ = std::fs::remove_file(&path);
        {
            let db = Db::open(&path).unwrap();
            db.create_agent(&record("a")).unwrap();
            db.create_agent(&record("b")).unwrap();
            db.commit_state(
                "t",
                "a",
                &[
                    ("k".into(), Some(b"v1".to_vec())),
                    ("x".into(), Some(b"1".to_vec())),
                ],
            )
            .unwrap();
            db.commit_state(
                "t",
                "a",
                &[("k".into(), Some(b"v2".to_vec())), ("x".into(), None)],
            )
            .unwrap();
            db.delete_agent("t", "b").unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.agents().unwrap(), vec![record("a")]);
        let state = db.load_state("t", "a").unwrap();
        assert_eq!(state.len(), 1);
        assert_eq!(state["k"], b"v2");
        assert_eq!(db.state_value("t", "a", "x").unwrap(), None);
    }
}
