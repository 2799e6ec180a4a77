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
/// "unlimited". The tenants of [`parse_node_config`].
pub fn parse_config(text: &str) -> Result<BTreeMap<String, Tenant>, ConfigError> {
    parse_node_config(text).map(|c| c.tenants)
}

/// Shortest token a config may give a tenant.
pub const MIN_TOKEN_LEN: usize = 16;

/// Everything the node config file defines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeConfig {
    /// Tenants by name.
    pub tenants: BTreeMap<String, Tenant>,
    /// The token each tenant's clients present, by tenant (`[tokens]`):
    ///
    /// ```toml
    /// [tokens]
    /// acme = "a-long-random-secret"
    /// ```
    pub tokens: BTreeMap<String, String>,
    /// Peers a served node links to (`[peers]`), by name:
    /// `"HOST:PORT#FINGERPRINT"`, read by `net::peering::PeerSpec`.
    ///
    /// ```toml
    /// [peers]
    /// b = "caxton-1.caxton:7700#5e:..."
    /// ```
    pub peers: BTreeMap<String, String>,
}

impl NodeConfig {
    /// Adds another file's config; a tenant, token or peer defined in
    /// both is an error (which one should win is not for the node to guess).
    pub fn merge(&mut self, other: NodeConfig) -> Result<(), ConfigError> {
        fn add<V>(
            what: &str,
            into: &mut BTreeMap<String, V>,
            from: BTreeMap<String, V>,
        ) -> Result<(), ConfigError> {
            for (key, value) in from {
                if into.contains_key(&key) {
                    return Err(ConfigError(format!("{what} `{key}` is defined twice")));
                }
                into.insert(key, value);
            }
            Ok(())
        }
        add("[tenants] tenant", &mut self.tenants, other.tenants)?;
        add("[tokens] tenant", &mut self.tokens, other.tokens)?;
        add("[peers] peer", &mut self.peers, other.peers)?;
        let mut seen = std::collections::BTreeSet::new();
        for (tenant, token) in &self.tokens {
            if !seen.insert(token) {
                return Err(ConfigError(format!(
                    "[tokens] {tenant}: the same token as another tenant (a token decides the tenant, so each needs its own)"
                )));
            }
        }
        Ok(())
    }
}

/// The config file: `[tenants.NAME]` tables (see [`parse_config`]) and a
/// `[tokens]` table. A token shorter than [`MIN_TOKEN_LEN`] or given to
/// two tenants is an error.
pub fn parse_node_config(text: &str) -> Result<NodeConfig, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError(format!("not valid TOML: {e}")))?;
    let mut tenants = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    let mut peers = BTreeMap::new();
    for (key, value) in table {
        if key == "tokens" {
            tokens = parse_tokens(value)?;
            continue;
        }
        if key == "peers" {
            peers = parse_peers(value)?;
            continue;
        }
        if key != "tenants" {
            return Err(ConfigError(format!(
                "unknown key `{key}`: the config has only [tenants.NAME], [tokens] and [peers] tables"
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
    Ok(NodeConfig {
        tenants,
        tokens,
        peers,
    })
}

fn parse_peers(value: toml::Value) -> Result<BTreeMap<String, String>, ConfigError> {
    let toml::Value::Table(all) = value else {
        return Err(ConfigError(
            "`peers` must be a table: [peers] with NAME = \"HOST:PORT#FINGERPRINT\"".into(),
        ));
    };
    let mut peers = BTreeMap::new();
    for (name, spec) in all {
        crate::core::name::check(&name).map_err(|e| ConfigError(format!("[peers] {name}: {e}")))?;
        let toml::Value::String(spec) = spec else {
            return Err(ConfigError(format!(
                "[peers] {name}: expected \"HOST:PORT#FINGERPRINT\""
            )));
        };
        peers.insert(name, spec);
    }
    Ok(peers)
}

fn parse_tokens(value: toml::Value) -> Result<BTreeMap<String, String>, ConfigError> {
    let toml::Value::Table(all) = value else {
        return Err(ConfigError(
            "`tokens` must be a table: [tokens] with TENANT = \"TOKEN\"".into(),
        ));
    };
    let mut tokens = BTreeMap::new();
    for (tenant, token) in all {
        crate::core::name::check(&tenant)
            .map_err(|e| ConfigError(format!("[tokens] {tenant}: {e}")))?;
        let toml::Value::String(token) = token else {
            return Err(ConfigError(format!(
                "[tokens] {tenant}: the token must be a string"
            )));
        };
        if token.len() < MIN_TOKEN_LEN {
            return Err(ConfigError(format!(
                "[tokens] {tenant}: a token must be at least {MIN_TOKEN_LEN} characters (a guessable token lets anyone in as the tenant)"
            )));
        }
        if let Some((other, _)) = tokens.iter().find(|(_, t)| **t == token) {
            return Err(ConfigError(format!(
                "[tokens] {tenant}: the same token as `{other}` (a token decides the tenant, so each needs its own)"
            )));
        }
        tokens.insert(tenant, token);
    }
    Ok(tokens)
}
