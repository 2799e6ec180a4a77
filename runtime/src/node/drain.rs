//! The drain loop: feeding queued messages to an agent's instance, and
//! supervising it when it fails. What to do is decided by the agent's
//! sans-IO lifecycle (`core::lifecycle`); this only carries it out
//! (calls into the instance, timers, restarts, answers).
//!
//! The mailbox belongs to the node, not the instance: when an instance
//! fails, the batch it was handling goes back to the front of the mailbox
//! and everything queued behind it waits for the restarted instance. A batch
//! of several messages is then redelivered one message at a time
//! ("probation"), so the message that crashes the agent is found; it is
//! retried up to the policy's limit and then moved to the dead-letter queue,
//! and its requester gets the failure.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::cell::{AgentCell, Delivery, ReplyTo, Status};
use super::dead_letter::DeadLetter;
use super::error::RequestError;
use super::local::Node;
use crate::core::envelope::Envelope;
use crate::core::failure::Failure;
use crate::core::supervision::Decision;
use crate::host::AgentInstance;

impl Node {
    /// Feeds queued messages to the instance until the mailbox is empty (or,
    /// with a `budget`, until that many batches ran: an inline drain then
    /// hands the rest to the runtime).
    ///
    /// On the runtime, a tenant with a `workers` quota runs each batch
    /// holding one of its permits, so its agents never occupy more worker
    /// threads than that; waiting for a permit holds no thread. (An inline
    /// drain runs on the caller's thread, not a worker, and needs none.)
    pub(crate) async fn drain(&self, cell: Arc<AgentCell>, budget: Option<usize>) {
        let mut instance = None;
        let mut batches = 0;
        let workers = budget
            .is_none()
            .then(|| cell.tenant_state.as_ref()?.workers.clone())
            .flatten();
        let background = cell.is_background();
        loop {
            let permit = match &workers {
                Some(permits) => permits.acquire().await.ok(),
                None => None,
            };
            let Some(batch) = cell.next_batch(&mut instance, batches == 0) else {
                break;
            };
            self.run_batch(&cell, &mut instance, batch).await;
            // Between batches the permit goes to the tenant's next agent.
            drop(permit);
            batches += 1;
            match budget {
                Some(max) if batches >= max => {
                    *cell.instance.lock().unwrap() = instance.take();
                    self.schedule(cell);
                    return;
                }
                Some(_) => {}
                // Let other agents on this worker run between batches.
                None => {
                    if background {
                        // And any normal thread the OS has waiting for
                        // this core (see `crate::preempt`).
                        crate::preempt::yield_core();
                    }
                    tokio::task::yield_now().await
                }
            }
        }
    }

    async fn run_batch(
        &self,
        cell: &Arc<AgentCell>,
        instance: &mut Option<AgentInstance>,
        mut batch: Vec<Delivery>,
    ) {
        let Some(live) = instance.as_mut() else {
            for delivery in batch {
                self.reject(cell, delivery);
            }
            return;
        };
        // One message (nearly every call): no lists on the way.
        if batch.len() == 1 {
            let Delivery {
                env,
                reply,
                attempts,
                hops,
            } = batch.pop().expect("a batch of one");
            let mut slots = [(env.id, reply, hops)];
            match live.handle_one(env, Instant::now()).await {
                Ok(effects) => {
                    self.handled(cell, effects, &mut slots);
                    live.applied();
                }
                Err((failure, env)) => {
                    let [(_, reply, hops)] = slots;
                    let batch = vec![Delivery {
                        env,
                        reply,
                        attempts,
                        hops,
                    }];
                    self.failed(cell, instance, failure, batch).await;
                }
            }
            return;
        }
        let mut slots = Vec::with_capacity(batch.len());
        let mut attempts = Vec::with_capacity(batch.len());
        let mut envelopes = Vec::with_capacity(batch.len());
        for delivery in batch {
            slots.push((delivery.env.id, delivery.reply, delivery.hops));
            attempts.push(delivery.attempts);
            envelopes.push(delivery.env);
        }
        match live.handle(envelopes).await {
            Ok(effects) => {
                self.handled(cell, effects, &mut slots);
                live.applied();
            }
            Err((failure, envelopes)) => {
                let batch = envelopes
                    .into_iter()
                    .zip(slots)
                    .zip(attempts)
                    .map(|((env, (_, reply, hops)), attempts)| Delivery {
                        env,
                        reply,
                        attempts,
                        hops,
                    })
                    .collect();
                self.failed(cell, instance, failure, batch).await;
            }
        }
    }

    /// A batch handled: counted, and its effects carried out.
    fn handled(
        &self,
        cell: &Arc<AgentCell>,
        effects: &mut crate::core::envelope::Effects,
        slots: &mut [(u64, Option<ReplyTo>, u8)],
    ) {
        let n = slots.len() as u64;
        let recovered = cell.inner.lock().unwrap().handled(n);
        self.count_handled(n, recovered);
        self.apply(cell, effects, slots);
    }

