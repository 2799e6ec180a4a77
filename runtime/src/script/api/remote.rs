//! Remote nodes from a script: `connect` and `serve` (the agent functions
//! are the same for agents there: `spawn.rs`, `agent.rs`).

use std::net::SocketAddr;

use rhai::{Dynamic, Engine, Map};

use super::agent::Agent;
use super::options::int;
use super::threads;
use super::{Fallible, fail};
use crate::net::client::RemoteNode;
use crate::net::server::{Server, ServerOptions};
use crate::net::tls::{Identity, new_token};
use crate::node::{DEFAULT_TENANT, Node, Uploaded};
use crate::script::context::{ScriptContext, Served};

pub(crate) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    engine
        .register_type_with_name::<RemoteNode>("RemoteNode")
        .register_get("name", |n: &mut RemoteNode| n.name().to_string())
        .register_get("addr", |n: &mut RemoteNode| n.addr().to_string())
        .register_fn("to_string", |n: &mut RemoteNode| {
            format!("node({}@{})", n.name(), n.addr())
        });
    let c = ctx.clone();
    engine.register_fn(
        "connect",
        move |addr: &str, opts: Map| -> Fallible<RemoteNode> { connect(&c, addr, &opts) },
    );
    let c = ctx.clone();
    engine.register_fn("serve", move || -> Fallible<Map> { serve(&c, &Map::new()) });
    let c = ctx.clone();
    engine.register_fn("serve", move |opts: Map| -> Fallible<Map> {
        serve(&c, &opts)
    });
    engine.register_fn("close", |n: &mut RemoteNode| n.close());
    engine.register_fn("path_stats", |n: &mut RemoteNode| -> Map {
        let p = n.path_stats();
        Map::from_iter([
            ("rtt".into(), Dynamic::from(p.rtt.as_secs_f64() * 1e9)),
            ("cwnd".into(), int(p.cwnd)),
            ("sent_packets".into(), int(p.sent_packets)),
            ("lost_packets".into(), int(p.lost_packets)),
            ("congestion_events".into(), int(p.congestion_events)),
            ("datagrams_in".into(), int(p.datagrams_in)),
            ("datagrams_out".into(), int(p.datagrams_out)),
        ])
    });
    engine
        .register_type_with_name::<Uploaded>("Upload")
        .register_get("name", |u: &mut Uploaded| u.name.clone())
        .register_get("hash", |u: &mut Uploaded| u.hash.clone())
        .register_get("size", |u: &mut Uploaded| int(u.size))
        .register_get("compiled", |u: &mut Uploaded| u.compiled)
        .register_get("took_ns", |u: &mut Uploaded| (u.took_ms * 1e6) as i64)
        .register_fn("to_string", |u: &mut Uploaded| {
            format!("plugin({} on a node)", u.name)
        });
    // plugin(node, "my_agent.wasm"): uploads the file for this connection's
    // tenant (as `my_agent`); spawn(node, that, ...) then spawns it there.
    let c = ctx.clone();
    engine.register_fn(
        "plugin",
        move |node: RemoteNode, path: &str| -> Fallible<Uploaded> { upload(&c, &node, path, None) },
    );
    let c = ctx.clone();
    engine.register_fn(
        "plugin",
        move |node: RemoteNode, path: &str, name: &str| -> Fallible<Uploaded> {
            upload(&c, &node, path, Some(name))
        },
    );
    engine.register_fn("agent", |n: &mut RemoteNode, name: &str| Agent::Remote {
        node: n.clone(),
        name: name.to_string(),
    });
}

