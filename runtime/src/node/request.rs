//! Sending and requesting: enqueueing a message and starting (or running
//! inline) the drain that hands it to the agent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::cell::{AgentCell, Delivery, Enqueued, ReplyTo};
use super::error::{RequestError, SendError};
use super::handle::AgentHandle;
use super::local::Node;
use crate::core::envelope::{Envelope, Kind};

impl Node {
    /// Sends `payload` to `agent` as an `inform` (fire and forget).
    pub fn send(&self, agent: &AgentHandle, payload: Vec<u8>) -> Result<(), SendError> {
        let env = self.envelope(Kind::Inform, payload);
        self.enqueue(&agent.cell, Delivery::new(env, None))
    }

    pub(super) fn envelope(&self, kind: Kind, payload: Vec<u8>) -> Envelope {
        Envelope {
            id: self.next_id(),
            sender: String::new(),
            conversation: None,
            kind,
            payload,
        }
    }

    /// Enqueues and, if this made the agent busy, starts its drain.
    pub(super) fn enqueue(
        &self,
        cell: &Arc<AgentCell>,
        delivery: Delivery,
    ) -> Result<(), SendError> {
        self.push(cell, delivery).map_err(|rejected| rejected.0)
    }

    /// Enqueues `delivery` and, if that made the agent busy, starts its
    /// drain on the runtime. A refused delivery is handed back with the
    /// reason.
    pub(crate) fn push(
        &self,
        cell: &Arc<AgentCell>,
        delivery: Delivery,
    ) -> Result<(), Box<(SendError, Delivery)>> {
        if cell.enqueue(delivery)? == Enqueued::Schedule {
            self.schedule(cell.clone());
        }
        Ok(())
    }

    /// Runs `cell`'s drain on this thread (outside the runtime) until
    /// `until`; if it is not done by then, the rest of it runs on the
    /// runtime and this returns false. So a caller's timeout holds even
    /// when the handler runs on its thread; the handler itself runs on
    /// until it ends or its deadline cuts it.
    pub(super) fn drain_inline(&self, cell: Arc<AgentCell>, until: Instant) -> bool {
        let node = self.clone();
        let mut drain = Box::pin(async move { node.drain(cell, Some(4)).await });
        let first = super::local::poll_here(&self.inner.rt, drain.as_mut());
        // Otherwise wait for it on a real waker (the next poll registers
        // it), with a timer.
        let done = first.is_ready()
            || self.inner.rt.block_on(async {
                tokio::time::timeout_at(until.into(), &mut drain)
                    .await
                    .is_ok()
            });
        if !done {
            self.inner.rt.spawn(drain);
        }
        done
    }

    /// Sends a request and waits for the reply (from inside the runtime).
    pub async fn request(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        let started = Instant::now();
        let rx = self.submit_request(agent, payload)?;
        let result = wait(agent, rx, started + timeout, timeout).await;
        if self.timing_requests() {
            self.record_request(started);
        }
        result
    }

    /// Sends a request and waits for the reply, from a thread outside the
    /// runtime. If the agent is idle its handler runs right here, which
    /// makes an in-process round trip cost one component call, not two
    /// thread wake-ups. (Not a background tenant's: this thread has the
    /// caller's priority, not the tenant's.) Either way the answer comes
    /// within `timeout` or the call returns [`RequestError::Timeout`].
    pub fn request_blocking(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        let started = Instant::now();
        let result = self.request_inline(agent, payload, started, timeout);
        if self.timing_requests() {
            self.record_request(started);
        }
        result
    }

