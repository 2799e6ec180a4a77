//! Compiling tenants' uploads in a child process the node can stop:
//! `caxton-run compile-component` (hidden) reads a component on stdin and
//! writes the engine's artifact on stdout; [`ChildCompiler`] starts it
//! under an address-space cap, kills it at the budget, and turns how it
//! ended into words for the uploader. (Measured here: the 12 MB JavaScript
//! echo compiles in 1 GiB of address space, the 55 KB Rust one in 256 MiB
//! but not 64 MiB.)

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use caxton::host::compiler::{Compiler, compile_engine, over_budget, precompile};
use caxton::host::{CaxtonEngine, EngineOptions, MemoryLayout};
use clap::Args;

use super::exit;

/// The child's command line: what its engine must match, and its cap.
#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    /// The node's --max-agents.
    #[arg(long)]
    max_agents: u32,
    /// The node's --max-memory, bytes.
    #[arg(long)]
    max_memory: u64,
    /// The node meters fuel.
    #[arg(long)]
    fuel: bool,
    /// The node's --compact-memory.
    #[arg(long)]
    compact_memory: bool,
}

/// `caxton-run compile-component`: stdin -> artifact on stdout.
pub(crate) fn run(args: CompileArgs) -> anyhow::Result<u8> {
    let options = EngineOptions {
        max_agents: args.max_agents,
        max_memory: args.max_memory,
        fuel: args.fuel,
        memory_layout: if args.compact_memory {
            MemoryLayout::Compact
        } else {
            MemoryLayout::Guarded
        },
        ..EngineOptions::default()
    };
    let engine = compile_engine(&options)?;
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes)?;
    match precompile(&engine, &bytes) {
        Ok(artifact) => {
            std::io::stdout().write_all(&artifact)?;
            Ok(exit::OK)
        }
        Err(why) => {
            eprint!("{why}");
            Ok(exit::ERROR)
        }
    }
}

/// Compiles in a `compile-component` child of this very binary.
#[derive(Debug, Clone)]
pub(crate) struct ChildCompiler {
    /// This binary.
    pub(crate) exe: PathBuf,
    /// The longest a compilation may take.
    pub(crate) budget: Duration,
    /// The address space a compilation may use, bytes.
    pub(crate) memory: u64,
}

/// Caps the child's address space from its first instruction: set inside
/// the child, the cap would come after its allocator reserved its arenas
/// (mimalloc reserves 1 GiB up front), and bound nothing below that.
#[allow(unsafe_code)]
fn cap_address_space(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    let limit = rustix::process::Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    // SAFETY: runs in the forked child before exec; it only makes the
    // setrlimit system call (async-signal-safe), allocates nothing and
    // takes no locks.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::setrlimit(rustix::process::Resource::As, limit)
                .map_err(std::io::Error::from)
        });
    }
}

/// Longest compiler message passed on.
const MAX_WHY: usize = 2048;

impl Compiler for ChildCompiler {
    fn precompile(&self, engine: &CaxtonEngine, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let o = engine.options();
        let mut cmd = Command::new(&self.exe);
        cmd.arg("compile-component")
            .args(["--max-agents", &o.max_agents.to_string()])
            .args(["--max-memory", &o.max_memory.to_string()])
            .env("CAXTON_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if o.fuel {
            cmd.arg("--fuel");
        }
        if o.memory_layout == MemoryLayout::Compact {
            cmd.arg("--compact-memory");
        }
        cap_address_space(&mut cmd, self.memory);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("the node could not start its compiler: {e}"))?;
        let start = Instant::now();
        let mut stdin = child.stdin.take().expect("piped");
        let input = bytes.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        // An artifact is a few times its component; anything far larger
        // is not one.
        let cap = (bytes.len() as u64).saturating_mul(16) + (64 << 20);
        let mut stdout = child.stdout.take().expect("piped").take(cap);
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).map(|_| out)
        });
        let mut stderr = child.stderr.take().expect("piped").take(MAX_WHY as u64);
        let errors = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stderr.read_to_string(&mut out);
            out
        });
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() > self.budget => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(over_budget(self.budget));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("the node lost its compiler: {e}")),
            }
        };
        let _ = writer.join();
        let artifact = reader.join().ok().and_then(Result::ok);
        let why = errors.join().unwrap_or_default();
        match (status.code(), artifact) {
            (Some(0), Some(artifact)) => Ok(artifact),
            (Some(_), _) if !why.trim().is_empty() => Err(why.trim().to_string()),
            _ => Err(format!(
                "the compiler stopped ({status}): compiling it needed more than the node's \
                 budget of {} MiB of address space, or it crashed",
                self.memory >> 20
            )),
        }
    }
}
