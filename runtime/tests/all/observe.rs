//! Observing a node over QUIC: the operator's token sees every tenant's
//! agents with their mailboxes, memory, restarts and failures, and the
//! node's totals; a tenant's token sees its own agents only and nothing
//! node-wide; an operator connection can change nothing. And `caxton-run
//! top` itself, driven in a real pseudo-terminal against a served node.

use std::collections::HashMap;
use std::time::Duration;

use caxton::core::limits::AgentLimits;
use caxton::core::supervision::{RestartMode, RestartPolicy};
use caxton::net::client::RemoteNode;
use caxton::net::server::{Server, ServerOptions};
use caxton::net::tls::Identity;
use caxton::node::{AgentHandle, Observation, SpawnOptions};

use super::util::{TIMEOUT, TestNode, node};

const OPERATOR: &str = "operator-0123456789";
const TOKEN_A: &str = "tenant-a-0123456789";
const TOKEN_B: &str = "tenant-b-0123456789";

fn spawn_in(t: &TestNode, tenant: &str, plugin: &str, name: &str) -> AgentHandle {
    let plugin = t.node.plugin(plugin).unwrap();
    let options = SpawnOptions {
        name: Some(name.into()),
        tenant: Some(tenant.into()),
        limits: AgentLimits {
            memory: 8 << 20,
            ..AgentLimits::default()
        },
        restart: RestartPolicy {
            mode: RestartMode::OnFailure,
            backoff: Duration::ZERO,
            // The crashing message is not tried again: one crash, one restart.
            max_retries: 0,
            ..RestartPolicy::default()
        },
        ..SpawnOptions::default()
    };
    t.node.spawn_blocking(&plugin, options).unwrap()
}

fn serve(t: &TestNode) -> Server {
    let mut options = ServerOptions::new("127.0.0.1:0".parse().unwrap(), TOKEN_A, "a");
    options.tokens.insert(TOKEN_B.into(), "b".into());
    options.operator_token = Some(OPERATOR.into());
    Server::start(t.node.clone(), &Identity::generate().unwrap(), options).unwrap()
}

fn connect(t: &TestNode, server: &Server, token: &str) -> Result<RemoteNode, String> {
    t.node
        .runtime()
        .block_on(RemoteNode::connect(
            server.local_addr(),
            server.fingerprint(),
            token,
        ))
        .map_err(|e| e.to_string())
}

fn observe(t: &TestNode, client: &RemoteNode, tenant: Option<&str>) -> Result<Observation, String> {
    t.node
        .runtime()
        .block_on(client.observe(tenant))
        .map_err(|e| e.to_string())
}

