//! A real `caxton-run serve` child for the tests that need one or more:
//! started on the given arguments, with what it printed read back
//! (address, fingerprint, tenant token, operator token), killed on drop.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};

use caxton::net::client::RemoteNode;

/// A served node.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    pub fingerprint: String,
    pub token: String,
    pub operator: String,
    /// Kept open: a closed pipe would fail serve's later prints.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// `caxton-run serve` with `args` and `env`.
    pub fn start<A: AsRef<OsStr>>(args: &[A], env: &[(&str, &str)]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-run"))
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut field = |prefix: &str| -> String {
            loop {
                let line = lines.next().expect("serve printed its fields").unwrap();
                if let Some((_, rest)) = line.trim().split_once(prefix) {
                    return rest.trim().to_string();
                }
            }
        };
        let addr = field("listening on").parse().unwrap();
        let fingerprint = field("fingerprint:");
        let token = field("token:");
        let operator = field("operator:")
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        Served {
            child,
            addr,
            fingerprint,
            token,
            operator,
            _stdout: lines,
        }
    }

    /// A client of this node presenting `token`.
    pub fn client(&self, rt: &tokio::runtime::Handle, token: &str) -> RemoteNode {
        rt.block_on(RemoteNode::connect(self.addr, &self.fingerprint, token))
            .unwrap()
    }
}
