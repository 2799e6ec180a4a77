//! QUIC on real sockets on 127.0.0.1: a node, clients, and what goes wrong.

use std::time::Duration;

use caxton::core::frame::{Frame, PROTOCOL_VERSION};
use caxton::net::NetError;
use caxton::net::client::RemoteNode;
use caxton::net::server::{Server, ServerOptions};
use caxton::net::tls::Identity;

use super::util::{TIMEOUT, TestNode, node};

const TOKEN: &str = "s3cret-token";

fn serve(t: &TestNode) -> Server {
    let identity = Identity::generate().unwrap();
    let options = ServerOptions::new("127.0.0.1:0".parse().unwrap(), TOKEN, "acme");
    Server::start(t.node.clone(), &identity, options).unwrap()
}

fn connect(
    t: &TestNode,
    server: &Server,
    fingerprint: &str,
    token: &str,
) -> Result<RemoteNode, NetError> {
    t.node
        .runtime()
        .block_on(RemoteNode::connect(server.local_addr(), fingerprint, token))
}

#[test]
fn a_client_spawns_and_requests_on_a_remote_node() {
    let t = node();
    let server = serve(&t);
    // The node's socket got the large buffers (net/socket.rs), not the
    // OS default that drops datagrams under bursts.
    let least = caxton::net::socket::least_expected();
    assert!(
        server.udp_buffer() >= least,
        "{} < {least}",
        server.udp_buffer()
    );
    let client = connect(&t, &server, server.fingerprint(), TOKEN).unwrap();
    let rt = t.node.runtime().clone();
    let name = rt
        .block_on(client.spawn("echo", r#"{"name":"far","memory":"8 MiB"}"#))
        .unwrap();
    assert_eq!(name, "far");
    // The agent lives in the token's tenant.
    assert!(t.node.agent("acme", "far").is_some());
    assert!(t.node.agent("default", "far").is_none());
    let reply = rt
        .block_on(client.request("far", b"over quic".to_vec(), TIMEOUT))
        .unwrap();
    assert_eq!(reply, b"over quic");
    let before = client.path_stats();
    assert!(
        before.sent_packets > 0 && before.datagrams_in > 0,
        "{before:?}"
    );
    assert!(!before.rtt.is_zero() && before.cwnd > 0, "{before:?}");
    // Many requests in flight on one stream, correlated by id.
    let replies = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let c = client.clone();
            tasks.push(tokio::spawn(async move {
                c.request("far", i.to_le_bytes().to_vec(), TIMEOUT).await
            }));
        }
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap().unwrap());
        }
        out
    });
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r, &(i as u32).to_le_bytes());
    }
    // The path's counters moved with them.
    let after = client.path_stats();
    assert!(
        after.sent_packets > before.sent_packets,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.datagrams_in > before.datagrams_in,
        "{before:?} -> {after:?}"
    );
    let err = rt
        .block_on(client.request("nobody", b"x".to_vec(), TIMEOUT))
        .unwrap_err();
    assert!(err.to_string().contains("no agent named `nobody`"), "{err}");
    let err = rt
        .block_on(client.spawn("/etc/passwd.wasm", ""))
        .unwrap_err();
    assert!(err.to_string().contains("not component files"), "{err}");
    rt.block_on(client.stop("far", true)).unwrap();
    assert!(t.node.agent("acme", "far").is_none());
}

#[test]
fn a_wrong_token_is_refused_and_counted() {
    let t = node();
    let server = serve(&t);
    let err = connect(&t, &server, server.fingerprint(), "guess").unwrap_err();
    assert!(matches!(err, NetError::Refused(_)), "{err}");
    assert!(
        err.to_string().contains("tenant token was not accepted"),
        "{err}"
    );
    assert_eq!(server.counters().auth_failures.get(), 1);
    // The node still serves the right token.
    connect(&t, &server, server.fingerprint(), TOKEN).unwrap();
}

