//! `caxton-run deploy FILE --node ADDR --fingerprint F --token T`: uploads
//! a component to a served node for the token's tenant.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use caxton::measure::stats::human_bytes;
use clap::Args;

use super::{duration_arg, exit};

/// Uploading a component.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// The component file (e.g. target/wasm32-wasip2/release/my_agent.wasm).
    file: PathBuf,

    /// The node's QUIC address (what `serve` printed).
    #[arg(long)]
    node: SocketAddr,

    /// The node's certificate fingerprint (printed by `serve`).
    #[arg(long)]
    fingerprint: String,

    /// Your tenant's token: the component is visible to that tenant only.
    #[arg(long)]
    token: String,

    /// The name to spawn it by [default: the file's name without .wasm].
    #[arg(long)]
    name: Option<String>,

    /// How long to wait for the upload and its compilation.
    #[arg(long, default_value = "5m", value_parser = duration_arg)]
    timeout: Duration,
}

/// Uploads and prints the receipt.
pub(crate) fn run(args: DeployArgs) -> anyhow::Result<u8> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("reading the component {}", args.file.display()))?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.file)?,
    };
    let (rt, client) = super::connect_client(args.node, &args.fingerprint, &args.token)?;
    let start = Instant::now();
    let receipt = rt.block_on(client.upload(&name, &bytes, args.timeout));
    client.close();
    match receipt {
        Ok(r) => {
            let how = if r.compiled {
                format!("compiled by the node in {:.2} s", r.took_ms / 1e3)
            } else {
                "the node had it already".to_string()
            };
            println!(
                "deployed `{}` ({}, sha256 {}) to {}: {how}; {:.2} s in all",
                r.name,
                human_bytes(r.size),
                &r.hash[..16],
                args.node,
                start.elapsed().as_secs_f64()
            );
            println!(
                "spawn it: spawn(connect(...), \"{}\", #{{ name: \"...\" }})",
                r.name
            );
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("the node refused `{name}`: {e}");
            Ok(exit::ERROR)
        }
    }
}

/// `dir/my_agent.wasm` -> `my_agent`.
pub(crate) fn default_name(file: &std::path::Path) -> anyhow::Result<String> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .with_context(|| {
            format!(
                "{} has no file name to deploy it as; give --name",
                file.display()
            )
        })
}
