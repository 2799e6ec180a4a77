//! The connection's reader task: each answer to whoever waits for it.

use super::{Pending, Waiter};
use crate::core::frame::{Decoder, Frame};
use crate::net::NetError;
use crate::net::wire::read_frame;

/// Hands each answer to whoever waits for it; when the connection ends,
/// drops every waiter so pending calls fail at once instead of hanging.
pub(super) async fn reader(
    mut recv: quinn::RecvStream,
    mut dec: Decoder,
    pending: Pending,
    conn: quinn::Connection,
) {
    while let Ok(Some(frame)) = read_frame(&mut recv, &mut dec).await {
        let req = match &frame {
            Frame::Reply { req, .. } | Frame::Spawned { req, .. } | Frame::Error { req, .. } => {
                *req
            }
            _ => continue,
        };
        let waiter = pending
            .lock()
            .unwrap()
            .as_mut()
            .and_then(|p| p.remove(&req));
        match waiter {
            Some(Waiter::Once(tx)) => {
                let _ = tx.send(frame);
            }
            Some(Waiter::Then(then)) => then(Ok(frame)),
            None => {}
        }
    }
    // Async callers see their channel close; callbacks are told.
    let left = pending.lock().unwrap().take().unwrap_or_default();
    let reason = conn.close_reason();
    for (_, waiter) in left {
        if let Waiter::Then(then) = waiter {
            then(Err(match &reason {
                Some(reason) => NetError::lost(reason.clone()),
                None => NetError::lost_because("the connection closed"),
            }));
        }
    }
}
