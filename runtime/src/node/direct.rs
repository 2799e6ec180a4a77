//! Direct requests: a blocking caller's request to an idle agent with
//! nothing queued is handled right on the caller's thread, with no
//! mailbox, reply channel or drain future in between. The lifecycle hands
//! the instance over as it would to a drain (`Lifecycle::try_direct`) and
//! takes it back as a drain's end would (`Lifecycle::after_direct`), so the
//! rule that one owner at a time holds the instance is kept; a failure
//! goes to the supervisor like any other.

use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::cell::{Delivery, ReplyTo};
use super::error::RequestError;
use super::handle::AgentHandle;
use super::local::{Node, poll_here};
use super::route::Here;
use crate::core::envelope::Envelope;
use crate::host::AgentInstance;

impl Node {
    /// Handles one request with an idle agent's instance right here (see
    /// `AgentCell::take_idle`): what a drain of that one message does,
    /// without the mailbox, a reply channel or a drain's future. A failure
    /// goes to the supervisor as in a drain: right here as far as it can
    /// go without waiting, and on the runtime from where it must wait (a
    /// restart's backoff).
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
        let effects = match result {
            Ok(effects) => effects,
            Err((failure, env)) => {
                drop(instance);
                let (tx, rx) = oneshot::channel();
                let batch = vec![Delivery::new(env, Some(ReplyTo::Waiter(tx)))];
                let (node, cell) = (self.clone(), cell.clone());
                let mut recover = Box::pin(async move {
                    let mut instance = None;
                    node.failed(&cell, &mut instance, failure, batch).await;
                    *cell.instance.lock().unwrap() = instance;
                    node.drain(cell, None).await;
                });
                // The supervisor's decision and a restart without backoff
                // finish in this poll, on this thread, as they would in an
                // inline drain: the agent serves again before this returns,
                // with no thread woken. Whatever waits (a backoff, more
                // queued batches) goes on on the runtime.
                if poll_here(&self.inner.rt, recover.as_mut()).is_pending() {
                    self.inner.rt.spawn(recover);
                }
                return self.answer_here(agent, rx, until, timeout);
            }
        };
        let mut slots = [(id, Some(ReplyTo::Here), 0)];
        let here = self.apply(cell, effects, &mut slots);
        instance.applied();
        let (recovered, drain, done) = cell.end_direct(instance);
        self.count_handled(1, recovered);
        drop(done);
        if drain {
            self.schedule(cell.clone());
        }
        match here.expect("`apply` answers a direct caller") {
            Here::Answered(result) => result,
            Here::Forwarded(rx) => self.answer_here(agent, rx, until, timeout),
        }
    }
}
