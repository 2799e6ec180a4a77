//! `caxton-run SCRIPT --observe ADDR`: the script's node listens for
//! observers (`caxton-run top`) with a fresh identity and operator token.

use std::net::SocketAddr;

use anyhow::Context;
use caxton::net::server::{Server, ServerOptions};
use caxton::net::tls::Identity;

use super::Started;

/// Starts the listener and tells the user how to watch.
pub(crate) fn listen(started: &Started, addr: SocketAddr) -> anyhow::Result<Server> {
    let identity = Identity::generate()?;
    let operator = super::serve::new_token()?;
    // The node's tenants' own tokens (from the config) let them watch their
    // agents; nobody else's token exists here.
    let mut options = ServerOptions::new(addr, &operator, "-");
    options.tokens = started.token_map(None);
    options.operator_token = Some(operator.clone());
    options.name = "script".into();
    let server = Server::start(started.node.clone(), &identity, options)
        .with_context(|| format!("listening for observers on {addr}"))?;
    eprintln!(
        "observe this run: caxton-run top {} --fingerprint {} --token {operator}",
        server.local_addr(),
        server.fingerprint()
    );
    Ok(server)
}