#[test]
fn the_operator_sees_every_tenant_and_a_tenant_only_its_own() {
    let t = node();
    let server = serve(&t);
    let a1 = spawn_in(&t, "a", "echo", "a1");
    let _a2 = spawn_in(&t, "a", "echo", "a2");
    let crasher = spawn_in(&t, "b", "crasher", "b1");
    for _ in 0..5 {
        a1.request_blocking(b"hi".to_vec(), TIMEOUT).unwrap();
    }
    assert!(crasher.request_blocking(b"trap".to_vec(), TIMEOUT).is_err());
    // Restarted: it answers again.
    assert_eq!(
        crasher.request_blocking(b"ok".to_vec(), TIMEOUT).unwrap(),
        b"ok"
    );
    assert_eq!(crasher.restarts(), 1);
    // A wrong token is refused and counted.
    let refused = connect(&t, &server, "not-a-token-at-all").unwrap_err();
    assert!(refused.contains("token"), "{refused}");

    let operator = connect(&t, &server, OPERATOR).unwrap();
    let seen = observe(&t, &operator, None).unwrap();
    assert_eq!(seen.tenant, None);
    assert_eq!(seen.agents_total, 3);
    assert_eq!(seen.by_status.get("running"), Some(&3));
    let rows: HashMap<(&str, &str), _> = seen
        .agents
        .iter()
        .map(|a| ((a.tenant.as_str(), a.name.as_str()), a))
        .collect();
    let row_a1 = rows[&("a", "a1")];
    assert_eq!(row_a1.handled, 5);
    assert_eq!(row_a1.plugin, "echo");
    assert_eq!(row_a1.queued, 0);
    assert_eq!(row_a1.memory_limit, 8 << 20);
    // Linear memory as the instance holds it: more than nothing, within
    // the limit, and the same for two instances of one plugin.
    assert!(row_a1.memory >= 64 << 10, "{}", row_a1.memory);
    assert!(row_a1.memory <= 8 << 20, "{}", row_a1.memory);
    assert_eq!(row_a1.memory, rows[&("a", "a2")].memory);
    let row_b1 = rows[&("b", "b1")];
    assert_eq!(row_b1.restarts, 1);
    let failure = row_b1.last_failure.as_deref().unwrap();
    assert!(
        failure.contains("trap") || failure.contains("unreachable"),
        "{failure}"
    );
    // After the restart the agent's memory is its new instance's alone.
    assert_eq!(row_b1.memory, crasher.memory());
    let totals = seen.node.as_ref().expect("the operator sees node totals");
    // Five echoes and the crasher's `ok` (a message that trapped was not handled).
    assert_eq!(totals.messages_in, 6);
    assert_eq!(totals.failures.get("trap"), Some(&1));
    assert!(totals.rss_bytes.unwrap() > 0);
    let transport = totals.transport.as_ref().unwrap();
    assert_eq!(transport.auth_failures, 1);
    assert!(transport.connections >= 1);

    // Requests are timed from the first observation on (one in
    // SAMPLE_EVERY per thread).
    for _ in 0..2 * caxton::node::SAMPLE_EVERY {
        a1.request_blocking(b"hi".to_vec(), TIMEOUT).unwrap();
    }
    let later = observe(&t, &operator, None).unwrap();
    let q = later
        .request_quantiles_since(Some(&seen), &[0.5, 0.99])
        .expect("requests in the interval");
    assert!(q[0] > 0 && q[0] <= q[1], "{q:?}");
    // Narrowed to one tenant by the operator.
    let only_b = observe(&t, &operator, Some("b")).unwrap();
    assert_eq!(only_b.agents.len(), 1);
    assert_eq!(only_b.agents[0].name, "b1");

    // The operator changes nothing.
    let err = t
        .node
        .runtime()
        .block_on(operator.request("a1", b"hi".to_vec(), TIMEOUT))
        .unwrap_err()
        .to_string();
    assert!(err.contains("only observes"), "{err}");
    let err = t
        .node
        .runtime()
        .block_on(operator.spawn("echo", ""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("only observes"), "{err}");
    assert_eq!(t.node.agent_count(), 3);

    // Tenant a: its own agents, no node totals, no other tenant.
    let tenant_a = connect(&t, &server, TOKEN_A).unwrap();
    let mine = observe(&t, &tenant_a, None).unwrap();
    assert_eq!(mine.tenant.as_deref(), Some("a"));
    assert!(mine.node.is_none());
    let mut names: Vec<&str> = mine.agents.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["a1", "a2"]);
    assert!(mine.agents.iter().all(|a| a.tenant == "a"));
    // Five echoes before the first observation, then 2 * SAMPLE_EVERY.
    assert_eq!(mine.handled, 5 + 2 * u64::from(caxton::node::SAMPLE_EVERY));
    let err = observe(&t, &tenant_a, Some("b")).unwrap_err();
    assert!(err.contains("operator token"), "{err}");
    // And the tenant's own connection still works after that refusal.
    assert_eq!(observe(&t, &tenant_a, Some("a")).unwrap().agents.len(), 2);
}