    /// Counts `n` handled messages, and the recovery they end (if any).
    pub(super) fn count_handled(&self, n: u64, recovered: Option<(Instant, &'static str)>) {
        self.inner.handled.fetch_add(n, Relaxed);
        if let Some((since, reason)) = recovered {
            self.record_recovery(reason, since.elapsed());
        }
    }

    /// A batch failed: the instance is gone; the supervisor decides what
    /// happens to the batch and whether a new instance starts.
    pub(super) async fn failed(
        &self,
        cell: &Arc<AgentCell>,
        instance: &mut Option<AgentInstance>,
        failure: Failure,
        batch: Vec<Delivery>,
    ) {
        *instance = None;
        self.count_failure(failure.label());
        tracing::debug!(
            agent = &*cell.name,
            tenant = &*cell.tenant,
            "agent failed: {failure}"
        );
        // Boxed: the cold path's future (a restart) would otherwise
        // make every drain's future kilobytes larger.
        *instance = Box::pin(self.supervise(cell, failure, batch)).await;
    }

    /// Carries out what the lifecycle decides after a failure: the batch
    /// goes back to the mailbox (or to the dead-letter queue), and the
    /// agent is restarted after the backoff; or everything left is
    /// answered with the failure.
    async fn supervise(
        &self,
        cell: &Arc<AgentCell>,
        failure: Failure,
        batch: Vec<Delivery>,
    ) -> Option<AgentInstance> {
        let failed_at = Instant::now();
        let after = cell
            .inner
            .lock()
            .unwrap()
            .failed(&cell.policy, &failure, batch, failed_at);
        for delivery in after.dead {
            self.dead_letter(cell, delivery, &failure);
        }
        let mut decision = after.decision;
        let mut unanswered = after.answer;
        loop {
            match decision {
                Decision::GiveUp(reason) => {
                    tracing::warn!(agent = &*cell.name, "agent is failed for good: {reason}");
                    for delivery in unanswered {
                        self.answer_failed(cell, delivery, &reason);
                    }
                    return None;
                }
                Decision::Restart(delay) => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if !cell.inner.lock().unwrap().may_restart() {
                        return None;
                    }
                    match self.restart(cell).await {
                        Ok(instance) => {
                            let label = failure.label();
                            cell.inner.lock().unwrap().restarted(failed_at, label);
                            return Some(instance);
                        }
                        Err(init_failure) => {
                            let (next, queued) = cell.inner.lock().unwrap().restart_failed(
                                &cell.policy,
                                &init_failure,
                                Instant::now(),
                            );
                            decision = next;
                            unanswered = queued;
                        }
                    }
                }
            }
        }
    }

    async fn restart(&self, cell: &AgentCell) -> Result<AgentInstance, Failure> {
        let spec = cell.instance_spec();
        let mut instance = AgentInstance::start(&self.inner.engine, &cell.plugin, spec).await?;
        self.persist_writes(cell, &instance.take_init_writes());
        Ok(instance)
    }

    fn dead_letter(&self, cell: &AgentCell, delivery: Delivery, failure: &Failure) {
        let Delivery {
            env,
            reply,
            attempts,
            ..
        } = delivery;
        let Envelope {
            id,
            sender,
            kind,
            payload,
            ..
        } = env;
        tracing::debug!(
            agent = &*cell.name,
            id,
            "message moved to the dead-letter queue: {failure}"
        );
        if let Some(to) = reply {
            let err = RequestError::AgentFailed {
                name: cell.name.to_string(),
                failure: failure.clone(),
            };
            self.answer(&cell.name, to, Err(err));
        }
        self.inner.dead_letters.lock().unwrap().push(DeadLetter {
            agent: cell.name.to_string(),
            tenant: cell.tenant.to_string(),
            id,
            sender,
            kind,
            payload,
            attempts,
            reason: failure.clone(),
        });
    }

    fn answer_failed(&self, cell: &AgentCell, delivery: Delivery, failure: &Failure) {
        if let Some(to) = delivery.reply {
            let err = RequestError::AgentFailed {
                name: cell.name.to_string(),
                failure: failure.clone(),
            };
            self.answer(&cell.name, to, Err(err));
        }
    }

    /// Answers a delivery the agent will never handle, with its status.
    pub(crate) fn reject(&self, cell: &AgentCell, delivery: Delivery) {
        let Some(to) = delivery.reply else { return };
        let err = match cell.status() {
            Status::Failed(Failure::Killed) | Status::Stopped | Status::Stopping => {
                RequestError::Dropped(cell.name.to_string())
            }
            Status::Failed(failure) => RequestError::AgentFailed {
                name: cell.name.to_string(),
                failure,
            },
            Status::Running => RequestError::Dropped(cell.name.to_string()),
        };
        self.answer(&cell.name, to, Err(err));
    }
}
