//! Components tenants upload to a node (`caxton-run deploy`, a script's
//! `plugin(node, FILE)`): checked against the world, compiled by the
//! node's [`Compiler`] under a size limit and its budget, cached by content
//! hash, kept in a durable node's database, and visible to the uploading
//! tenant only.
//!
//! Names are per tenant and immutable: the same bytes under the same name
//! again are accepted at once (nothing is compiled), other bytes under a
//! taken name are refused, so an agent's plugin never changes under it.
//! An uploaded plugin's name on the node is `sha256:HEX` (what agent
//! records keep); tenants spawn it by their own name.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::local::Node;
use crate::core::tenant::QuotaError;
use crate::host::compiler::{Compiler, InProcess};
use crate::host::{Plugin, PluginError};
use crate::persist::{ComponentRecord, PersistError};

/// What uploads may cost a node.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    /// The largest component accepted, bytes.
    pub max_bytes: u64,
    /// Components per tenant, unless its `components` quota says otherwise.
    pub max_components: u64,
    /// Bytes of a tenant's components together, unless its
    /// `component_bytes` quota says otherwise.
    pub max_total_bytes: u64,
    /// Compiles what is uploaded (within its budget).
    pub compiler: Arc<dyn Compiler>,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        UploadPolicy {
            max_bytes: 64 << 20,
            max_components: 16,
            max_total_bytes: 256 << 20,
            compiler: Arc::new(InProcess {
                budget: Duration::from_secs(60),
            }),
        }
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Over the node's size limit.
    #[error("the component is {size} bytes, over this node's limit of {max} bytes per component")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Not a name a component may have.
    #[error(
        "`{0}` is not a usable component name: use 1-64 letters, digits, `-`, `_` or `.`, not the name of a built-in plugin"
    )]
    BadName(String),
    /// The name is taken by other bytes.
    #[error(
        "tenant `{tenant}` already has a component named `{name}` with other content; upload it under a new name (e.g. `{name}-2`)"
    )]
    NameTaken {
        /// The tenant.
        tenant: String,
        /// The name.
        name: String,
    },
    /// Over the tenant's component count or bytes.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// Not a component of the world, or not compiled within the budget.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// It could not be kept in the node's database.
    #[error("the component could not be stored: {0}")]
    Storage(#[from] PersistError),
}

/// An accepted upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uploaded {
    /// The tenant's name for it.
    pub name: String,
    /// SHA-256 of its bytes, hex.
    pub hash: String,
    /// Its size, bytes.
    pub size: u64,
    /// Whether it was compiled now (`false`: the node had it already).
    pub compiled: bool,
    /// How long the node took, from receiving the bytes to ready.
    pub took_ms: f64,
}

/// The node's uploaded components.
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    policy: RwLock<UploadPolicy>,
    state: Mutex<State>,
    /// One compilation at a time: uploads wait for each other rather than
    /// share the CPU the node's agents run on.
    compiling: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    /// tenant -> name -> (hash, size).
    names: HashMap<String, BTreeMap<String, (String, u64)>>,
    /// hash -> the loaded plugin.
    plugins: HashMap<String, Plugin>,
}

const PREFIX: &str = "sha256:";

impl Node {
    /// How uploads are limited and compiled from now on.
    pub fn set_upload_policy(&self, policy: UploadPolicy) {
        *self.inner.uploads.policy.write().unwrap() = policy;
    }

    /// The largest component an upload may be, bytes.
    pub fn upload_limit(&self) -> u64 {
        self.inner.uploads.policy.read().unwrap().max_bytes
    }

    /// Checks, compiles and keeps `bytes` as tenant `tenant`'s component
    /// `name`. Blocks while compiling (call it off the async workers).
    pub fn upload(&self, tenant: &str, name: &str, bytes: &[u8]) -> Result<Uploaded, UploadError> {
        let start = Instant::now();
        let uploads = &self.inner.uploads;
        let policy = uploads.policy.read().unwrap().clone();
        if bytes.len() as u64 > policy.max_bytes {
            return Err(UploadError::TooLarge {
                size: bytes.len() as u64,
                max: policy.max_bytes,
            });
        }
        check_name(name)?;
        let hash = hex(&Sha256::digest(bytes));
        let size = bytes.len() as u64;
        let quotas = self.tenant(tenant).map(|t| t.quotas).unwrap_or_default();
        let limits = (
            quotas.components.unwrap_or(policy.max_components),
            quotas.component_bytes.unwrap_or(policy.max_total_bytes),
        );
        let done = |compiled| Uploaded {
            name: name.to_string(),
            hash: hash.clone(),
            size,
            compiled,
            took_ms: start.elapsed().as_secs_f64() * 1e3,
        };
        let loaded = {
            let state = uploads.state.lock().unwrap();
            if admit(&state, tenant, name, &hash, size, limits)? {
                return Ok(done(false));
            }
            state.plugins.get(&hash).cloned()
        };
        let compiled = loaded.is_none();
        let plugin = match loaded {
            Some(plugin) => plugin,
            None => {
                let _one = uploads.compiling.lock().unwrap();
                Plugin::from_untrusted(
                    self.engine(),
                    &format!("{PREFIX}{hash}"),
                    name,
                    bytes,
                    &*policy.compiler,
                )?
            }
        };
        {
            // Checked again under the same lock as the insert: another
            // upload of this tenant may have come first meanwhile.
            let mut state = uploads.state.lock().unwrap();
            if admit(&state, tenant, name, &hash, size, limits)? {
                return Ok(done(false));
            }
            state.plugins.insert(hash.clone(), plugin);
            state
                .names
                .entry(tenant.to_string())
                .or_default()
                .insert(name.to_string(), (hash.clone(), size));
        }
        let record = ComponentRecord {
            tenant: tenant.to_string(),
            name: name.to_string(),
            hash: hash.clone(),
            size,
        };
        if let Some(db) = &self.inner.db
            && let Err(e) = db.put_component(&record, bytes)
        {
            let mut state = uploads.state.lock().unwrap();
            if let Some(names) = state.names.get_mut(tenant) {
                names.remove(name);
            }
            return Err(e.into());
        }
        Ok(done(compiled))
    }

