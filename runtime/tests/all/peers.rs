//! Served nodes linked by `--peer` alone (no script): an agent on one
//! reaches an agent on the other as `name@peer`, within its own tenant; a
//! request while the peer is away is refused with an error that names it
//! (never lost silently); after the peer restarts the link comes back.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use caxton::net::client::RemoteNode;

use super::served::Served;
use super::util::{TIMEOUT, node};

const PEER_TOKEN: &str = "cluster-peer-token-0123456789";
const TOKEN_X: &str = "tenant-x-0123456789";

/// `serve --name NAME --listen LISTEN --data-dir DATA` with the cluster's
/// peer token and `extra` arguments.
pub(super) fn serve(name: &str, listen: &str, data: &Path, extra: &[String]) -> Served {
    let mut args: Vec<String> = ["--name", name, "--listen", listen, "--max-agents", "16"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--data-dir".into(), data.display().to_string()]);
    args.extend(extra.iter().cloned());
    Served::start(&args, &[("CAXTON_PEER_TOKEN", PEER_TOKEN)])
}

/// A UDP port free now (for a node that must come back on the same one).
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client(rt: &tokio::runtime::Handle, s: &Served) -> RemoteNode {
    s.client(rt, &s.token)
}

/// The relay's answer, retried while `retry` says the error is passing.
fn ask_until(
    rt: &tokio::runtime::Handle,
    a: &RemoteNode,
    want: impl Fn(&Result<Vec<u8>, String>) -> bool,
) -> Result<Vec<u8>, String> {
    let start = Instant::now();
    loop {
        let got = rt
            .block_on(a.request("relay", b"hop".to_vec(), TIMEOUT))
            .map_err(|e| e.to_string());
        if want(&got) || start.elapsed() > Duration::from_secs(30) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn served_peers_link_without_a_script_refuse_while_away_and_reconnect() {
    let dir = std::env::temp_dir().join(format!("caxton-peers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = node();
    let rt = t.node.runtime().clone();
    let b_listen = format!("127.0.0.1:{}", free_port());
    let b = serve("b", &b_listen, &dir.join("b"), &[]);
    let peer = format!("b={}#{}", b.addr, b.fingerprint);
    let config = dir.join("a.toml");
    std::fs::write(&config, format!("[tokens]\nx = \"{TOKEN_X}\"\n")).unwrap();
    let a = serve(
        "a",
        "127.0.0.1:0",
        &dir.join("a"),
        &[
            "--peer".into(),
            peer,
            "--config".into(),
            config.display().to_string(),
        ],
    );

    let on_b = client(&rt, &b);
    rt.block_on(on_b.spawn("echo", r#"{"name":"far"}"#))
        .unwrap();
    let on_a = client(&rt, &a);
    rt.block_on(on_a.spawn("relay", r#"{"name":"relay","config":"far@b"}"#))
        .unwrap();
    // The link may still be connecting: wait for the first answer.
    assert_eq!(ask_until(&rt, &on_a, Result::is_ok).unwrap(), b"hop");

    // A tenant reaches only its own agents there: `far` is default's, so
    // tenant x's relay on a finds no `far` in x on b.
    let as_x = rt
        .block_on(RemoteNode::connect(a.addr, &a.fingerprint, TOKEN_X))
        .unwrap();
    rt.block_on(as_x.spawn("relay", r#"{"name":"relay","config":"far@b"}"#))
        .unwrap();
    let err = ask_until(&rt, &as_x, Result::is_err).unwrap_err();
    assert!(err.contains("no agent named `far` in tenant `x`"), "{err}");

    // b stops (SIGTERM, as a pod is stopped): refused at once, by name.
    let b_data = dir.join("b");
    let mut b = b;
    let _ = Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status();
    let _ = b.child.wait();
    let err = ask_until(&rt, &on_a, |r| {
        r.as_ref().is_err_and(|e| e.contains("unreachable"))
    })
    .unwrap_err();
    assert!(err.contains("peer `b` is unreachable"), "{err}");
    assert!(err.contains("the message was not sent"), "{err}");
    drop(b);

    // b comes back on its address with its identity and agents: so does the link.
    let _b = serve("b", &b_listen, &b_data, &[]);
    assert_eq!(ask_until(&rt, &on_a, Result::is_ok).unwrap(), b"hop");
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn peers_without_a_peer_token_or_malformed_are_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("caxton-peers-bad-{}", std::process::id()));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_caxton-run"))
            .args(["serve", "--listen", "127.0.0.1:0", "--max-agents", "16"])
            .args(args)
            .env_remove("CAXTON_PEER_TOKEN")
            .output()
            .unwrap()
    };
    let out = run(&["--peer", "b=127.0.0.1:7701#ab:cd"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(super::util::stderr(&out).contains("need the cluster's --peer-token"));
    let out = run(&["--peer", "b=127.0.0.1#ab", "--peer-token", PEER_TOKEN]);
    assert!(super::util::stderr(&out).contains("is not HOST:PORT"));
    let out = run(&["--peer", "b=127.0.0.1:7701", "--peer-token", PEER_TOKEN]);
    assert!(super::util::stderr(&out).contains("HOST:PORT#FINGERPRINT"));
    let out = run(&["--peer", "b=127.0.0.1:7701#ab", "--peer-token", "short"]);
    assert!(super::util::stderr(&out).contains("at least 16 characters"));
    let _ = std::fs::remove_dir_all(&dir);
}
