//! Starting what the commands share: a node sized and kept as `NodeArgs`
//! say (durable and restored with a data dir, uploads compiled in a child
//! process), and a client's connection.

use std::path::PathBuf;

use anyhow::Context;
use caxton::host::{AmbientFiles, CaxtonEngine, EngineOptions, MemoryLayout};
use caxton::node::{Node, RestoreReport, UploadPolicy};
use caxton::persist::Db;

use super::{NodeArgs, compile};

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("caxton"))
}

/// A client's connection to a node, on a runtime of one worker (which
/// keeps the connection's own tasks running while this thread waits).
pub(crate) fn connect_client(
    addr: std::net::SocketAddr,
    fingerprint: &str,
    token: &str,
) -> anyhow::Result<(tokio::runtime::Runtime, caxton::net::client::RemoteNode)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let client = rt
        .block_on(caxton::net::client::RemoteNode::connect(
            addr,
            fingerprint,
            token,
        ))
        .with_context(|| format!("connecting to {addr}"))?;
    Ok((rt, client))
}

/// A started node and what came with it.
pub(crate) struct Started {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) node: Node,
    /// What restoring a durable node brought back.
    pub(crate) restore: Option<RestoreReport>,
    /// The config's `[tokens]`: token per tenant, for a listener.
    pub(crate) tokens: std::collections::BTreeMap<String, String>,
    /// The config's `[peers]`: `HOST:PORT#FINGERPRINT` per peer name.
    pub(crate) peers: std::collections::BTreeMap<String, String>,
}

impl Started {
    /// The listener's token -> tenant map: the config's tokens, plus
    /// `extra` (token, tenant) if given.
    pub(crate) fn token_map(
        &self,
        extra: Option<(&str, &str)>,
    ) -> std::collections::HashMap<String, String> {
        self.tokens
            .iter()
            .map(|(tenant, token)| (token.clone(), tenant.clone()))
            .chain(extra.map(|(token, tenant)| (token.to_string(), tenant.to_string())))
            .collect()
    }
}

/// Starts the runtime and the node (durable and restored with a data dir).
pub(crate) fn start_node(args: &NodeArgs, quiet: bool) -> anyhow::Result<Started> {
    start_node_then(args, quiet, |_| Ok(()))
}

/// [`start_node`], running `before_restore` on the runtime once it exists
/// and before stored agents are restored (a served node's health listener
/// answers while a long restore runs).
pub(crate) fn start_node_then(
    args: &NodeArgs,
    quiet: bool,
    before_restore: impl FnOnce(&tokio::runtime::Runtime) -> anyhow::Result<()>,
) -> anyhow::Result<Started> {
    // A bad config stops the start before anything runs.
    let mut config = caxton::core::tenant::NodeConfig::default();
    for file in &args.config {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the config {}", file.display()))?;
        let part = caxton::core::tenant::parse_node_config(&text)
            .with_context(|| format!("in the config {}", file.display()))?;
        config
            .merge(part)
            .with_context(|| format!("in the config {}", file.display()))?;
    }
    let tenants = &config.tenants;
    let apply = |node: &Node| -> anyhow::Result<()> {
        for (name, tenant) in tenants {
            node.set_tenant(name, tenant.clone())?;
        }
        Ok(())
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("caxton-worker");
    if let Some(n) = args.workers {
        builder.worker_threads(n.into());
    }
    let runtime = builder.build().context("starting the tokio runtime")?;
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    let engine = CaxtonEngine::new(EngineOptions {
        max_agents: args.max_agents,
        max_memory: args.max_memory,
        fuel: args.fuel,
        cache_dir,
        memory_layout: if args.compact_memory {
            MemoryLayout::Compact
        } else {
            MemoryLayout::Guarded
        },
        // The one place the process lends its own file access to the
        // library: component files and data dirs the user names.
        files: std::sync::Arc::new(AmbientFiles::new(cap_std::ambient_authority())),
        ..EngineOptions::default()
    })
    .context("starting the node")?;
    before_restore(&runtime)?;
    let uploads = UploadPolicy {
        max_bytes: args.max_upload,
        max_components: args.max_components,
        max_total_bytes: args.max_component_bytes,
        compiler: std::sync::Arc::new(compile::ChildCompiler {
            exe: std::env::current_exe().context("finding this program, to compile uploads")?,
            budget: args.compile_budget,
            memory: args.compile_memory,
        }),
    };
    let Some(dir) = &args.data_dir else {
        let node = Node::new(engine, runtime.handle().clone());
        node.set_upload_policy(uploads);
        apply(&node)?;
        return Ok(Started {
            runtime,
            node,
            restore: None,
            tokens: config.tokens,
            peers: config.peers,
        });
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))?;
    let db = Db::open(&dir.join("node.db"))?;
    let node = Node::durable(engine, runtime.handle().clone(), db);
    node.set_upload_policy(uploads);
    apply(&node)?;
    let report = runtime.block_on(node.restore())?;
    if !quiet && (report.restored > 0 || !report.failed.is_empty()) {
        eprintln!(
            "restored {} agents from {} in {:.1} ms",
            report.restored,
            dir.display(),
            report.took.as_secs_f64() * 1e3
        );
    }
    for (agent, why) in &report.failed {
        eprintln!("warning: agent {agent} could not be restored: {why}");
    }
    Ok(Started {
        runtime,
        node,
        restore: Some(report),
        tokens: config.tokens,
        peers: config.peers,
    })
}