/// Reads `path` (through the files the program lends the script) and
/// uploads it to `node` as `name` (default: the file's name without
/// `.wasm`).
fn upload(
    ctx: &ScriptContext,
    node: &RemoteNode,
    path: &str,
    name: Option<&str>,
) -> Fallible<Uploaded> {
    let bytes = ctx
        .node
        .engine()
        .options()
        .files
        .component(path)
        .map_err(|e| fail(format!("plugin(node, `{path}`): cannot read the file: {e}")))?;
    let stem = std::path::Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(path);
    let name = name.unwrap_or(stem);
    ctx.node
        .runtime()
        .block_on(node.upload(name, &bytes, std::time::Duration::from_secs(600)))
        .map_err(|e| fail(format!("plugin(node, `{path}`): the node refused it: {e}")))
}

fn connect(ctx: &ScriptContext, addr: &str, opts: &Map) -> Fallible<RemoteNode> {
    let text = |key: &str| -> Fallible<Option<String>> {
        match opts.get(key) {
            None => Ok(None),
            Some(v) => v.clone().into_string().map(Some).map_err(|t| {
                fail(format!(
                    "connect option `{key}`: expected a string, got {t}"
                ))
            }),
        }
    };
    for key in opts.keys() {
        if !["fingerprint", "token", "name", "addr", "tenant", "workers"].contains(&key.as_str()) {
            return Err(fail(format!(
                "unknown connect option `{key}`: the options are fingerprint, token, name, workers (the map serve() returns is accepted as is)"
            )));
        }
    }
    let addr: SocketAddr = addr.parse().map_err(|e| {
        fail(format!(
            "connect: `{addr}` is not an address like 127.0.0.1:7700 ({e})"
        ))
    })?;
    let fingerprint = text("fingerprint")?.ok_or_else(|| {
        fail("connect: the option `fingerprint` is required (caxton-run serve prints it)")
    })?;
    let token = text("token")?.ok_or_else(|| {
        fail("connect: the option `token` is required (caxton-run serve prints it)")
    })?;
    let remote = threads::runtime_for(ctx, opts.get("workers"), "connect", "client")?
        .block_on(RemoteNode::connect(addr, &fingerprint, &token))
        .map_err(fail)?;
    // Agents of the script's node reach it as `name@peer`.
    let peer = text("name")?.unwrap_or_else(|| remote.name().to_string());
    ctx.node.link(DEFAULT_TENANT, &peer, remote.clone());
    Ok(remote)
}

fn serve(ctx: &ScriptContext, opts: &Map) -> Fallible<Map> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut name = None;
    let mut tenant = DEFAULT_TENANT.to_string();
    let mut workers = None;
    for (key, value) in opts {
        if key == "workers" {
            workers = Some(value);
            continue;
        }
        let value = value
            .clone()
            .into_string()
            .map_err(|t| fail(format!("serve option `{key}`: expected a string, got {t}")))?;
        match key.as_str() {
            "listen" => listen = value,
            "name" => name = Some(value),
            "tenant" => tenant = value,
            other => {
                return Err(fail(format!(
                    "unknown serve option `{other}`: the options are listen, name, tenant, workers"
                )));
            }
        }
    }
    let listen: SocketAddr = listen.parse().map_err(|e| {
        fail(format!(
            "serve option `listen`: `{listen}` is not an address ({e})"
        ))
    })?;
    let mut served = ctx.served.lock().unwrap();
    let name = name.unwrap_or_else(|| format!("node-{}", served.len() + 1));
    let identity = Identity::generate().map_err(fail)?;
    let token = new_token().map_err(fail)?;
    let rt = threads::runtime_for(ctx, workers, "serve", &name)?;
    let node = Node::new(ctx.node.engine().clone(), rt);
    let mut options = ServerOptions::new(listen, &token, &tenant);
    options.name = name.clone();
    let server = Server::start(node.clone(), &identity, options).map_err(fail)?;
    let mut m = Map::new();
    m.insert("addr".into(), server.local_addr().to_string().into());
    m.insert(
        "fingerprint".into(),
        server.fingerprint().to_string().into(),
    );
    m.insert("token".into(), token.into());
    m.insert("name".into(), name.into());
    m.insert("tenant".into(), tenant.into());
    served.push(Served(server, node));
    Ok(m)
}
