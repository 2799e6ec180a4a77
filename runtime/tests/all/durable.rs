//! Durable nodes: specs and state in SQLite; agents come back after the
//! node process dies.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use caxton::core::limits::AgentLimits;
use caxton::host::{CaxtonEngine, EngineOptions};
use caxton::node::{Node, SpawnOptions};
use caxton::persist::Db;

use super::util::{TIMEOUT, cache_dir};

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caxton-durable-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A durable node on `dir` with its own runtime (dropping both is a "crash":
/// no graceful stop of any agent).
fn durable_node(dir: &std::path::Path) -> (Node, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = CaxtonEngine::new(EngineOptions {
        max_agents: 64,
        cache_dir: cache_dir(),
        ..EngineOptions::default()
    })
    .unwrap();
    let db = Db::open(&dir.join("node.db")).unwrap();
    (Node::durable(engine, rt.handle().clone(), db), rt)
}

#[test]
fn agents_and_their_state_come_back_after_a_restart() {
    let dir = data_dir("restore");
    {
        let (node, _rt) = durable_node(&dir);
        let counter = node.plugin("counter").unwrap();
        let options = SpawnOptions {
            name: Some("c".into()),
            limits: AgentLimits {
                memory: 8 << 20,
                ..AgentLimits::default()
            },
            ..SpawnOptions::default()
        };
        let c = node.spawn_blocking(&counter, options).unwrap();
        for _ in 0..7 {
            c.request_blocking(b"inc".to_vec(), TIMEOUT).unwrap();
        }
        let gone = node
            .spawn_blocking(
                &counter,
                SpawnOptions {
                    name: Some("gone".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        gone.kill();
    }
    let (node, rt) = durable_node(&dir);
    let report = rt.block_on(node.restore()).unwrap();
    assert_eq!(report.restored, 1, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    let c = node.agent("default", "c").expect("the counter is back");
    assert_eq!(c.request_blocking(b"get".to_vec(), TIMEOUT).unwrap(), b"7");
    assert!(
        node.agent("default", "gone").is_none(),
        "a killed agent stays gone"
    );
}

#[test]
fn a_fresh_agent_never_inherits_state_left_under_its_name() {
    let dir = data_dir("stale");
    // State left behind under the name `c` (e.g. written by a stopping agent
    // after it was forgotten).
    Db::open(&dir.join("node.db"))
        .unwrap()
        .commit_state(
            "default",
            "c",
            &[("count".into(), Some(41u64.to_le_bytes().to_vec()))],
        )
        .unwrap();
    {
        let (node, _rt) = durable_node(&dir);
        let counter = node.plugin("counter").unwrap();
        let c = node
            .spawn_blocking(
                &counter,
                SpawnOptions {
                    name: Some("c".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(c.request_blocking(b"get".to_vec(), TIMEOUT).unwrap(), b"0");
    }
    let (node, rt) = durable_node(&dir);
    assert_eq!(rt.block_on(node.restore()).unwrap().restored, 1);
    let c = node.agent("default", "c").unwrap();
    assert_eq!(c.request_blocking(b"get".to_vec(), TIMEOUT).unwrap(), b"0");
}

#[test]
fn a_trapped_handler_writes_nothing_to_the_database() {
    let dir = data_dir("trap");
    let (node, _rt) = durable_node(&dir);
    let crasher = node.plugin("crasher").unwrap();
    let options = SpawnOptions {
        name: Some("x".into()),
        restart: caxton::core::supervision::RestartPolicy {
            mode: caxton::core::supervision::RestartMode::OnFailure,
            max_retries: 0,
            ..Default::default()
        },
        ..SpawnOptions::default()
    };
    let x = node.spawn_blocking(&crasher, options).unwrap();
    x.request_blocking(b"count".to_vec(), TIMEOUT).unwrap();
    assert!(
        x.request_blocking(b"count-then-trap".to_vec(), TIMEOUT)
            .is_err()
    );
    let db = Db::open(&dir.join("node.db")).unwrap();
    let stored = db.state_value("default", "x", "count").unwrap().unwrap();
    assert_eq!(u64::from_le_bytes(stored.try_into().unwrap()), 1);
}

#[test]
fn a_sigkilled_node_process_comes_back_with_its_agents_and_state() {
    let dir = data_dir("sigkill");
    let first = dir.join("first.rhai");
    std::fs::write(
        &first,
        r#"
        let c = spawn("counter", #{ name: "c" });
        for i in 0..7 { request(c, "inc"); }
        spawn_many(plugin("echo"), 20, #{ name: "e" });
        print("READY");
        sleep("60s");
        "#,
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_caxton-run");
    let mut child = Command::new(bin)
        .arg(&first)
        .arg("--data-dir")
        .arg(&dir)
        .args(["--max-agents", "64"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().expect("the child printed a line").unwrap();
    assert_eq!(ready, "READY");
    child.kill().unwrap(); // SIGKILL on Unix: no cleanup runs
    child.wait().unwrap();

    let second = dir.join("second.rhai");
    std::fs::write(
        &second,
        r#"
        let r = restore_report();
        if r.restored != 21 || r.failed != 0 { throw `restored ${r.restored}, failed ${r.failed}`; }
        let got = request(agent("c"), "get");
        if got != "7" { throw `count is ${got}, not 7`; }
        for i in 0..20 { request(agent(`e-${i}`), "still here"); }
        print("OK");
        "#,
    )
    .unwrap();
    let out = Command::new(bin)
        .arg(&second)
        .arg("--data-dir")
        .arg(&dir)
        .args(["--max-agents", "64"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    assert!(stderr.contains("restored 21 agents"), "{stderr}");
}
