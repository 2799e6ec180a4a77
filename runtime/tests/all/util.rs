//! A small node per test.

use std::time::Duration;

use caxton::core::limits::AgentLimits;
use caxton::host::{CaxtonEngine, EngineOptions};
use caxton::node::{AgentHandle, Node, SpawnOptions};

/// A node and the runtime its agents run on (dropped together).
pub struct TestNode {
    pub node: Node,
    _rt: tokio::runtime::Runtime,
}

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A component cache shared by all tests of a run: each plugin is compiled
/// once, not once per test.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache"))
}

/// The test process's own files, lent to a node (for component files and
/// data dirs), as `caxton-run` lends its own.
pub fn files() -> std::sync::Arc<dyn caxton::host::HostFiles> {
    std::sync::Arc::new(caxton::host::AmbientFiles::new(cap_std::ambient_authority()))
}

pub fn node() -> TestNode {
    node_with(EngineOptions {
        max_agents: 64,
        max_memory: 256 << 20,
        cache_dir: cache_dir(),
        files: files(),
        ..EngineOptions::default()
    })
}

pub fn node_with(options: EngineOptions) -> TestNode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = CaxtonEngine::new(options).unwrap();
    TestNode {
        node: Node::new(engine, rt.handle().clone()),
        _rt: rt,
    }
}

impl TestNode {
    pub fn spawn(&self, plugin: &str, name: &str, limits: AgentLimits) -> AgentHandle {
        let plugin = self.node.plugin(plugin).unwrap();
        let options = SpawnOptions {
            name: Some(name.to_string()),
            limits,
            ..SpawnOptions::default()
        };
        self.node.spawn_blocking(&plugin, options).unwrap()
    }

    pub fn echo(&self, name: &str) -> AgentHandle {
        self.spawn("echo", name, AgentLimits::default())
    }
}

/// Asserts that `agent` still answers a request with its payload.
pub fn assert_answers(agent: &AgentHandle) {
    let reply = agent
        .request_blocking(b"still here?".to_vec(), TIMEOUT)
        .unwrap();
    assert_eq!(reply, b"still here?");
}

/// Waits until `cond` holds (for effects of fire-and-forget sends).
pub fn eventually(mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < TIMEOUT,
            "condition not reached within {TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("caxton-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the real `caxton-run` on `script` (relative to `dir`, or absolute)
/// in `dir`, on a small node without a compile cache.
pub fn caxton_run(
    dir: &std::path::Path,
    script: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .current_dir(dir)
        .arg(script)
        .args(["--no-cache", "--max-agents", "16"])
        .args(args)
        .output()
        .unwrap()
}

/// A child's stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
