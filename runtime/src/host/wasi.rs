//! The WASI context an agent gets: deny by default.
//!
//! Rust's std pulls WASI imports into every wasip2 component; they are
//! linked, but grant nothing: no environment, no arguments, no sockets
//! (TCP, UDP and name lookup all refused), stdin closed, and both WASI
//! clocks stopped at zero (time comes only from the host interface's
//! `now`, which the node can account for). The one file system an agent
//! may see is its tenant's data dir, preopened as `/data`: cap-std opens
//! every path beneath that directory handle, so `..`, absolute paths and
//! symlinks that lead out of it fail. Random works. stdout and stderr go to
//! the node's log, tagged with the agent; stderr's tail is kept to explain
//! a panic.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// The last bytes an agent wrote to stderr during the current call: the
/// message of a Rust panic, reported with the trap it causes.
pub(crate) type StderrTail = Arc<Tail>;

/// See [`StderrTail`].
#[derive(Debug, Default)]
pub(crate) struct Tail {
    text: Mutex<String>,
    /// Something was written since the last [`Tail::clear`]: nearly no
    /// call writes to stderr, so clearing is then one load, not a lock.
    written: AtomicBool,
}

impl Tail {
    /// Forgets what the last call wrote.
    pub(crate) fn clear(&self) {
        if self.written.swap(false, Relaxed) {
            self.text.lock().unwrap().clear();
        }
    }

    /// What was written since the last [`Tail::clear`] (at most [`TAIL`] bytes).
    pub(crate) fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    fn push(&self, text: &str) {
        let mut tail = self.text.lock().unwrap();
        self.written.store(true, Relaxed);
        tail.push_str(text);
        if tail.len() > TAIL {
            let mut cut = tail.len() - TAIL;
            while !tail.is_char_boundary(cut) {
                cut += 1;
            }
            tail.drain(..cut);
        }
    }
}

/// Longest stderr tail kept for a failure report.
const TAIL: usize = 1024;

/// Where an agent sees its tenant's data dir.
pub const DATA_DIR: &str = "/data";

/// An agent's WASI context; `data_dir` is its tenant's directory, if any.
/// Fails only if that directory cannot be opened.
pub(crate) fn deny_by_default(
    agent: Arc<str>,
    tail: StderrTail,
    data_dir: Option<&Path>,
) -> io::Result<WasiCtx> {
    let mut builder = WasiCtxBuilder::new();
    if let Some(dir) = data_dir {
        builder
            .preopened_dir(dir, DATA_DIR, FsPerms::ReadWrite)
            .map_err(|e| {
                io::Error::other(format!(
                    "cannot open the tenant's data dir {}: {e:#}",
                    dir.display()
                ))
            })?;
    }
    builder.wall_clock(Stopped).monotonic_clock(Stopped);
    builder
        .stdout(LogStream {
            agent: agent.clone(),
            tail: None,
        })
        .stderr(LogStream {
            agent,
            tail: Some(tail),
        })
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    Ok(builder.build())
}

/// A clock that always reads zero: WASI clocks give an agent no time (no
/// timing side channel between tenants); `host::now` is the agent's clock.
struct Stopped;

impl HostWallClock for Stopped {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for Stopped {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// stdout/stderr of an agent, written to tracing line by line.
#[derive(Clone)]
struct LogStream {
    agent: Arc<str>,
    tail: Option<StderrTail>,
}

impl LogStream {
    fn write_bytes(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let stream = if self.tail.is_some() {
            "stderr"
        } else {
            "stdout"
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(target: "caxton::agent", agent = &*self.agent, stream, "{line}");
        }
        if let Some(tail) = &self.tail {
            tail.push(&text);
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
