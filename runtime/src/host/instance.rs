//! One live agent instance: a `Store`, its bindings, and the calls into it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::batch::{Batch, to_wit};
use super::bindings::Agent;
use super::ctx::{AgentCtx, SharedLog, SharedState};
use super::engine::CaxtonEngine;
use super::plugin::Plugin;
use super::ticker::Ticker;
use crate::core::address::Reach;
use crate::core::budget;
use crate::core::envelope::{Effects, Envelope};
use crate::core::failure::Failure;
use crate::core::limits::AgentLimits;

/// What an instance is started with.
#[derive(Clone)]
pub struct InstanceSpec {
    /// The agent's name (what `self-id` returns).
    pub name: Arc<str>,
    /// Its limits.
    pub limits: AgentLimits,
    /// The `config` string passed to `init`.
    pub config: String,
    /// Its persistent state, shared with the node.
    pub state: SharedState,
    /// Set to interrupt the instance at its next epoch tick.
    pub kill: Arc<AtomicBool>,
    /// Its tenant's data dir, preopened as `/data`.
    pub data_dir: Option<PathBuf>,
    /// It runs on a lowest-priority thread: its guest code yields the core
    /// at every epoch tick (see `crate::preempt`), so a normal thread waiting
    /// for it gets it within an epoch tick (1 ms).
    pub background: bool,
    /// Whom it may address: checked at each `send` and `forward`.
    pub reach: Arc<dyn Reach>,
    /// Its log rate limiter.
    pub log: SharedLog,
    /// Bytes of linear memory its live instance holds (kept up to date by
    /// the instance; read by observers).
    pub memory: Arc<AtomicU64>,
}

impl std::fmt::Debug for InstanceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceSpec")
            .field("name", &self.name)
            .field("limits", &self.limits)
            .field("data_dir", &self.data_dir)
            .field("background", &self.background)
            .finish_non_exhaustive()
    }
}

/// A running agent instance. After any [`Failure`] it must be dropped: a
/// trapped component instance cannot be entered again.
///
/// One pointer: an idle instance moves in and out of its agent's slot on
/// every direct request, and a move of the parts themselves is a 136-byte
/// copy each time.
pub struct AgentInstance {
    p: Box<Parts>,
}

/// What an [`AgentInstance`] holds.
struct Parts {
    store: Store<AgentCtx>,
    bindings: Agent,
    /// How long past its deadline a call that waits in a host call (and so
    /// reaches no epoch check) is abandoned: one epoch tick.
    tick: Duration,
    /// Ticks the epoch while this agent's code runs.
    ticker: Arc<Ticker>,
    /// The engine's fuel count, when fuel is metered.
    fuel_burned: Option<Arc<AtomicU64>>,
    init_writes: Vec<(String, Option<Vec<u8>>)>,
}

