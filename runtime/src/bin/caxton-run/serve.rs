//! `caxton-run serve`: a node that clients reach over QUIC.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use caxton::net::server::{Server, ServerOptions};
use caxton::net::tls::Identity;
use clap::Args;

use caxton::net::health::Health;
use caxton::net::peering::{Peer, PeerSpec};

use super::{LogFormat, NodeArgs, exit, start_node_then};

/// Running a node.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (UDP); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7700")]
    listen: SocketAddr,

    /// Serve Prometheus metrics at http://ADDR/metrics (agents per plugin,
    /// messages in/out, request latency, connections, auth failures, agent
    /// failures by reason), and the probes /healthz (the process answers)
    /// and /readyz (identity loaded, agents restored, listening, not
    /// shutting down). It answers from the start, while agents are restored.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,

    /// Read this node's certificate and key from DIR/NAME.cert.der and
    /// DIR/NAME.key.der (NAME: --name), made by `caxton-run identity`,
    /// instead of the data dir: a cluster's identities are made once and
    /// handed to its nodes (a Kubernetes Secret), so their fingerprints can
    /// be written in every node's [peers] beforehand.
    #[arg(long, value_name = "DIR")]
    identity_dir: Option<std::path::PathBuf>,

    /// A peer node, NAME=HOST:PORT#FINGERPRINT (repeatable; also the
    /// config's [peers]): agents of every tenant reach their tenant's
    /// agents there as `agent@NAME`. The link reconnects with backoff while
    /// the peer is away; messages to it meanwhile are refused with an error.
    #[arg(long = "peer", value_name = "NAME=HOST:PORT#FINGERPRINT")]
    peers: Vec<String>,

    /// The cluster's peer token: this node presents it to its peers and
    /// accepts it from them (the same on every node; at least 16
    /// characters). Needed with peers.
    #[arg(long, env = "CAXTON_PEER_TOKEN", hide_env_values = true)]
    peer_token: Option<String>,

    /// How log lines (one per lifecycle event, plus warnings) are written
    /// on stderr: text, or json (one object per line). CAXTON_LOG filters.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,

    /// The node's name, told to clients in the handshake; peers reach its
    /// agents as `agent@NAME`.
    #[arg(long, default_value = "caxton")]
    name: String,

    /// The tenant the token authenticates as.
    #[arg(long, default_value = caxton::node::DEFAULT_TENANT)]
    tenant: String,

    #[command(flatten)]
    node: NodeArgs,
}

/// Runs the node until Ctrl-C (or, on Unix, SIGTERM).
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<u8> {
    tracing::info!(target: "caxton::lifecycle", event = "starting", name = %args.name, version = env!("CARGO_PKG_VERSION"), "starting");
    let health = Health::new();
    let (identity, token, operator) = match &args.node.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data dir {}", dir.display()))?;
            let identity = match &args.identity_dir {
                Some(from) => super::identity::read(from, &args.name)?,
                None => load_or_create_identity(dir)?,
            };
            // What `top --data-dir` pins, wherever the identity came from.
            std::fs::write(dir.join(FINGERPRINT), identity.fingerprint())
                .with_context(|| format!("writing {}", dir.join(FINGERPRINT).display()))?;
            (
                identity,
                load_or_create_token(&dir.join("token"))?,
                load_or_create_token(&dir.join(OPERATOR_TOKEN))?,
            )
        }
        None => (
            match &args.identity_dir {
                Some(from) => super::identity::read(from, &args.name)?,
                None => Identity::generate()?,
            },
            new_token()?,
            new_token()?,
        ),
    };
    health.identity_loaded();
    tracing::info!(target: "caxton::lifecycle", event = "identity", fingerprint = %identity.fingerprint(), "identity loaded");
    let mut metrics = None;
    let started = start_node_then(&args.node, false, |runtime| {
        if let Some(addr) = args.metrics {
            let bound = runtime
                .block_on(caxton::net::metrics::serve_metrics(addr, health.clone()))
                .with_context(|| format!("serving metrics on {addr}"))?;
            tracing::info!(target: "caxton::lifecycle", event = "metrics", addr = %bound, "serving /metrics, /healthz and /readyz");
            metrics = Some(bound);
        }
        Ok(())
    })?;
    health.restored();
    let (restored, failed) = started
        .restore
        .as_ref()
        .map_or((0, 0), |r| (r.restored, r.failed.len()));
    tracing::info!(target: "caxton::lifecycle", event = "restored", restored, failed, "agents restored");
    let stop = stop_signal(&started.runtime)?;
    let peers = peer_specs(&args, &started.peers)?;
    let mut options = ServerOptions::new(args.listen, &token, &args.tenant);
    options.tokens = started.token_map(Some((&token, &args.tenant)));
    options.operator_token = Some(operator.clone());
    options.peer_token = args.peer_token.clone();
    options.name = args.name.clone();
    let super::Started { runtime, node, .. } = started;
    let server = Server::start(node.clone(), &identity, options)?;
    let node_for_peers = node.clone();
    health.listening(node, server.counters().clone());
    tracing::info!(target: "caxton::lifecycle", event = "listening", addr = %server.local_addr(), fingerprint = %server.fingerprint(), "listening");
    let _peers: Vec<_> = peers
        .into_iter()
        .map(|spec| {
            println!("  peer:        {} at {}", spec.name, spec.addr);
            Peer::start(
                &node_for_peers,
                spec,
                args.peer_token.clone().unwrap_or_default(),
            )
        })
        .collect();
    tracing::info!(target: "caxton::lifecycle", event = "ready", "ready");
    println!(
        "caxton node `{}` listening on {}",
        args.name,
        server.local_addr()
    );
    println!("  fingerprint: {}", server.fingerprint());
    println!("  token:       {token}");
    println!("  tenant:      {}", args.tenant);
    println!("  operator:    {operator} (for `caxton-run top`: sees every tenant)");
    println!(
        "  udp buffer:  {} KiB (receive; raise net.core.rmem_max for more)",
        server.udp_buffer() >> 10
    );
    println!(
        "  workers:     {} (runtime threads; --workers sets them)",
        runtime.metrics().num_workers()
    );
    match &args.node.data_dir {
        Some(dir) => println!(
            "  data dir:    {} (identity, tokens and agents are kept there)",
            dir.display()
        ),
        None => println!(
            "  data dir:    none (a new identity and token each start; agents are not kept)"
        ),
    }
    if let Some(bound) = metrics {
        println!("  metrics:     http://{bound}/metrics");
        println!("  probes:      http://{bound}/healthz, http://{bound}/readyz");
    }
    println!(
        "connect from a script: connect(\"{}\", #{{ fingerprint: \"{}\", token: \"{token}\" }})",
        server.local_addr(),
        server.fingerprint()
    );
    println!("press Ctrl-C to stop");
    runtime.block_on(stop);
    health.draining();
    eprintln!("shutting down");
    tracing::info!(target: "caxton::lifecycle", event = "shutting-down", "shutting down");
    runtime.block_on(server.shutdown(std::time::Duration::from_secs(2)));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    tracing::info!(target: "caxton::lifecycle", event = "stopped", "stopped");
    Ok(exit::OK)
}