/// `caxton-run top` in a real pseudo-terminal; its screen read back by a
/// terminal emulator.
struct Screen {
    parser: std::sync::Arc<std::sync::Mutex<vt100::Parser>>,
    keys: Box<dyn std::io::Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Screen {
    fn top(args: &[&str]) -> Screen {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 30,
                cols: 150,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_caxton-run"));
        cmd.arg("top");
        cmd.args(args);
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let parser = std::sync::Arc::new(std::sync::Mutex::new(vt100::Parser::new(30, 150, 0)));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let into = parser.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                into.lock().unwrap().process(&buf[..n]);
            }
        });
        let keys = pair.master.take_writer().unwrap();
        Screen {
            parser,
            keys,
            child,
            _master: pair.master,
        }
    }

    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen satisfies `cond`; the screen on failure.
    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = std::time::Instant::now();
        loop {
            let text = self.text();
            if cond(&text) {
                return text;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "the screen never showed {what}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn press(&mut self, key: &str) {
        self.keys.write_all(key.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    /// Quits with `q` and returns the exit status.
    fn quit(mut self) -> portable_pty::ExitStatus {
        self.press("q");
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < TIMEOUT, "top did not quit on `q`");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The table's row for agent `name`, if shown.
fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
}

#[test]
fn top_in_a_terminal_shows_a_served_node_sorts_filters_and_quits() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, format!("[tokens]\nb = \"{TOKEN_B}\"\n")).unwrap();
    let data = dir.path().join("data");
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-agents",
            "16",
            "--config",
        ])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let serve = Kill(serve);
    let mut printed = HashMap::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("caxton node `caxton` listening on ") {
            printed.insert("addr", addr.trim().to_string());
        }
        for key in ["fingerprint", "token"] {
            if let Some(v) = line.trim().strip_prefix(&format!("{key}:")) {
                printed.insert(key, v.trim().to_string());
            }
        }
        if line.starts_with("press Ctrl-C") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let addr: std::net::SocketAddr = printed["addr"].parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let connect = |token: &str| {
        rt.block_on(RemoteNode::connect(addr, &printed["fingerprint"], token))
            .unwrap()
    };
    let default = connect(&printed["token"]);
    let b = connect(TOKEN_B);
    rt.block_on(default.spawn("echo", r#"{"name":"busy"}"#))
        .unwrap();
    rt.block_on(default.spawn(
        "crasher",
        r#"{"name":"crashy","restart":"on-failure","max_retries":0}"#,
    ))
    .unwrap();
    rt.block_on(b.spawn("echo", r#"{"name":"bees"}"#)).unwrap();
    assert!(
        rt.block_on(default.request("crashy", b"trap".to_vec(), TIMEOUT))
            .is_err()
    );
    // Steady traffic to `busy`, so its rate shows.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (stop, default) = (stop.clone(), default.clone());
        let handle = rt.handle().clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = handle.block_on(default.request("busy", b"x".to_vec(), TIMEOUT));
            }
        })
    };

    // The operator, with the credentials from the data dir.
    let mut top = Screen::top(&[&printed["addr"], "--data-dir", data.to_str().unwrap()]);
    let screen = top.wait_for("three agents and a rate for busy", |s| {
        s.contains("operator view")
            && s.contains("agents 3: 3 running")
            && row(s, "busy").is_some_and(|r| {
                // HANDLED/S is the sixth column; "-" until two observations.
                r.split_whitespace()
                    .nth(5)
                    .is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v > 0.0))
            })
    });
    assert!(screen.contains("MAILBOX▼"), "{screen}");
    let crashy = row(&screen, "crashy").unwrap();
    assert!(crashy.contains("trapped"), "{crashy}");
    assert!(crashy.contains("/ 64.00 MiB"), "{crashy}");
    assert!(screen.contains("failures: trap 1"), "{screen}");
    assert!(row(&screen, "bees").is_some(), "{screen}");
    // `s` sorts by the rate: busy first.
    top.press("s");
    let screen = top.wait_for("the rate sort", |s| s.contains("HANDLED/S▼"));
    let first = screen
        .lines()
        .find(|l| l.contains("default") || l.contains("│b "))
        .unwrap();
    assert!(first.contains("busy"), "{screen}");
    // `t` shows one tenant (the first in order: b).
    top.press("t");
    let screen = top.wait_for("tenant b alone", |s| s.contains("t tenant: b"));
    assert!(row(&screen, "bees").is_some(), "{screen}");
    assert!(row(&screen, "busy").is_none(), "{screen}");
    assert!(top.quit().success());

    // Tenant b's own token: its agents only, no node totals.
    let top = Screen::top(&[
        &printed["addr"],
        "--fingerprint",
        &printed["fingerprint"],
        "--token",
        TOKEN_B,
    ]);
    let screen = top.wait_for("tenant b's view", |s| s.contains("tenant `b`"));
    assert!(screen.contains("agents 1: 1 running"), "{screen}");
    assert!(
        screen.contains("node totals need the operator token"),
        "{screen}"
    );
    assert!(row(&screen, "busy").is_none(), "{screen}");
    assert!(top.quit().success());

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    traffic.join().unwrap();
    drop(serve);
}