    fn request_inline(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        started: Instant,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        let cell = &agent.cell;
        let env = self.envelope(Kind::Request, payload);
        cell.admit(env.payload.len()).map_err(RequestError::Send)?;
        // An idle agent with nothing queued handles it right here, when its
        // handler's deadline ends the call before the caller's timeout does.
        if !cell.is_background()
            && timeout >= cell.limits.deadline + self.inner.engine.options.tick
            && let Some(instance) = cell.take_idle()
        {
            return self.request_here(agent, instance, env, started, timeout);
        }
        let until = started + timeout;
        let (tx, rx) = oneshot::channel();
        match cell.enqueue_admitted(Delivery::new(env, Some(ReplyTo::Waiter(tx)))) {
            Err(rejected) => return Err(RequestError::Send(rejected.0)),
            Ok(Enqueued::Queued) => {}
            Ok(Enqueued::Schedule) if !cell.is_background() => {
                if !self.drain_inline(cell.clone(), until) {
                    return Err(RequestError::Timeout {
                        name: agent.name().to_string(),
                        timeout,
                    });
                }
            }
            Ok(Enqueued::Schedule) => self.schedule(cell.clone()),
        }
        self.answer_here(agent, rx, until, timeout)
    }

    /// The answer on `rx`, for a caller outside the runtime: taken at once
    /// if it is there (an inline drain usually produced it), else waited
    /// for until `until`.
    pub(super) fn answer_here(
        &self,
        agent: &AgentHandle,
        mut rx: Reply,
        until: Instant,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        match rx.try_recv() {
            Ok(result) => result,
            Err(oneshot::error::TryRecvError::Closed) => {
                Err(RequestError::Dropped(agent.name().to_string()))
            }
            Err(oneshot::error::TryRecvError::Empty) => {
                self.inner.rt.block_on(wait(agent, rx, until, timeout))
            }
        }
    }

    /// Sends a request whose answer is handed to `done` wherever it is
    /// produced (usually a runtime worker). `done` is always called once:
    /// with the reply, the handler's failure, or why it was not delivered.
    pub fn request_with(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        done: impl FnOnce(Result<Vec<u8>, RequestError>) + Send + 'static,
    ) {
        self.forwarded_request(agent, payload, 0, done)
    }

    /// [`Node::request_with`] for a request that has been through `hops`
    /// forwards already (from a peer node), so a forwarding loop across
    /// nodes ends at the hop limit too.
    pub(crate) fn forwarded_request(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        hops: u8,
        done: impl FnOnce(Result<Vec<u8>, RequestError>) + Send + 'static,
    ) {
        let env = self.envelope(Kind::Request, payload);
        let done: Box<dyn FnOnce(Result<Vec<u8>, RequestError>) + Send> = if self.timing_requests()
        {
            let (node, started) = (self.clone(), Instant::now());
            Box::new(move |result| {
                node.record_request(started);
                done(result)
            })
        } else {
            Box::new(done)
        };
        let mut delivery = Delivery::new(env, Some(ReplyTo::Callback(done)));
        delivery.hops = hops;
        if let Err(rejected) = self.push(&agent.cell, delivery) {
            let (err, delivery) = *rejected;
            if let Some(ReplyTo::Callback(done)) = delivery.reply {
                done(Err(RequestError::Send(err)));
            }
        }
    }

    /// Enqueues a request whose answer arrives on the returned receiver.
    pub(super) fn submit_request(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
    ) -> Result<Reply, SendError> {
        let (tx, rx) = oneshot::channel();
        let env = self.envelope(Kind::Request, payload);
        let reply = Some(ReplyTo::Waiter(tx));
        self.enqueue(&agent.cell, Delivery::new(env, reply))?;
        Ok(rx)
    }
}

/// Where a request's answer arrives.
pub(super) type Reply = oneshot::Receiver<Result<Vec<u8>, RequestError>>;

/// The answer on `rx`, or a timeout error at `until` (`timeout` after the
/// request was made).
pub(super) async fn wait(
    agent: &AgentHandle,
    rx: Reply,
    until: Instant,
    timeout: Duration,
) -> Result<Vec<u8>, RequestError> {
    match tokio::time::timeout_at(until.into(), rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_closed)) => Err(RequestError::Dropped(agent.name().to_string())),
        Err(_elapsed) => Err(RequestError::Timeout {
            name: agent.name().to_string(),
            timeout,
        }),
    }
}