/// Resolves on Ctrl-C, and on Unix also on SIGTERM (how service managers
/// stop a process). The handlers are installed here, before the node
/// prints its address: a signal that comes while it is still starting stops
/// it cleanly too, instead of killing it before a handler exists.
fn stop_signal(
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<std::pin::Pin<Box<dyn Future<Output = ()>>>> {
    let _entered = runtime.enter();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        Ok(Box::pin(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }
}

fn load_or_create_identity(dir: &Path) -> anyhow::Result<Identity> {
    let cert = dir.join("identity.cert.der");
    let key = dir.join("identity.key.der");
    if cert.exists() && key.exists() {
        let identity = Identity::from_der(std::fs::read(&cert)?, std::fs::read(&key)?);
        identity
            .server_config()
            .with_context(|| format!("the identity in {} is unusable", dir.display()))?;
        return Ok(identity);
    }
    let identity = Identity::generate()?;
    let (cert_der, key_der) = identity.to_der();
    std::fs::write(&cert, cert_der)?;
    write_private(&key, &key_der)?;
    Ok(identity)
}

/// The node's certificate fingerprint, as text, in the data dir.
pub(crate) const FINGERPRINT: &str = "fingerprint";

/// The operator token's file in the data dir.
pub(crate) const OPERATOR_TOKEN: &str = "operator-token";

fn load_or_create_token(path: &Path) -> anyhow::Result<String> {
    if let Ok(token) = std::fs::read_to_string(path) {
        let token = token.trim().to_string();
        anyhow::ensure!(
            !token.is_empty(),
            "the token file {} is empty",
            path.display()
        );
        return Ok(token);
    }
    let token = new_token()?;
    write_private(path, token.as_bytes())?;
    Ok(token)
}

pub(crate) fn new_token() -> anyhow::Result<String> {
    Ok(caxton::net::tls::new_token()?)
}

/// Writes a secret readable by its owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// The peers of `--peer` and the config's `[peers]`, checked: each once,
/// and a peer token of a usable length when there are any.
fn peer_specs(
    args: &ServeArgs,
    config: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Vec<PeerSpec>> {
    let mut specs = Vec::new();
    for text in &args.peers {
        specs.push(PeerSpec::parse(text).map_err(|e| anyhow::anyhow!("--peer {e}"))?);
    }
    for (name, value) in config {
        specs.push(PeerSpec::with_name(name, value).map_err(|e| anyhow::anyhow!("[peers] {e}"))?);
    }
    let mut names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!(
            "peer `{}` is given twice (--peer and [peers] together)",
            twice[0]
        );
    }
    // One [peers] table can serve every node of a cluster: each skips
    // its own entry.
    specs.retain(|s| s.name != args.name);
    match &args.peer_token {
        Some(t) if t.len() < caxton::core::tenant::MIN_TOKEN_LEN => anyhow::bail!(
            "--peer-token must be at least {} characters",
            caxton::core::tenant::MIN_TOKEN_LEN
        ),
        None if !specs.is_empty() => anyhow::bail!(
            "peers need the cluster's --peer-token (or CAXTON_PEER_TOKEN), the same on every node"
        ),
        _ => Ok(specs),
    }
}
