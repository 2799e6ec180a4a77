//! Direct requests: a blocking caller's request to an idle agent with
//! nothing queued is handled right on the caller's thread, with no
//! mailbox, reply channel or drain future in between. The lifecycle hands
//! the instance over as it would to a drain (`Lifecycle::try_direct`) and
//! takes it back as a drain's end would (`Lifecycle::after_direct`), so the
//! rule that one owner at a time holds the instance is kept; a failure
//! goes to the supervisor like any other.

use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::cell::{Delivery, ReplyTo};
use super::error::RequestError;
use super::handle::AgentHandle;
use super::local::{Node, poll_here};
use super::request::wait;
use super::route::for_caller;
use crate::core::envelope::Envelope;
use crate::host::AgentInstance;

impl Node {
    /// Handles one request with an idle agent's instance right here (see
    /// `AgentCell::take_idle`): what a drain of that one message does,
    /// without the mailbox, a reply channel or a drain's future. Only a
    /// failure goes the long way: to the supervisor, on the runtime (a
    /// restart may wait out a backoff), and the answer is awaited there.
    pub(super) fn request_here(
        &self,
        agent: &AgentHandle,
        mut instance: AgentInstance,
        env: Envelope,
        started: Instant,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        let cell = &agent.cell;
        let id = env.id;
        let until = started + timeout;
        let result = {
            let mut call = std::pin::pin!(instance.handle_one(env, started));
            match poll_here(&self.inner.rt, call.as_mut()) {
                Poll::Ready(result) => result,
                // A long handler yields at epoch ticks; its deadline, which
                // comes before the caller's timeout, ends it.
                Poll::Pending => self.inner.rt.block_on(call),
            }
        };
        let mut effects = match result {
            Ok(effects) => effects,
            Err((failure, env)) => {
                drop(instance);
                let (tx, rx) = oneshot::channel();
                let batch = vec![Delivery::new(env, Some(ReplyTo::Waiter(tx)))];
                let (node, cell) = (self.clone(), cell.clone());
                self.inner.rt.spawn(async move {
                    let mut instance = None;
                    node.failed(&cell, &mut instance, failure, batch).await;
                    *cell.instance.lock().unwrap() = instance;
                    node.drain(cell, None).await;
                });
                return self.inner.rt.block_on(wait(agent, rx, until, timeout));
            }
        };
        // The answer comes back here, unless the handler forwarded the
        // request: then it waits, like any, for where it went to answer.
        let mut answer = None;
        let mut slots = [(id, None, 0)];
        if let Some(i) = effects.replies.iter().position(|(r, _)| *r == id) {
            // Counted as `apply` counts the replies it delivers.
            self.inner.emitted.fetch_add(1, Relaxed);
            answer = Some(for_caller(&cell.name, Ok(effects.replies.swap_remove(i).1)));
        } else if let Some(i) = effects.failures.iter().position(|(f, _)| *f == id) {
            let reason = effects.failures.swap_remove(i).1;
            answer = Some(Err(RequestError::Handler {
                name: cell.name.to_string(),
                reason,
            }));
        }
        let mut forwarded = None;
        if answer.is_none() && effects.forwards.iter().any(|(f, _, _)| *f == id) {
            let (tx, rx) = oneshot::channel();
            slots[0].1 = Some(ReplyTo::Waiter(tx));
            forwarded = Some(rx);
        }
        self.apply(cell, effects, &mut slots);
        let (recovered, drain, done) = cell.end_direct(instance);
        self.count_handled(1, recovered);
        drop(done);
        if drain {
            self.schedule(cell.clone());
        }
        match (answer, forwarded) {
            (Some(answer), _) => answer,
            (None, Some(rx)) => self.inner.rt.block_on(wait(agent, rx, until, timeout)),
            (None, None) => Err(RequestError::NoReply(cell.name.to_string())),
        }
    }
}