impl AgentInstance {
    /// Instantiates `plugin` and calls its `init`.
    pub async fn start(
        engine: &CaxtonEngine,
        plugin: &Plugin,
        spec: InstanceSpec,
    ) -> Result<Self, Failure> {
        let tick = engine.options.tick;
        let ticker = engine.ticker().clone();
        // Instantiation (start functions) and `init` run guest code.
        let _running = ticker.enter();
        let fuel = spec.limits.fuel;
        let background = spec.background;
        let ctx = AgentCtx::new(&spec)?;
        let mut store = Store::new(&engine.engine, ctx);
        store.limiter(|ctx| &mut ctx.limiter);
        // Every tick while guest code runs: a kill, or the wall clock past
        // the call's deadline (time in host calls counts as fully as time
        // in guest code), ends the call; otherwise yield to the executor,
        // so a spinning agent does not starve the others on its thread.
        store.epoch_deadline_callback(move |mut store| {
            let ctx = store.data_mut();
            if ctx.kill.load(Relaxed) {
                return Err(wasmtime::Error::new(Failure::Killed));
            }
            if Instant::now() >= ctx.deadline_at {
                let limit = ctx.limits.deadline;
                return Err(wasmtime::Error::new(Failure::Deadline { limit }));
            }
            if background {
                crate::preempt::yield_core();
            }
            Ok(UpdateDeadline::Yield(1))
        });
        if engine.options.fuel {
            store
                .set_fuel(fuel.unwrap_or(u64::MAX))
                .map_err(|e| Failure::Host(format!("{e:#}")))?;
        } else if fuel.is_some() {
            return Err(Failure::Host(
                "a fuel limit needs a node that meters fuel (caxton-run --fuel)".into(),
            ));
        }
        let deadline = spec.limits.deadline;
        // Instantiation runs guest code too (start functions): a deadline
        // of its own, then a fresh one for `init`.
        store.data_mut().start_call();
        store.set_epoch_deadline(1);
        let until = store.data().deadline_at + tick;
        let instantiate = plugin.pre().instantiate_async(&mut store);
        let bindings = match within(until, instantiate).await {
            None => return Err(Failure::Deadline { limit: deadline }),
            Some(result) => result.map_err(|e| match e.downcast_ref::<Failure>() {
                Some(f) => f.clone(),
                None => Failure::Host(format!("instantiating {}: {e:#}", plugin.name())),
            })?,
        };
        let config = spec.config;
        store.data_mut().start_call();
        store.set_epoch_deadline(1);
        let mut instance = AgentInstance {
            p: Box::new(Parts {
                store,
                bindings,
                tick,
                ticker: ticker.clone(),
                fuel_burned: engine.options.fuel.then(|| engine.fuel_burned.clone()),
                init_writes: Vec::new(),
            }),
        };
        let until = instance.p.store.data().deadline_at + tick;
        let init = instance
            .p
            .bindings
            .call_init(&mut instance.p.store, &config);
        let Some(result) = within(until, init).await else {
            return Err(Failure::Deadline { limit: deadline });
        };
        match result {
            Ok(Ok(())) => {
                instance.p.init_writes = instance.p.store.data_mut().commit_state();
                Ok(instance)
            }
            Ok(Err(reason)) => Err(Failure::Init(budget::clamp_string(reason))),
            Err(e) => Err(instance.classify(e)),
        }
    }

    /// Handles a batch of messages with one call (`handle` for one message,
    /// `handle-batch` for more). On success returns everything the handler
    /// did, in place: the caller applies it, then calls
    /// [`AgentInstance::applied`]. On failure nothing of it happened, and
    /// the batch is handed back unchanged (so a supervisor can deliver it
    /// again without copying it).
    pub async fn handle(
        &mut self,
        batch: Vec<Envelope>,
    ) -> Result<&mut Effects, (Failure, Vec<Envelope>)> {
        let msgs = Batch::Many(batch.into_iter().map(to_wit).collect());
        match self.call(&msgs, Instant::now()).await {
            Ok(()) => Ok(&mut self.p.store.data_mut().effects),
            Err(failure) => Err((failure, msgs.into_envelopes())),
        }
    }

    /// The effects of the last call were applied: empties them, keeping
    /// small buffers, so the next call pushes its reply without allocating.
    /// They are emptied now, not at the next call: an idle agent keeps no
    /// more than small buffers, whatever one call of its made (10,000 sends
    /// would otherwise stay allocated until it is called again).
    pub fn applied(&mut self) {
        self.p.store.data_mut().effects.clear();
    }

    /// [`AgentInstance::handle`] of one message: what nearly every call
    /// is, with no list allocated on the way in or out. The handler's
    /// deadline counts from `now` (a caller that has just read the clock
    /// saves a read).
    pub async fn handle_one(
        &mut self,
        env: Envelope,
        now: Instant,
    ) -> Result<&mut Effects, (Failure, Envelope)> {
        let msg = Batch::One(to_wit(env));
        match self.call(&msg, now).await {
            Ok(()) => Ok(&mut self.p.store.data_mut().effects),
            Err(failure) => Err((failure, msg.into_envelopes().pop().expect("one message"))),
        }
    }

