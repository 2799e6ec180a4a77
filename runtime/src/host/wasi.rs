//! The WASI context an agent gets: deny by default.
//!
//! Rust's std pulls WASI imports into every wasip2 component; they are
//! linked, but grant nothing: no preopened directories, no environment, no
//! arguments, no sockets (TCP, UDP and name lookup all refused), stdin
//! closed. Clocks and random work. stdout and stderr go to the node's log,
//! tagged with the agent; stderr's tail is kept to explain a panic.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::ctx::StderrTail;

/// Longest stderr tail kept for a failure report.
const TAIL: usize = 1024;

pub(crate) fn deny_by_default(agent: Arc<str>, tail: StderrTail) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
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
    builder.build()
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
            let mut tail = tail.lock().unwrap();
            tail.push_str(&text);
            if tail.len() > TAIL {
                let mut cut = tail.len() - TAIL;
                while !tail.is_char_boundary(cut) {
                    cut += 1;
                }
                tail.drain(..cut);
            }
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
