//! The simulation's messages, how they end, and its seeded random source.

use crate::core::lifecycle::Retried;
use crate::core::mailbox::Weight;

/// A message of the simulation.
#[derive(Debug)]
pub(super) struct Msg {
    pub(super) id: u64,
    pub(super) attempts: u32,
    /// Crashes the agent every time it is handled.
    pub(super) poison: bool,
}

impl Weight for Msg {
    fn weight(&self) -> usize {
        100
    }
}

impl Retried for Msg {
    fn attempts(&mut self) -> &mut u32 {
        &mut self.attempts
    }
}

/// How a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Handled,
    Dead,
    Answered,
    Refused,
}

/// SplitMix64: small, seedable, good enough to pick events.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
