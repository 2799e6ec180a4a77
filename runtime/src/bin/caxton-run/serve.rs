//! `caxton-run serve`: a node that clients reach over QUIC.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use caxton::net::server::{Server, ServerOptions};
use caxton::net::tls::Identity;
use clap::Args;

use super::{NodeArgs, exit, start_node};

/// Running a node.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (UDP); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7700")]
    listen: SocketAddr,

    /// Serve Prometheus metrics at http://ADDR/metrics (agents per plugin,
    /// messages in/out, request latency, connections, auth failures, agent
    /// failures by reason).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,

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
    let (identity, token, operator) = match &args.node.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data dir {}", dir.display()))?;
            (
                load_or_create_identity(dir)?,
                load_or_create_token(&dir.join("token"))?,
                load_or_create_token(&dir.join(OPERATOR_TOKEN))?,
            )
        }
        None => (Identity::generate()?, new_token()?, new_token()?),
    };
    let started = start_node(&args.node, false)?;
    let stop = stop_signal(&started.runtime)?;
    let mut options = ServerOptions::new(args.listen, &token, &args.tenant);
    options.tokens = started.token_map(Some((&token, &args.tenant)));
    options.operator_token = Some(operator.clone());
    options.name = args.name.clone();
    let super::Started { runtime, node, .. } = started;
    let server = Server::start(node.clone(), &identity, options)?;
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
    if let Some(addr) = args.metrics {
        let bound = runtime
            .block_on(caxton::net::metrics::serve_metrics(
                addr,
                node,
                server.counters().clone(),
            ))
            .with_context(|| format!("serving metrics on {addr}"))?;
        println!("  metrics:     http://{bound}/metrics");
    }
    println!(
        "connect from a script: connect(\"{}\", #{{ fingerprint: \"{}\", token: \"{token}\" }})",
        server.local_addr(),
        server.fingerprint()
    );
    println!("press Ctrl-C to stop");
    runtime.block_on(stop);
    eprintln!("shutting down");
    runtime.block_on(server.shutdown(std::time::Duration::from_secs(2)));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
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
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
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
