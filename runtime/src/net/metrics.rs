//! `/metrics` in the Prometheus text format: what a node and its QUIC
//! transport have seen, for `caxton-run serve --metrics ADDR`, next to the
//! [`Health`] probes.
//!
//! The registry is built afresh at each scrape from the node's current
//! figures (agents per plugin, message and failure counts) plus the
//! transport's live metrics, so nothing is kept twice.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::NetError;
use super::health::Health;
use super::server::Counters;
use crate::node::Node;

type Labels = Vec<(String, String)>;

/// The node's metrics as Prometheus text.
pub fn render(node: &Node, transport: &Counters) -> String {
    let mut registry = Registry::with_prefix("caxton");

    let agents = Family::<Labels, Gauge>::default();
    for (plugin, n) in node.agents_per_plugin() {
        agents
            .get_or_create(&vec![("plugin".into(), plugin)])
            .set(n as i64);
    }
    registry.register("agents", "Agents alive, per plugin", agents);

    let (handled, emitted) = node.message_counts();
    let messages = Family::<Labels, Counter>::default();
    messages
        .get_or_create(&vec![("direction".into(), "in".into())])
        .inc_by(handled);
    messages
        .get_or_create(&vec![("direction".into(), "out".into())])
        .inc_by(emitted);
    registry.register(
        "messages",
        "Messages handled by agents (in) and produced by them: replies, forwards, sends (out)",
        messages,
    );

    let failures = Family::<Labels, Counter>::default();
    for (reason, n) in node.failure_counts() {
        failures
            .get_or_create(&vec![("reason".into(), reason.into())])
            .inc_by(n);
    }
    registry.register("agent_failures", "Agent failures, per reason", failures);

    registry.register(
        "request_duration_seconds",
        "Remote requests: from the frame's arrival to its reply",
        transport.latency.clone(),
    );
    registry.register(
        "connections",
        "QUIC connections accepted (before authentication)",
        transport.connections.clone(),
    );
    registry.register(
        "connections_open",
        "Authenticated QUIC connections open now",
        transport.open.clone(),
    );
    registry.register(
        "auth_failures",
        "Handshakes refused for a missing or wrong tenant token",
        transport.auth_failures.clone(),
    );
    registry.register(
        "bad_frames",
        "Connections closed for an oversized or malformed frame",
        transport.bad_frames.clone(),
    );
    registry.register(
        "frames_in",
        "Frames received from authenticated clients",
        transport.frames_in.clone(),
    );

    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

/// Serves `GET /metrics`, `/healthz` and `/readyz` (see [`Health`]) on
/// `addr` until the runtime stops; returns the bound address.
pub async fn serve_metrics(addr: SocketAddr, health: Arc<Health>) -> Result<SocketAddr, NetError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| NetError::connect(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| NetError::connect(addr, e))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let health = health.clone();
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let response = respond(&req, &health);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
                {
                    tracing::debug!("metrics connection: {e}");
                }
            });
        }
    });
    Ok(bound)
}

const TEXT: &str = "text/plain; charset=utf-8";

fn respond<B>(req: &Request<B>, health: &Health) -> Response<Full<Bytes>> {
    let (status, body, kind) = match req.uri().path() {
        "/metrics" => match health.serving() {
            Some((node, transport)) => (
                StatusCode::OK,
                render(node, transport),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the node is not listening yet\n".to_string(),
                TEXT,
            ),
        },
        "/healthz" => (StatusCode::OK, "ok\n".to_string(), TEXT),
        "/readyz" => match health.ready() {
            Ok(()) => (StatusCode::OK, "ready\n".to_string(), TEXT),
            Err(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
                TEXT,
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            "not found: /metrics, /healthz and /readyz are served here\n".to_string(),
            TEXT,
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