#[test]
fn a_wrong_fingerprint_fails_the_handshake() {
    let t = node();
    let server = serve(&t);
    let other = Identity::generate().unwrap().fingerprint();
    let err = connect(&t, &server, &other, TOKEN).unwrap_err();
    assert!(matches!(err, NetError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("fingerprint mismatch"), "{err}");
}

/// Opens a raw stream, says hello properly, then sends `bytes`.
fn raw_after_hello(t: &TestNode, server: &Server, bytes: Vec<u8>) -> quinn::Connection {
    let fingerprint = server.fingerprint().to_string();
    let addr = server.local_addr();
    t.node.runtime().block_on(async move {
        let mut endpoint = quinn::Endpoint::client("0.0.0.0:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(caxton::net::tls::client_config(&fingerprint).unwrap());
        let conn = endpoint
            .connect(addr, "caxton.node")
            .unwrap()
            .await
            .unwrap();
        let (mut send, _recv) = conn.open_bi().await.unwrap();
        let mut hello = bytes::BytesMut::new();
        Frame::Hello {
            version: PROTOCOL_VERSION,
            token: TOKEN.into(),
        }
        .encode(&mut hello)
        .unwrap();
        send.write_all(&hello).await.unwrap();
        send.write_all(&bytes).await.unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(10), conn.closed()).await;
        conn
    })
}

#[test]
fn an_oversized_frame_closes_only_that_connection() {
    let t = node();
    let server = serve(&t);
    let good = connect(&t, &server, server.fingerprint(), TOKEN).unwrap();
    let rt = t.node.runtime().clone();
    rt.block_on(good.spawn("echo", r#"{"name":"e"}"#)).unwrap();
    let huge = (64u32 << 20).to_le_bytes().to_vec();
    let conn = raw_after_hello(&t, &server, huge);
    let reason = conn
        .close_reason()
        .expect("the node closed the connection")
        .to_string();
    assert!(reason.contains("over the limit"), "{reason}");
    assert_eq!(server.counters().bad_frames.get(), 1);
    assert_eq!(
        rt.block_on(good.request("e", b"fine".to_vec(), TIMEOUT))
            .unwrap(),
        b"fine"
    );
}

#[test]
fn garbage_on_a_stream_closes_only_that_connection() {
    let t = node();
    let server = serve(&t);
    let good = connect(&t, &server, server.fingerprint(), TOKEN).unwrap();
    let rt = t.node.runtime().clone();
    rt.block_on(good.spawn("echo", r#"{"name":"e"}"#)).unwrap();
    let garbage = vec![9, 0, 0, 0, 0xee, 1, 2, 3, 4, 5, 6, 7, 8];
    let conn = raw_after_hello(&t, &server, garbage);
    let reason = conn.close_reason().expect("closed").to_string();
    assert!(reason.contains("unknown frame type"), "{reason}");
    assert_eq!(
        rt.block_on(good.request("e", b"fine".to_vec(), TIMEOUT))
            .unwrap(),
        b"fine"
    );
}

#[test]
fn a_server_going_away_gives_waiting_clients_an_error_not_a_hang() {
    let t = node();
    let server = serve(&t);
    let client = connect(&t, &server, server.fingerprint(), TOKEN).unwrap();
    let rt = t.node.runtime().clone();
    let name = rt
        .block_on(client.spawn("crasher", r#"{"deadline":"30s"}"#))
        .unwrap();
    // A request that will not be answered before the node closes.
    let c = client.clone();
    let waiting = rt.spawn(async move {
        c.request(&name, b"loop".to_vec(), Duration::from_secs(60))
            .await
    });
    std::thread::sleep(Duration::from_millis(100));
    server.close();
    let err = rt.block_on(waiting).unwrap().unwrap_err();
    assert!(matches!(err, NetError::Lost { .. }), "{err}");
    assert!(err.to_string().contains("shutting down"), "{err}");
    let err = rt
        .block_on(client.request("x", vec![], TIMEOUT))
        .unwrap_err();
    assert!(matches!(err, NetError::Lost { .. }), "{err}");
}

#[test]
fn agents_reach_agents_on_another_node_by_name_at_node() {
    let a = node();
    // A second node on the same engine and runtime, listening.
    let b = caxton::node::Node::new(a.node.engine().clone(), a.node.runtime().clone());
    let identity = Identity::generate().unwrap();
    let mut options = ServerOptions::new("127.0.0.1:0".parse().unwrap(), TOKEN, "default");
    options.name = "b".into();
    let server = Server::start(b.clone(), &identity, options).unwrap();
    let spawn = |node: &caxton::node::Node, plugin: &str, name: &str, config: &str| {
        let options = caxton::node::SpawnOptions {
            name: Some(name.into()),
            config: config.into(),
            ..Default::default()
        };
        let plugin = node.plugin(plugin).unwrap();
        node.spawn_blocking(&plugin, options).unwrap()
    };
    let far_counter = spawn(&b, "counter", "tally", "");
    spawn(&b, "echo", "far", "");

    // Without a link, `far@b` names an unknown peer: a clear error.
    let relay = spawn(&a.node, "relay", "to-far", "far@b");
    let err = relay
        .request_blocking(b"hi".to_vec(), TIMEOUT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no peer node named `b`"), "{err}");

    let link = connect(&a, &server, server.fingerprint(), TOKEN).unwrap();
    assert_eq!(link.name(), "b");
    a.node.link("default", "b", link);
    // A request is forwarded over QUIC and its reply comes back.
    let reply = relay
        .request_blocking(b"across nodes".to_vec(), TIMEOUT)
        .unwrap();
    assert_eq!(reply, b"across nodes");
    // Informs are sent on: the counter on node b counts them.
    let informs = spawn(&a.node, "relay", "to-tally", "tally@b");
    for _ in 0..5 {
        informs.send(b"inc".to_vec()).unwrap();
    }
    super::util::eventually(|| {
        far_counter
            .request_blocking(b"get".to_vec(), TIMEOUT)
            .unwrap()
            == b"5"
    });
    // An unknown agent on the peer: the error names it.
    let lost = spawn(&a.node, "relay", "to-nobody", "nobody@b");
    let err = lost
        .request_blocking(b"x".to_vec(), TIMEOUT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no agent named `nobody`"), "{err}");
}

#[test]
fn a_forwarding_loop_across_two_nodes_ends_at_the_hop_limit() {
    // Two nodes, each linked to the other; `ping` on a forwards to
    // `pong@b`, which forwards back to `ping@a`: a loop over QUIC.
    let a = node();
    let b = caxton::node::Node::new(a.node.engine().clone(), a.node.runtime().clone());
    let serve_as = |node: &caxton::node::Node, name: &str| {
        let mut options = ServerOptions::new("127.0.0.1:0".parse().unwrap(), TOKEN, "default");
        options.name = name.into();
        Server::start(node.clone(), &Identity::generate().unwrap(), options).unwrap()
    };
    let (server_a, server_b) = (serve_as(&a.node, "a"), serve_as(&b, "b"));
    let rt = a.node.runtime().clone();
    let link = |server: &Server| {
        rt.block_on(RemoteNode::connect(
            server.local_addr(),
            server.fingerprint(),
            TOKEN,
        ))
        .unwrap()
    };
    a.node.link("default", "b", link(&server_b));
    b.link("default", "a", link(&server_a));
    let spawn = |node: &caxton::node::Node, name: &str, next: &str| {
        let options = caxton::node::SpawnOptions {
            name: Some(name.into()),
            config: next.into(),
            ..Default::default()
        };
        node.spawn_blocking(&node.plugin("relay").unwrap(), options)
            .unwrap()
    };
    let ping = spawn(&a.node, "ping", "pong@b");
    spawn(&b, "pong", "ping@a");
    let err = ping
        .request_blocking(b"round and round".to_vec(), TIMEOUT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("forwarding loop"), "{err}");
    // Both nodes still serve.
    let echo = spawn(&b, "end", "");
    assert_eq!(
        echo.request_blocking(b"still".to_vec(), TIMEOUT).unwrap(),
        b"still"
    );
}

/// `GET path` over plain HTTP/1.1; the whole response.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn metrics_show_agents_messages_latency_connections_auth_and_failures_and_probes_readiness() {
    let t = node();
    let server = serve(&t);
    let rt = t.node.runtime().clone();
    let health = caxton::net::health::Health::new();
    let metrics = rt
        .block_on(caxton::net::metrics::serve_metrics(
            "127.0.0.1:0".parse().unwrap(),
            health.clone(),
        ))
        .unwrap();
    // Alive at once; ready only when every step is done; not while draining.
    assert!(http_get(metrics, "/healthz").starts_with("HTTP/1.1 200"));
    let page = http_get(metrics, "/readyz");
    assert!(page.starts_with("HTTP/1.1 503"), "{page}");
    assert!(
        page.contains("not ready: identity not loaded, agents not restored yet, not listening yet"),
        "{page}"
    );
    assert!(http_get(metrics, "/metrics").starts_with("HTTP/1.1 503"));
    health.identity_loaded();
    health.restored();
    health.listening(t.node.clone(), server.counters().clone());
    assert!(http_get(metrics, "/readyz").starts_with("HTTP/1.1 200"));
    let client = connect(&t, &server, server.fingerprint(), TOKEN).unwrap();
    let _ = connect(&t, &server, server.fingerprint(), "wrong");
    rt.block_on(client.spawn("echo", r#"{"name":"e1"}"#))
        .unwrap();
    rt.block_on(client.spawn("echo", r#"{"name":"e2"}"#))
        .unwrap();
    let c = rt
        .block_on(client.spawn("crasher", r#"{"name":"c"}"#))
        .unwrap();
    for _ in 0..3 {
        rt.block_on(client.request("e1", b"x".to_vec(), TIMEOUT))
            .unwrap();
    }
    rt.block_on(client.request(&c, b"trap".to_vec(), TIMEOUT))
        .unwrap_err();
    let page = http_get(metrics, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let has = |line: &str| assert!(page.contains(line), "missing `{line}` in:\n{page}");
    has("caxton_agents{plugin=\"echo\"} 2");
    has("caxton_agents{plugin=\"crasher\"} 1");
    has("caxton_messages_total{direction=\"in\"} 3");
    has("caxton_messages_total{direction=\"out\"} 3");
    has("caxton_agent_failures_total{reason=\"trap\"} 1");
    has("caxton_request_duration_seconds_count 4");
    has("caxton_connections_total 2");
    has("caxton_connections_open 1");
    has("caxton_auth_failures_total 1");
    assert!(http_get(metrics, "/nope").starts_with("HTTP/1.1 404"));
    health.draining();
    let page = http_get(metrics, "/readyz");
    assert!(
        page.starts_with("HTTP/1.1 503") && page.contains("shutting down"),
        "{page}"
    );
    assert!(http_get(metrics, "/healthz").starts_with("HTTP/1.1 200"));
}
