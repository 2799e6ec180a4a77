//! What the host may hold on one agent's behalf, and the ledgers that
//! charge it *before* the host allocates.
//!
//! An agent's own linear memory is bounded by its `memory` limit. Whatever
//! the host keeps for it besides is bounded by the same figure again,
//! split three ways ([`HostBudget::of`]):
//!
//! - **a call**: the sends, replies and forwards it produced, with their
//!   payload copies and addresses, and its pending state writes (keys and
//!   values, deletes too): a quarter of `memory`, but always room for one
//!   message of `max_message` (a relay must be able to pass one on);
//! - **its mailbox**: queued messages and the batch being handled: half of
//!   `memory` (and at most `mailbox` messages), but an empty mailbox always
//!   takes one message of up to `max_message`;
//! - **its persistent state**: keys and values: a quarter of `memory`, and
//!   at most [`MAX_STATE_KEYS`] keys.
//!
//! So the host holds at most `2 x memory + 2 x max_message` for an agent,
//! plus the fixed cost of the agent itself. Every held item is charged its
//! bytes plus [`ENTRY`] for its bookkeeping, so a flood of empty items is
//! bounded too.

use std::time::Duration;

use super::limits::AgentLimits;

/// Bytes charged per held item on top of its own bytes: the headers of its
/// vectors and strings and its slot in a queue or map.
pub const ENTRY: usize = 64;

/// Most sends, replies and forwards one call may produce.
pub const MAX_EFFECTS: usize = 65_536;

/// Most keys an agent's persistent state may have.
pub const MAX_STATE_KEYS: usize = 65_536;

/// Longest state key.
pub const MAX_KEY: usize = 1024;

/// Longest text the host keeps of a guest's string (a log line, a
/// handler's failure reason); the rest is cut with [`TRUNCATED`].
pub const MAX_TEXT: usize = 4096;

/// What a text cut short ends with, so a reader sees it was cut.
pub const TRUNCATED: &str = "... (truncated)";

/// The byte budgets of one agent, derived from its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostBudget {
    /// What one call may make the host hold.
    pub call: usize,
    /// What its mailbox may hold (an empty one always takes one message).
    pub mailbox: usize,
    /// What its persistent state may hold.
    pub state: usize,
}

impl HostBudget {
    /// The budgets of an agent with `limits` (see the module docs).
    pub fn of(limits: &AgentLimits) -> HostBudget {
        let memory = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        HostBudget {
            call: (memory / 4).max(limits.max_message.saturating_add(64 << 10)),
            mailbox: memory / 2,
            state: memory / 4,
        }
    }
}

/// A budget went over: what was refused, and the figures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what}: the host would hold {would} {unit} for this agent's {budget}, over its budget of {limit} {unit} (derived from its memory limit; see docs/tenants.md)"
)]
pub struct OverBudget {
    /// What was refused ("send", "state write", ...).
    pub what: &'static str,
    /// Which budget: "call", "mailbox" or "state".
    pub budget: &'static str,
    /// "bytes", or "keys" for the state's key count.
    pub unit: &'static str,
    /// What it would have come to.
    pub would: usize,
    /// The budget.
    pub limit: usize,
}

/// Bytes held against one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    used: usize,
    limit: usize,
    budget: &'static str,
}

impl Ledger {
    /// An empty ledger for `budget` ("call", "mailbox", "state") of `limit` bytes.
    pub fn new(budget: &'static str, limit: usize) -> Ledger {
        Ledger {
            used: 0,
            limit,
            budget,
        }
    }

    /// Charges `bytes` for `what`, or refuses without charging.
    pub fn charge(&mut self, what: &'static str, bytes: usize) -> Result<(), OverBudget> {
        self.replace(what, 0, bytes)
    }

    /// Replaces `old` bytes charged earlier with `new`, or refuses and
    /// leaves the charge as it was.
    pub fn replace(
        &mut self,
        what: &'static str,
        old: usize,
        new: usize,
    ) -> Result<(), OverBudget> {
        let would = self.used.saturating_sub(old).saturating_add(new);
        if new > old && would > self.limit {
            return Err(OverBudget {
                what,
                budget: self.budget,
                unit: "bytes",
                would,
                limit: self.limit,
            });
        }
        self.used = would;
        Ok(())
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Forgets everything held (the call ended).
    pub fn clear(&mut self) {
        self.used = 0;
    }
}

/// `text` cut to at most [`MAX_TEXT`] bytes (on a character boundary),
/// ending with [`TRUNCATED`] when it was cut.
pub fn clamp_text(text: &str) -> std::borrow::Cow<'_, str> {
    clamp_to(text, MAX_TEXT)
}

/// A guest's `text` as the host keeps it: unchanged (not copied) when it
/// fits in [`MAX_TEXT`], else cut as [`clamp_text`] cuts it.
pub fn clamp_string(text: String) -> String {
    if text.len() <= MAX_TEXT {
        text
    } else {
        clamp_text(&text).into_owned()
    }
}

/// `text` cut to at most `max` bytes in all, marker included.
pub fn clamp_to(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub(TRUNCATED.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{TRUNCATED}", &text[..end]).into()
}

/// Lines and bytes of log one agent may write per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRate {
    /// Lines per second.
    pub lines: u32,
    /// Bytes per second.
    pub bytes: usize,
}

