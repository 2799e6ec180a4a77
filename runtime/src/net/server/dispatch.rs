//! A tenant's frames: requests, sends, spawns, stops, observations and
//! load shares, each within the connection's tenant.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::roles::observation;
use super::{Shared, failed};
use crate::core::frame::{Frame, MAX_PAYLOAD};
use crate::core::spawn::SpawnSpec;
use crate::measure::load::distributed::Share;
use crate::node::{AgentHandle, Node, SpawnOptions};

/// Serves one frame. A request's reply is written by the callback that
/// receives it (no task per request); `permit` is held until then.
pub(super) async fn dispatch(
    shared: &Arc<Shared>,
    tenant: &str,
    frame: Frame,
    tx: &mpsc::UnboundedSender<Frame>,
    permit: OwnedSemaphorePermit,
) {
    let node = &shared.node;
    let find = |name: &str| -> Result<AgentHandle, String> {
        node.agent(tenant, name)
            .ok_or_else(|| format!("no agent named `{name}` in tenant `{tenant}`"))
    };
    let answer = match frame {
        Frame::Request {
            req,
            hops,
            to,
            payload,
        } => match find(&to) {
            Ok(agent) => {
                let tx = tx.clone();
                let started = Instant::now();
                let shared = shared.clone();
                node.forwarded_request(&agent, payload.to_vec(), hops, move |result| {
                    let answer = match result {
                        Ok(reply) if reply.len() > MAX_PAYLOAD => failed(
                            req,
                            format!(
                                "`{to}` replied {} bytes, over the {MAX_PAYLOAD} bytes a reply frame carries",
                                reply.len()
                            ),
                        ),
                        Ok(reply) => Frame::Reply {
                            req,
                            payload: Bytes::from(reply),
                        },
                        Err(e) => failed(req, e),
                    };
                    let _ = tx.send(answer);
                    shared
                        .counters
                        .latency
                        .observe(started.elapsed().as_secs_f64());
                    drop(permit);
                });
                return;
            }
            Err(e) => failed(req, e),
        },
        Frame::Send { to, payload } => {
            match find(&to).and_then(|a| a.send(payload.to_vec()).map_err(|e| e.to_string())) {
                Ok(()) => return,
                Err(e) => failed(0, e),
            }
        }
        Frame::Spawn {
            req,
            plugin,
            options,
        } => match spawn(node, tenant, &plugin, &options).await {
            Ok(name) => Frame::Spawned { req, name },
            Err(e) => failed(req, e),
        },
        Frame::Stop { req, name, kill } => match find(&name) {
            Ok(agent) => {
                if kill {
                    agent.kill()
                } else {
                    agent.stop()
                }
                Frame::Reply {
                    req,
                    payload: Bytes::new(),
                }
            }
            Err(e) => failed(req, e),
        },
        Frame::Observe { req, tenant: asked } => {
            if asked.is_empty() || asked == tenant {
                observation(shared, req, Some(tenant), false)
            } else {
                failed(
                    req,
                    format!(
                        "a tenant's token observes its own tenant (`{tenant}`) only; `{asked}` needs the operator token"
                    ),
                )
            }
        }
        Frame::Load { req, share } => {
            let (node, tenant, tx) = (node.clone(), tenant.to_string(), tx.clone());
            let name = shared.options.name.clone();
            tokio::spawn(async move {
                let ran = tokio::task::spawn_blocking(move || {
                    let share: Share = serde_json::from_str(&share)
                        .map_err(|e| format!("the load share is not readable: {e}"))?;
                    node.run_share(&tenant, &share)
                })
                .await
                .map_err(|e| format!("the load share failed: {e}"))
                .and_then(|r| r);
                let answer = match ran {
                    Ok(mut result) => {
                        result.node = name;
                        Frame::Reply {
                            req,
                            payload: Bytes::from(
                                serde_json::to_vec(&result).expect("a share result serializes"),
                            ),
                        }
                    }
                    Err(e) => failed(req, format!("on node `{name}`: {e}")),
                };
                let _ = tx.send(answer);
                drop(permit);
            });
            return;
        }
        other => failed(0, format!("a client may not send {other:?}")),
    };
    let _ = tx.send(answer);
    drop(permit);
}

/// Spawns for a remote client: its tenant's uploaded components and the
/// built-in plugins only (a client must not make the node read files),
/// always in the client's own tenant.
async fn spawn(node: &Node, tenant: &str, plugin: &str, options: &str) -> Result<String, String> {
    if plugin.contains('/') || plugin.contains('\\') || plugin.ends_with(".wasm") {
        return Err(
            "remote clients spawn built-in plugins and their own uploaded components (caxton-run deploy), not component files"
                .into(),
        );
    }
    let spec = if options.trim().is_empty() {
        SpawnSpec::default()
    } else {
        serde_json::from_str(options)
            .map_err(|e| format!("spawn options are not JSON: {e}"))
            .and_then(|v| SpawnSpec::parse(v).map_err(|e| e.to_string()))?
    };
    let mut spawn = SpawnOptions::from(spec);
    if spawn.tenant.as_deref().is_some_and(|t| t != tenant) {
        return Err(format!(
            "spawn option `tenant`: a client spawns in its own tenant (`{tenant}`), decided by its token"
        ));
    }
    spawn.tenant = Some(tenant.to_string());
    let plugin = match node.uploaded(tenant, plugin) {
        Some(uploaded) => uploaded,
        None => node.plugin(plugin).map_err(|e| e.to_string())?,
    };
    node.spawn(&plugin, spawn)
        .await
        .map(|a| a.name().to_string())
        .map_err(|e| e.to_string())
}
