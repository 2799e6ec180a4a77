//! One `Agent` type for scripts, wherever the agent lives: on the script's
//! own node (its handle, so a request can run inline on the script's
//! thread), or on a node reached over QUIC (through [`NodeApi`]). `send`, `request`, `stop`,
//! `kill`, `load` and the getters are registered once, on it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, NativeCallContext};

use super::{Fallible, fail, options};
use crate::host::raw::Uninterrupted;
use crate::net::client::RemoteNode;
use crate::node::{AgentHandle, NodeApi};
use crate::script::context::ScriptContext;

/// An agent as a script holds it.
#[derive(Debug, Clone)]
pub(crate) enum Agent {
    /// On the script's own node (or one it serves): its handle.
    Local(AgentHandle),
    /// On a remote node: the connection and its name there.
    Remote {
        /// The connection to its node.
        node: RemoteNode,
        /// Its name on that node.
        name: String,
    },
}

impl Agent {
    fn name(&self) -> String {
        match self {
            Agent::Local(a) => a.name().to_string(),
            Agent::Remote { name, .. } => name.clone(),
        }
    }

    /// The local handle, for what only a local agent offers; `what` names
    /// the function, for the error.
    pub(crate) fn local(&self, what: &str) -> Fallible<&AgentHandle> {
        match self {
            Agent::Local(a) => Ok(a),
            Agent::Remote { name, node } => Err(fail(format!(
                "{what}: `{name}` lives on the remote node `{}`; this needs an agent of the script's own node",
                node.name()
            ))),
        }
    }

    fn send(&self, ctx: &ScriptContext, payload: Vec<u8>) -> Fallible<()> {
        match self {
            Agent::Local(a) => a.send(payload).map_err(fail),
            Agent::Remote { node, name } => ctx
                .node
                .runtime()
                .block_on(NodeApi::send(node, name, payload))
                .map_err(fail),
        }
    }

    fn request(
        &self,
        ctx: &ScriptContext,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Fallible<Vec<u8>> {
        match self {
            Agent::Local(a) => a.request_blocking(payload, timeout).map_err(fail),
            Agent::Remote { node, name } => ctx
                .node
                .runtime()
                .block_on(NodeApi::request(node, name, payload, timeout))
                .map_err(fail),
        }
    }

    fn stop(&self, ctx: &ScriptContext, kill: bool) -> Fallible<()> {
        match self {
            Agent::Local(a) => {
                if kill {
                    a.kill();
                } else {
                    a.stop();
                }
                Ok(())
            }
            Agent::Remote { node, name } => {
                let rt = ctx.node.runtime();
                if kill {
                    rt.block_on(NodeApi::kill(node, name)).map_err(fail)
                } else {
                    rt.block_on(NodeApi::stop(node, name)).map_err(fail)
                }
            }
        }
    }
}

/// A local getter that a remote agent answers with `()` (the node it is
/// on keeps those figures to itself).
fn local_get<T: Into<Dynamic>>(
    engine: &mut Engine,
    name: &str,
    get: impl Fn(&AgentHandle) -> T + Send + Sync + 'static,
) {
    engine.register_get(name, move |a: &mut Agent| -> Dynamic {
        match a {
            Agent::Local(h) => get(h).into(),
            Agent::Remote { .. } => Dynamic::UNIT,
        }
    });
}

pub(super) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    engine
        .register_type_with_name::<Agent>("Agent")
        .register_get("name", |a: &mut Agent| a.name())
        .register_get("node", |a: &mut Agent| -> Dynamic {
            match a {
                Agent::Local(_) => Dynamic::UNIT,
                Agent::Remote { node, .. } => Dynamic::from(node.clone()),
            }
        })
        .register_fn("to_string", |a: &mut Agent| match a {
            Agent::Local(h) => format!("agent({})", h.name()),
            Agent::Remote { node, name } => format!("agent({name}@{})", node.name()),
        });
    local_get(engine, "tenant", |a| a.tenant().to_string());
    local_get(engine, "plugin", |a| a.plugin().to_string());
    local_get(engine, "status", |a| a.status().to_string());
    local_get(engine, "handled", |a| a.handled() as i64);
    local_get(engine, "queued", |a| a.queued() as i64);
    local_get(engine, "restarts", |a| a.restarts() as i64);
    local_get(engine, "last_failure", |a| -> Dynamic {
        a.last_failure()
            .map(|f| f.to_string().into())
            .unwrap_or(Dynamic::UNIT)
    });

    let c = ctx.clone();
    engine.register_fn(
        "send",
        move |agent: &mut Agent, payload: Dynamic| -> Fallible<()> {
            agent.send(&c, options::payload(payload).map_err(fail)?)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "request",
        move |ncx: NativeCallContext<'_>,
              agent: &mut Agent,
              payload: Dynamic|
              -> Fallible<Dynamic> {
            let bytes = options::payload(payload).map_err(fail)?;
            let reply = agent.request(&c, bytes, c.request_timeout)?;
            options::reply(ncx.engine(), reply).map_err(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "request",
        move |ncx: NativeCallContext<'_>,
              agent: &mut Agent,
              payload: Dynamic,
              timeout: Dynamic|
              -> Fallible<Dynamic> {
            let bytes = options::payload(payload).map_err(fail)?;
            let timeout: Duration = options::duration(&timeout).map_err(fail)?;
            let reply = agent.request(&c, bytes, timeout)?;
            options::reply(ncx.engine(), reply).map_err(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn("stop", move |agent: &mut Agent| agent.stop(&c, false));
    let c = ctx.clone();
    engine.register_fn("kill", move |agent: &mut Agent| agent.stop(&c, true));
    let c = ctx.clone();
    engine.register_fn("kill", move |agents: Array| -> Fallible<()> {
        for agent in agents {
            if let Some(agent) = agent.try_cast::<Agent>() {
                agent.stop(&c, true)?;
            }
        }
        Ok(())
    });

    // The host's own kernels in plain wasmtime without epoch checks
    // (`overhead.rhai`): WebAssembly's overhead apart from what deadlines add.
    let c = ctx.clone();
    engine
        .register_type_with_name::<UninterruptedAgent>("Uninterrupted")
        .register_fn(
            "uninterrupted",
            move |name: &str| -> Fallible<UninterruptedAgent> {
                let raw = Uninterrupted::builtin(c.node.engine(), name)
                    .map_err(|e| fail(format!("uninterrupted(\"{name}\"): {e:#}")))?;
                Ok(UninterruptedAgent(Arc::new(Mutex::new(raw))))
            },
        )
        .register_fn(
            "request",
            |ncx: NativeCallContext<'_>,
             agent: &mut UninterruptedAgent,
             payload: Dynamic|
             -> Fallible<Dynamic> {
                let bytes = options::payload(payload).map_err(fail)?;
                let reply = agent
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .request(bytes)
                    .map_err(|e| fail(format!("request to an uninterrupted instance: {e:#}")))?;
                options::reply(ncx.engine(), reply).map_err(fail)
            },
        );
}

/// A script's handle on an [`Uninterrupted`] instance.
#[derive(Clone)]
pub(crate) struct UninterruptedAgent(Arc<Mutex<Uninterrupted>>);