impl Default for LogRate {
    fn default() -> Self {
        LogRate {
            lines: 200,
            bytes: 64 << 10,
        }
    }
}

/// What to do with one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogVerdict {
    /// Write it.
    Write,
    /// Write it, after a line saying `dropped` lines were dropped over the
    /// rate in the second before.
    WriteAfterDrops {
        /// Lines dropped.
        dropped: u64,
    },
    /// Drop it; `first` is true for the first line dropped in this second
    /// (report once that the agent is over its rate).
    Drop {
        /// The first drop of this second.
        first: bool,
    },
}

/// A per-agent log rate limit over one-second windows. Sans-IO: the
/// caller passes the time.
#[derive(Debug, Clone)]
pub struct LogLimiter {
    rate: LogRate,
    window: Duration,
    lines: u32,
    bytes: usize,
    /// Dropped in the current window (the first one is announced).
    dropped_in_window: u64,
    /// Dropped and not yet reported by a written line.
    unreported: u64,
    dropped_total: u64,
}

impl LogLimiter {
    /// A limiter at `rate`.
    pub fn new(rate: LogRate) -> LogLimiter {
        LogLimiter {
            rate,
            window: Duration::ZERO,
            lines: 0,
            bytes: 0,
            dropped_in_window: 0,
            unreported: 0,
            dropped_total: 0,
        }
    }

    /// Whether a line of `bytes` written at `now` (since any fixed point)
    /// goes out.
    pub fn admit(&mut self, now: Duration, bytes: usize) -> LogVerdict {
        if now >= self.window + Duration::from_secs(1) {
            self.window = now;
            self.lines = 0;
            self.bytes = 0;
            self.dropped_in_window = 0;
        }
        if self.lines >= self.rate.lines || self.bytes.saturating_add(bytes) > self.rate.bytes {
            self.dropped_in_window += 1;
            self.unreported += 1;
            self.dropped_total += 1;
            return LogVerdict::Drop {
                first: self.dropped_in_window == 1,
            };
        }
        self.lines += 1;
        self.bytes += bytes;
        match std::mem::take(&mut self.unreported) {
            0 => LogVerdict::Write,
            dropped => LogVerdict::WriteAfterDrops { dropped },
        }
    }

    /// The rate it holds lines to.
    pub fn rate(&self) -> LogRate {
        self.rate
    }

    /// Lines dropped since the limiter was made.
    pub fn dropped(&self) -> u64 {
        self.dropped_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_follow_the_limits() {
        let limits = AgentLimits {
            memory: 16 << 20,
            max_message: 1 << 20,
            ..AgentLimits::default()
        };
        let b = HostBudget::of(&limits);
        assert_eq!(b.call, 4 << 20);
        assert_eq!(b.mailbox, 8 << 20);
        assert_eq!(b.state, 4 << 20);
        // A small agent can still pass on one full-size message.
        let small = AgentLimits {
            memory: 128 << 10,
            ..limits
        };
        assert_eq!(HostBudget::of(&small).call, (1 << 20) + (64 << 10));
    }

    #[test]
    fn a_ledger_refuses_before_charging() {
        let mut l = Ledger::new("call", 100);
        l.charge("send", 60).unwrap();
        let err = l.charge("send", 41).unwrap_err();
        assert_eq!((err.would, err.limit, err.budget), (101, 100, "call"));
        assert_eq!(l.used(), 60);
        l.replace("send", 20, 0).unwrap();
        l.charge("send", 60).unwrap();
        assert_eq!(l.used(), 100);
        // Replacing a charge with a larger one is refused as a whole.
        assert!(l.replace("write", 10, 11).is_err());
        assert_eq!(l.used(), 100);
        l.replace("write", 10, 5).unwrap();
        assert_eq!(l.used(), 95);
        l.clear();
        assert_eq!(l.used(), 0);
    }

    #[test]
    fn clamped_text_ends_with_the_marker_and_fits() {
        assert_eq!(clamp_to("short", 100), "short");
        let long = "é".repeat(10_000);
        let cut = clamp_to(&long, 1000);
        assert!(cut.len() <= 1000, "{}", cut.len());
        assert!(cut.ends_with(TRUNCATED));
        assert!(clamp_text(&long).len() <= MAX_TEXT);
        assert!(clamp_string(long).ends_with(TRUNCATED));
        assert_eq!(clamp_string("fits".into()), "fits");
    }

    #[test]
    fn a_log_flood_is_cut_and_reported_once_per_second() {
        let mut l = LogLimiter::new(LogRate {
            lines: 3,
            bytes: 1000,
        });
        let t0 = Duration::from_secs(5);
        for _ in 0..3 {
            assert_eq!(l.admit(t0, 10), LogVerdict::Write);
        }
        assert_eq!(l.admit(t0, 10), LogVerdict::Drop { first: true });
        assert_eq!(l.admit(t0, 10), LogVerdict::Drop { first: false });
        // Bytes count too: one line over the byte rate is dropped.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(l.admit(t1, 10), LogVerdict::WriteAfterDrops { dropped: 2 });
        assert_eq!(l.admit(t1, 2000), LogVerdict::Drop { first: true });
        assert_eq!(l.dropped(), 3);
    }
}
