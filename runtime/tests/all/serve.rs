//! `caxton-run serve` as a real child process: clients connect over QUIC;
//! after SIGKILL and a restart on the same data dir, the identity, the token,
//! the agents and their state are all back; Ctrl-C (SIGINT) or SIGTERM
//! stops it with exit code 0, and its clients are told.

use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};

use caxton::net::client::RemoteNode;

use super::util::{TIMEOUT, eventually, node};

struct Served {
    child: Child,
    addr: SocketAddr,
    fingerprint: String,
    token: String,
    /// `http://ADDR/metrics`.
    metrics: String,
    /// Kept open: serve prints more after the metrics line, and a closed
    /// pipe would fail those prints.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Served {
    /// A client of this node, pinned to its fingerprint, with its token.
    fn client(&self, rt: &tokio::runtime::Handle) -> RemoteNode {
        rt.block_on(RemoteNode::connect(
            self.addr,
            &self.fingerprint,
            &self.token,
        ))
        .unwrap()
    }
}

/// Starts `caxton-run serve` on a free port with `args`; its stdout,
/// line by line.
fn spawn_serve(args: &[&std::ffi::OsStr]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Starts `caxton-run serve` on a free port and reads what it prints.
fn serve(data_dir: &std::path::Path) -> Served {
    let (child, mut lines) = spawn_serve(&[
        "--max-agents".as_ref(),
        "64".as_ref(),
        "--metrics".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
    ]);
    let mut field = |prefix: &str| -> String {
        let line = lines.next().expect("serve printed its address").unwrap();
        line.trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected `{prefix}`, got `{line}`"))
            .trim()
            .to_string()
    };
    let addr = field("caxton node `caxton` listening on").parse().unwrap();
    let fingerprint = field("fingerprint:");
    let token = field("token:");
    let metrics = loop {
        let line = lines
            .next()
            .expect("serve printed its metrics address")
            .unwrap();
        if let Some(url) = line.trim().strip_prefix("metrics:") {
            break url.trim().to_string();
        }
    };
    Served {
        child,
        addr,
        fingerprint,
        token,
        metrics,
        _stdout: lines,
    }
}

#[test]
fn a_sigkilled_served_node_comes_back_with_identity_agents_and_state() {
    let dir = std::env::temp_dir().join(format!("caxton-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = node();
    let rt = t.node.runtime().clone();

    let mut first = serve(&dir);
    let client = first.client(&rt);
    rt.block_on(client.spawn("counter", r#"{"name":"c"}"#))
        .unwrap();
    for _ in 0..3 {
        rt.block_on(client.request("c", b"inc".to_vec(), TIMEOUT))
            .unwrap();
    }
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();

    let mut second = serve(&dir);
    assert_eq!(
        second.fingerprint, first.fingerprint,
        "the identity is kept in the data dir"
    );
    assert_eq!(
        second.token, first.token,
        "the token is kept in the data dir"
    );
    let client = second.client(&rt);
    let count = rt
        .block_on(client.request("c", b"get".to_vec(), TIMEOUT))
        .unwrap();
    assert_eq!(count, b"3");
    // The restored agent is in the served metrics.
    let addr = second
        .metrics
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let page = super::net::http_get(addr.parse().unwrap(), "/metrics");
    assert!(
        page.contains("caxton_agents{plugin=\"counter\"} 1"),
        "{page}"
    );
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

/// Sends `signal` (`INT`, `TERM`) to `child` and waits, at most
/// [`TIMEOUT`], for it to exit.
fn stop_with(child: &mut Child, signal: &str) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} failed");
    let mut status = None;
    eventually(|| {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

#[test]
fn ctrl_c_or_sigterm_stops_a_served_node_cleanly_and_its_clients_are_told() {
    let dir = std::env::temp_dir().join(format!("caxton-serve-int-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = node();
    let rt = t.node.runtime().clone();
    let mut count = 0;
    for signal in ["INT", "TERM"] {
        let mut served = serve(&dir);
        let client = served.client(&rt);
        if count == 0 {
            rt.block_on(client.spawn("counter", r#"{"name":"c"}"#))
                .unwrap();
        }
        // Nothing of the last run is lost: the agent and its count are back.
        let reply = rt
            .block_on(client.request("c", b"inc".to_vec(), TIMEOUT))
            .unwrap();
        count += 1;
        assert_eq!(reply, count.to_string().as_bytes(), "after SIG{signal}");
        let status = stop_with(&mut served.child, signal);
        assert!(
            status.success(),
            "serve exited with {status} on SIG{signal}"
        );
        // The client is told, not left waiting out its timeout.
        let err = rt
            .block_on(client.request("c", b"get".to_vec(), TIMEOUT))
            .unwrap_err();
        assert!(
            err.to_string().contains("the node is shutting down"),
            "SIG{signal}: expected the node's close, got: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// CPU time process `pid` has used so far, all its threads, in ns (Linux's
/// schedstat; `None` elsewhere).
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum(),
    )
}

#[test]
fn an_idle_served_node_uses_no_cpu() {
    // Served, with an agent that has run: then nothing happens for 5 s. No
    // periodic wake-ups (the epoch ticker parks while no guest runs), so
    // the process uses well under 0.5% of a core.
    let dir = std::env::temp_dir().join(format!("caxton-idle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = node();
    let rt = t.node.runtime().clone();
    let mut served = serve(&dir);
    let client = served.client(&rt);
    rt.block_on(client.spawn("echo", r#"{"name":"e"}"#))
        .unwrap();
    rt.block_on(client.request("e", b"hi".to_vec(), TIMEOUT))
        .unwrap();
    client.close();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let pid = served.child.id();
    let Some(before) = cpu_ns(pid) else {
        eprintln!("skipped: no /proc/PID/task/*/schedstat on this system");
        return;
    };
    let window = std::time::Duration::from_secs(5);
    std::thread::sleep(window);
    let used = cpu_ns(pid).unwrap() - before;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let share = used as f64 / window.as_nanos() as f64 * 100.0;
    assert!(
        share < 0.5,
        "an idle node used {used} ns of CPU in {window:?} ({share:.3}% of a core)"
    );
}

/// Threads of process `pid` named `name` (Linux; `None` elsewhere).
fn threads_named(pid: u32, name: &str) -> Option<usize> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.trim() == name)
            .count(),
    )
}

#[test]
fn workers_sets_how_many_runtime_threads_the_node_has() {
    for workers in [1, 3] {
        let (mut child, mut lines) = spawn_serve(&[
            "--max-agents".as_ref(),
            "8".as_ref(),
            "--workers".as_ref(),
            workers.to_string().as_ref(),
        ]);
        // The runtime's own count, as serve reports it. (`by_ref`: the pipe
        // stays open, so serve's later lines do not fail to print.)
        let line = lines
            .by_ref()
            .map(Result::unwrap)
            .find(|l| l.trim_start().starts_with("workers:"))
            .expect("serve reports its workers");
        let reported: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        // The threads themselves. A new thread names itself once it runs, so
        // on a busy machine the last worker may not be named yet: wait for it.
        // (Blocking-pool threads carry the same name, hence at least.)
        let deadline = std::time::Instant::now() + TIMEOUT;
        let mut named = threads_named(child.id(), "caxton-worker");
        while named.is_some_and(|n| n < workers) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            named = threads_named(child.id(), "caxton-worker");
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(reported, workers, "--workers {workers}: {line}");
        if let Some(n) = named {
            assert!(n >= workers, "--workers {workers}: {n} named threads");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .args(["serve", "--workers", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--workers") && err.contains("0"), "{err}");
}

#[test]
fn a_served_node_logs_its_lifecycle_as_json_lines_and_answers_its_probes() {
    let dir = std::env::temp_dir().join(format!("caxton-lifecycle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .args(["serve", "--listen", "127.0.0.1:0", "--max-agents", "16"])
        .args([
            "--metrics",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut events = Vec::new();
    let mut probes = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert_eq!(event["target"], "caxton::lifecycle", "{line}");
        assert_eq!(event["level"], "INFO", "{line}");
        assert!(event["timestamp"].is_string(), "{line}");
        let name = event["event"].as_str().unwrap().to_string();
        if name == "metrics" {
            probes = Some(
                event["addr"]
                    .as_str()
                    .unwrap()
                    .parse::<SocketAddr>()
                    .unwrap(),
            );
        }
        events.push(name);
        if events.last().unwrap() == "ready" {
            break;
        }
    }
    assert_eq!(
        events,
        [
            "starting",
            "identity",
            "metrics",
            "restored",
            "listening",
            "ready"
        ]
    );
    let probes = probes.unwrap();
    let healthz = super::net::http_get(probes, "/healthz");
    assert!(
        healthz.starts_with("HTTP/1.1 200") && healthz.ends_with("ok\n"),
        "{healthz}"
    );
    let readyz = super::net::http_get(probes, "/readyz");
    assert!(
        readyz.starts_with("HTTP/1.1 200") && readyz.ends_with("ready\n"),
        "{readyz}"
    );

    let status = stop_with(&mut child, "TERM");
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .filter_map(|e| e["event"].as_str().map(str::to_string))
        .collect();
    assert_eq!(rest, ["shutting-down", "stopped"]);
    let _ = std::fs::remove_dir_all(&dir);
}
