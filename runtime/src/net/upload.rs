//! Components over QUIC: a client opens a unidirectional stream per
//! upload, writes one [`Frame::Upload`] (its name and size) and then the
//! bytes; the node answers on the connection's main stream.
//!
//! What a hostile uploader can make the node spend is bounded: the size is
//! checked against the node's limit before a byte of the body is read (the
//! stream is stopped, not drained), the body must arrive within
//! [`READ_WITHIN`], a connection has one upload in flight and the node
//! [`AT_ONCE`], and compiling is the node's [`crate::host::compiler`]'s
//! business (one at a time, within its budget).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{Semaphore, mpsc};

use super::code;
use crate::core::frame::{Decoder, Frame};
use crate::node::Node;

/// The longest an upload's bytes may take to arrive.
pub const READ_WITHIN: Duration = Duration::from_secs(120);
/// Uploads a node receives at once (each holds its bytes in memory).
pub const AT_ONCE: usize = 2;
/// The largest header frame (a name and two numbers).
const MAX_HEADER: usize = 1024;

/// The upload slots of one listening node.
pub(crate) fn slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(AT_ONCE))
}

/// Accepts a connection's upload streams until it closes. `tenant` is who
/// the connection authenticated as (`None`: an operator, who may not).
pub(crate) async fn accept_uploads(
    node: Node,
    conn: quinn::Connection,
    tenant: Option<String>,
    replies: mpsc::UnboundedSender<Frame>,
    slots: Arc<Semaphore>,
) {
    // One at a time per connection: the next stream waits in QUIC's
    // stream limit until this one is answered.
    while let Ok(recv) = conn.accept_uni().await {
        let answer = receive(&node, tenant.as_deref(), recv, &slots).await;
        if replies.send(answer).is_err() {
            return;
        }
    }
}

async fn receive(
    node: &Node,
    tenant: Option<&str>,
    mut recv: quinn::RecvStream,
    slots: &Arc<Semaphore>,
) -> Frame {
    let refuse = |req: u64, why: &str| Frame::error(req, code::REQUEST_FAILED, why);
    let header = match read_header(&mut recv).await {
        Ok(header) => header,
        Err(why) => {
            let _ = recv.stop(code::BAD_FRAME.into());
            return refuse(0, &why);
        }
    };
    let Frame::Upload { req, name, size } = header else {
        let _ = recv.stop(code::BAD_FRAME.into());
        return refuse(0, "an upload stream must start with an Upload frame");
    };
    let Some(tenant) = tenant else {
        let _ = recv.stop(code::REQUEST_FAILED.into());
        return refuse(
            req,
            "only a tenant may upload (an operator connection only observes, a peer only forwards): use a tenant's token",
        );
    };
    let max = node.upload_limit();
    if size > max {
        let _ = recv.stop(code::REQUEST_FAILED.into());
        return refuse(
            req,
            &format!(
                "the component is {size} bytes, over this node's limit of {max} bytes per component"
            ),
        );
    }
    let Ok(_slot) = slots.clone().acquire_owned().await else {
        return refuse(req, "the node is shutting down");
    };
    let mut bytes = vec![0u8; size as usize];
    match tokio::time::timeout(READ_WITHIN, recv.read_exact(&mut bytes)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return refuse(
                req,
                &format!("the upload ended before its {size} bytes: {e}"),
            );
        }
        Err(_) => {
            let _ = recv.stop(code::REQUEST_FAILED.into());
            return refuse(
                req,
                &format!("the upload's {size} bytes did not arrive within {READ_WITHIN:?}"),
            );
        }
    }
    let node = node.clone();
    let tenant = tenant.to_string();
    let done = tokio::task::spawn_blocking(move || node.upload(&tenant, &name, &bytes)).await;
    match done {
        Ok(Ok(uploaded)) => Frame::Reply {
            req,
            payload: Bytes::from(
                serde_json::to_vec(&uploaded).expect("an upload receipt serializes"),
            ),
        },
        Ok(Err(e)) => refuse(req, &e.to_string()),
        Err(e) => refuse(req, &format!("the upload failed: {e}")),
    }
}

/// The stream's first frame, read without reading past it.
async fn read_header(recv: &mut quinn::RecvStream) -> Result<Frame, String> {
    let mut len = [0u8; 4];
    recv.read_exact(&mut len)
        .await
        .map_err(|e| format!("the upload stream ended before its header: {e}"))?;
    let n = u32::from_le_bytes(len) as usize;
    if n > MAX_HEADER {
        return Err(format!(
            "an upload header of {n} bytes is over the limit of {MAX_HEADER}"
        ));
    }
    let mut body = vec![0u8; n];
    recv.read_exact(&mut body)
        .await
        .map_err(|e| format!("the upload stream ended inside its header: {e}"))?;
    let mut dec = Decoder::new(MAX_HEADER);
    dec.push(&len);
    dec.push(&body);
    match dec.next_frame() {
        Ok(Some(frame)) => Ok(frame),
        Ok(None) => Err("the upload header is incomplete".into()),
        Err(e) => Err(format!("the upload header is malformed: {e}")),
    }
}

/// Writes an upload on a fresh stream of `conn` (the client side).
pub(crate) async fn send(
    conn: &quinn::Connection,
    req: u64,
    name: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let mut header = BytesMut::new();
    Frame::Upload {
        req,
        name: name.to_string(),
        size: bytes.len() as u64,
    }
    .encode(&mut header)
    .map_err(|e| e.to_string())?;
    let mut stream = conn.open_uni().await.map_err(|e| e.to_string())?;
    stream.write_all(&header).await.map_err(|e| e.to_string())?;
    stream.write_all(bytes).await.map_err(|e| e.to_string())?;
    stream.finish().map_err(|e| e.to_string())?;
    Ok(())
}
