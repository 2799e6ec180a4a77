//! What the node counts: messages, failures, recovery times, dead letters.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::dead_letter::DeadLetter;
use super::local::Node;
use crate::measure::{Stats, new_histogram};

impl Node {
    /// Messages that agents sent to addresses that did not accept them.
    pub fn undeliverable(&self) -> u64 {
        self.inner.undeliverable.load(Relaxed)
    }

    /// Messages moved to the dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.dead_letters.lock().unwrap().clone()
    }

    pub(crate) fn record_recovery(&self, label: &'static str, took: Duration) {
        let mut recovery = self.inner.recovery.lock().unwrap();
        let hist = recovery.entry(label).or_insert_with(new_histogram);
        hist.saturating_record((took.as_nanos() as u64).max(1));
    }

    /// Time from a failure to the next successfully handled message, per
    /// failure reason (`trap`, `memory`, `deadline`, ...).
    pub fn recovery_stats(&self) -> Vec<Stats> {
        let recovery = self.inner.recovery.lock().unwrap();
        let mut out: Vec<Stats> = recovery
            .iter()
            .map(|(label, h)| {
                Stats::from_histogram(&format!("recovery ({label})"), h, 0, Duration::ZERO, None)
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub(crate) fn count_failure(&self, label: &'static str) {
        *self
            .inner
            .failures
            .lock()
            .unwrap()
            .entry(label)
            .or_default() += 1;
    }

    /// Agent failures so far, per reason (`trap`, `memory`, `deadline`, ...).
    pub fn failure_counts(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<_> = self
            .inner
            .failures
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        out.sort();
        out
    }

    /// Messages handled by agents, and messages they produced (replies,
    /// forwards, sends), since the node started.
    pub fn message_counts(&self) -> (u64, u64) {
        (
            self.inner.handled.load(Relaxed),
            self.inner.emitted.load(Relaxed),
        )
    }

    /// Live agents per plugin name.
    pub fn agents_per_plugin(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for agents in self.inner.registry.read().unwrap().values() {
            for cell in agents.values() {
                *counts.entry(cell.plugin.name().to_string()).or_default() += 1;
            }
        }
        let mut out: Vec<_> = counts.into_iter().collect();
        out.sort();
        out
    }
}