    /// Runs one call; its effects are left in the store's context.
    async fn call(&mut self, msgs: &Batch, now: Instant) -> Result<(), Failure> {
        let count = msgs.as_slice().len() as u64;
        let ctx = self.p.store.data_mut();
        ctx.discard();
        ctx.batch
            .extend(msgs.as_slice().iter().map(|m| (m.id, false)));
        ctx.start_call_at(now);
        ctx.stderr_tail.clear();
        let ctx_deadline = ctx.limits.deadline;
        if let Some(fuel) = ctx.limits.fuel {
            let total = fuel.saturating_mul(count);
            self.p
                .store
                .set_fuel(total)
                .map_err(|e| Failure::Host(format!("{e:#}")))?;
        }
        self.p.store.set_epoch_deadline(1);
        // Only with metering on: without it `get_fuel` is an error, and an
        // error may capture a backtrace (tens of µs with RUST_BACKTRACE).
        let fuel_before = match self.p.fuel_burned {
            Some(_) => self.p.store.get_fuel().ok(),
            None => None,
        };
        let _running = self.p.ticker.enter();
        // One deadline for the whole call, however many messages it has.
        let until = self.p.store.data().deadline_at + self.p.tick;
        let call = async {
            match msgs {
                Batch::One(msg) => {
                    let id = msg.id;
                    self.p
                        .bindings
                        .call_handle(&mut self.p.store, msg)
                        .await
                        .map(|r| {
                            r.err()
                                .map(|reason| vec![(id, budget::clamp_string(reason))])
                                .unwrap_or_default()
                        })
                }
                Batch::Many(msgs) => {
                    self.p
                        .bindings
                        .call_handle_batch(&mut self.p.store, msgs)
                        .await
                        .map(|fails| {
                            // At most one failure per message of the batch: a
                            // guest's longer list names nothing more.
                            fails
                                .into_iter()
                                .take(msgs.len())
                                .map(|f| (f.id, budget::clamp_string(f.reason)))
                                .collect()
                        })
                }
            }
        };
        let result = within(until, call).await;
        if let (Some(count), Some(before)) = (&self.p.fuel_burned, fuel_before)
            && let Ok(after) = self.p.store.get_fuel()
        {
            count.fetch_add(before.saturating_sub(after), Relaxed);
        }
        let Some(result) = result else {
            return Err(Failure::Deadline {
                limit: ctx_deadline,
            });
        };
        match result {
            Ok(failures) => {
                let ctx = self.p.store.data_mut();
                let writes = ctx.commit_state();
                ctx.effects.failures = failures;
                ctx.effects.state_writes = writes;
                ctx.batch.clear();
                Ok(())
            }
            Err(e) => {
                let failure = self.classify(e);
                self.p.store.data_mut().discard();
                Err(failure)
            }
        }
    }

    fn classify(&self, err: wasmtime::Error) -> Failure {
        if let Some(failure) = err.downcast_ref::<Failure>() {
            return failure.clone();
        }
        let ctx = self.p.store.data();
        match err.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => Failure::StackOverflow,
            Some(Trap::OutOfFuel) => Failure::Fuel {
                limit: ctx.limits.fuel.unwrap_or(0),
            },
            Some(Trap::Interrupt) => Failure::Deadline {
                limit: ctx.limits.deadline,
            },
            Some(Trap::MemoryOutOfBounds) => Failure::Trap {
                trap: "out of bounds memory access (a wild pointer, or a guest's shadow stack \
                       exhausted by deep recursion)"
                    .into(),
                detail: panic_message(&ctx.stderr_tail.text()),
            },
            Some(trap) => Failure::Trap {
                trap: trap.to_string(),
                detail: panic_message(&ctx.stderr_tail.text()),
            },
            None => Failure::Trap {
                trap: format!("{err:#}"),
                detail: None,
            },
        }
    }

    /// The state writes `init` made (for durable storage).
    pub fn take_init_writes(&mut self) -> Vec<(String, Option<Vec<u8>>)> {
        std::mem::take(&mut self.p.init_writes)
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.p.store.data().name
    }
}

/// Runs `call` to completion, or gives up at `until` (the deadline plus
/// a tick: a call that waits in a host call, a WASI sleep or poll, runs no
/// guest code and never reaches an epoch check). The timer (a clock
/// read and a timer entry) is made only if the first poll leaves the call
/// pending: nearly every call completes in one poll, and this runs once
/// per batch.
async fn within<F: Future>(until: Instant, call: F) -> Option<F::Output> {
    let mut call = std::pin::pin!(call);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => tokio::time::timeout_at(until.into(), call).await.ok(),
    }
}

/// The useful part of what a panicking Rust guest printed to stderr.
fn panic_message(tail: &str) -> Option<String> {
    let text: Vec<&str> = tail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with"))
        .collect();
    if text.is_empty() {
        None
    } else {
        Some(text.join(" "))
    }
}
