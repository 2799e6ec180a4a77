//! What each kind of connection may do: a tenant's works with its own
//! agents (see `dispatch`), an operator's only observes, a peer's only
//! forwards to `tenant/name`.

use bytes::Bytes;

use super::{Shared, failed};
use crate::core::frame::Frame;

/// Who a connection authenticated as.
pub(super) enum Role {
    /// A tenant's client: works with its own tenant's agents only.
    Tenant(String),
    /// The node's operator: observes everything, changes nothing.
    Operator,
    /// Another node of the cluster: forwards its agents' requests and
    /// sends, each to `tenant/name`.
    Peer,
}

/// A peer's frame, with the tenant its target names: requests and sends
/// to `tenant/name` only.
pub(super) fn for_tenant(frame: Frame) -> Result<(String, Frame), Frame> {
    let split = |to: &str| -> Option<(String, String)> {
        let (tenant, name) = to.split_once('/')?;
        Some((tenant.to_string(), name.to_string()))
    };
    let unnamed = |req: u64, to: &str| {
        failed(
            req,
            format!("a peer addresses agents as tenant/name, not `{to}`"),
        )
    };
    match frame {
        Frame::Request {
            req,
            hops,
            to,
            payload,
        } => match split(&to) {
            Some((tenant, to)) => Ok((
                tenant,
                Frame::Request {
                    req,
                    hops,
                    to,
                    payload,
                },
            )),
            None => Err(unnamed(req, &to)),
        },
        Frame::Send { to, payload } => match split(&to) {
            Some((tenant, to)) => Ok((tenant, Frame::Send { to, payload })),
            None => Err(unnamed(0, &to)),
        },
        Frame::Spawn { req, .. } | Frame::Stop { req, .. } | Frame::Observe { req, .. } => Err(
            failed(req, "a peer connection only forwards requests and sends"),
        ),
        other => Err(failed(0, format!("a peer may not send {other:?}"))),
    }
}

/// An observation as a reply frame (see [`Frame::Observe`]).
pub(super) fn observation(
    shared: &Shared,
    req: u64,
    tenant: Option<&str>,
    operator: bool,
) -> Frame {
    let mut seen = shared.node.observe(tenant, operator);
    if let Some(totals) = seen.node.as_mut() {
        totals.transport = Some(crate::node::Transport {
            connections: shared.counters.open.get().max(0) as u64,
            accepted: shared.counters.connections.get(),
            auth_failures: shared.counters.auth_failures.get(),
        });
    }
    match serde_json::to_vec(&seen) {
        Ok(json) => Frame::Reply {
            req,
            payload: Bytes::from(json),
        },
        Err(e) => failed(req, format!("the observation did not serialize: {e}")),
    }
}

const OPERATOR_ONLY_OBSERVES: &str =
    "an operator connection only observes; use a tenant's token to spawn, send or stop";

/// Serves one frame of an operator's connection: observations only.
pub(super) fn operate(shared: &Shared, frame: Frame) -> Frame {
    match frame {
        Frame::Observe { req, tenant } => {
            let tenant = (!tenant.is_empty()).then_some(tenant.as_str());
            observation(shared, req, tenant, true)
        }
        Frame::Request { req, .. }
        | Frame::Spawn { req, .. }
        | Frame::Stop { req, .. }
        | Frame::Load { req, .. } => failed(req, OPERATOR_ONLY_OBSERVES),
        Frame::Send { .. } => failed(0, OPERATOR_ONLY_OBSERVES),
        other => failed(0, format!("a client may not send {other:?}")),
    }
}