    /// Tenant `tenant`'s uploaded component `name`, ready to spawn.
    pub fn uploaded(&self, tenant: &str, name: &str) -> Option<Plugin> {
        let state = self.inner.uploads.state.lock().unwrap();
        let (hash, _) = state.names.get(tenant)?.get(name)?;
        state.plugins.get(hash).cloned()
    }

    /// Tenant `tenant`'s components: name -> (hash, size).
    pub fn uploads_of(&self, tenant: &str) -> BTreeMap<String, (String, u64)> {
        let state = self.inner.uploads.state.lock().unwrap();
        state.names.get(tenant).cloned().unwrap_or_default()
    }

    /// The uploaded plugin an agent record names (`sha256:HEX`), if that
    /// tenant uploaded it.
    pub(super) fn uploaded_by_hash(&self, tenant: &str, plugin: &str) -> Option<Plugin> {
        let hash = plugin.strip_prefix(PREFIX)?;
        let state = self.inner.uploads.state.lock().unwrap();
        let owns = state
            .names
            .get(tenant)
            .is_some_and(|m| m.values().any(|(h, _)| h == hash));
        owns.then(|| state.plugins.get(hash).cloned()).flatten()
    }

    /// Loads the components kept in the database (before agents are
    /// restored: theirs must be there). One that no longer loads is
    /// reported and skipped.
    pub(super) fn restore_uploads(&self) -> Result<Vec<(String, String)>, PersistError> {
        let Some(db) = &self.inner.db else {
            return Ok(Vec::new());
        };
        let policy = self.inner.uploads.policy.read().unwrap().clone();
        let mut failed = Vec::new();
        for record in db.components()? {
            let label = format!("component {}/{}", record.tenant, record.name);
            let loaded = self
                .inner
                .uploads
                .state
                .lock()
                .unwrap()
                .plugins
                .get(&record.hash)
                .cloned();
            let plugin = match loaded {
                Some(p) => Ok(p),
                None => match db.component_bytes(&record.hash)? {
                    Some(bytes) => Plugin::from_untrusted(
                        self.engine(),
                        &format!("{PREFIX}{}", record.hash),
                        &record.name,
                        &bytes,
                        &*policy.compiler,
                    )
                    .map_err(|e| e.to_string()),
                    None => Err("its bytes are missing from the database".to_string()),
                },
            };
            match plugin {
                Ok(plugin) => {
                    let mut state = self.inner.uploads.state.lock().unwrap();
                    state.plugins.insert(record.hash.clone(), plugin);
                    state
                        .names
                        .entry(record.tenant)
                        .or_default()
                        .insert(record.name, (record.hash, record.size));
                }
                Err(why) => failed.push((label, why)),
            }
        }
        Ok(failed)
    }
}

/// `Ok(true)` if the tenant has this very component under this name
/// already; `Ok(false)` if it may add it within `(count, bytes)`; else why
/// not.
fn admit(
    state: &State,
    tenant: &str,
    name: &str,
    hash: &str,
    size: u64,
    (max_count, max_bytes): (u64, u64),
) -> Result<bool, UploadError> {
    let mine = state.names.get(tenant);
    if let Some((held, _)) = mine.and_then(|m| m.get(name)) {
        if held == hash {
            return Ok(true);
        }
        return Err(UploadError::NameTaken {
            tenant: tenant.to_string(),
            name: name.to_string(),
        });
    }
    let count = mine.map_or(0, BTreeMap::len) as u64;
    let bytes: u64 = mine.map_or(0, |m| m.values().map(|(_, s)| s).sum());
    let over = |quota: &'static str, detail: String| {
        Err(UploadError::Quota(QuotaError {
            tenant: tenant.to_string(),
            quota,
            detail,
        }))
    };
    if count + 1 > max_count {
        return over(
            "components",
            format!("it has {count} components, the quota allows {max_count}"),
        );
    }
    if bytes + size > max_bytes {
        return over(
            "component_bytes",
            format!(
                "its components hold {bytes} bytes, this one adds {size}, the quota allows {max_bytes}"
            ),
        );
    }
    Ok(false)
}

fn check_name(name: &str) -> Result<(), UploadError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
        && crate::host::builtin::bytes(name).is_none();
    if ok {
        Ok(())
    } else {
        Err(UploadError::BadName(name.to_string()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_plain_and_not_a_builtins() {
        for good in ["my_agent", "a", "v1.2-x"] {
            check_name(good).unwrap();
        }
        for bad in ["", "echo", "../x", "a/b", "x@y", ".hidden", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
