//! The node config file that defines tenants. Sans-IO: the binary reads
//! the file, this parses and checks it.

use std::collections::BTreeMap;

use super::{TENANT_KEYS, Tenant};

/// Why a config file or tenant definition is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The node config file (TOML):
///
/// ```toml
/// [tenants.acme]
/// max_agents = 100
/// memory = "16MiB"
/// total_memory = "512MiB"
/// deadline = "50ms"
/// mailbox = 256
/// max_message = "64KiB"
/// rate = 10000
/// workers = 1                     # never more than one worker thread at once
/// data_dir = "/srv/caxton/acme"   # seen by its agents as /data
/// grants = ["billing"]            # its agents may send to billing/NAME
/// priority = "background"         # runs only on CPU the others leave idle
/// ```
///
/// Unknown tables and keys are errors, so a typo never silently means
/// "unlimited".
pub fn parse_config(text: &str) -> Result<BTreeMap<String, Tenant>, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError(format!("not valid TOML: {e}")))?;
    let mut tenants = BTreeMap::new();
    for (key, value) in table {
        if key != "tenants" {
            return Err(ConfigError(format!(
                "unknown key `{key}`: the config has only [tenants.NAME] tables"
            )));
        }
        let toml::Value::Table(all) = value else {
            return Err(ConfigError(
                "`tenants` must be tables: [tenants.NAME]".into(),
            ));
        };
        for (name, quotas) in all {
            crate::core::name::check(&name)
                .map_err(|e| ConfigError(format!("[tenants.{name}]: {e}")))?;
            let toml::Value::Table(keys) = quotas else {
                return Err(ConfigError(format!(
                    "tenants.{name} must be a table ({TENANT_KEYS})"
                )));
            };
            let t = crate::core::options::to_value("tenant", &keys)
                .and_then(Tenant::parse)
                .map_err(|e| ConfigError(format!("[tenants.{name}] {e}")))?;
            tenants.insert(name, t);
        }
    }
    Ok(tenants)
}
