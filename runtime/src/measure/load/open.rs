//! The open model: operations scheduled at a constant arrival rate (with an
//! optional burst), whatever the target does; each is timed from its
//! scheduled time, so a stall shows (no coordinated omission).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::LoadError;
use super::options::LoadOptions;
use super::run::{Run, SHARDS, Tally, touched};
use super::timeline::RssSampler;
use crate::measure::stats::new_histogram;

/// Schedules operations on this thread until the run's end or budget.
pub(super) fn drive(
    run: &Arc<Run>,
    options: &LoadOptions,
    rate: f64,
    max_in_flight: usize,
    rss: &mut RssSampler,
) -> Result<Tally, LoadError> {
    if !(rate > 0.0 && rate.is_finite()) {
        return Err(LoadError::Rate { what: "rate", rate });
    }
    if let Some(b) = options.burst
        && !(b.rate > 0.0 && b.rate.is_finite())
    {
        return Err(LoadError::Rate {
            what: "burst rate",
            rate: b.rate,
        });
    }
    // The send lag, recorded by this thread alone (no lock).
    let mut tally = Tally {
        send_lag: Some(touched(new_histogram())),
        ..Tally::default()
    };
    // The rate at offset `t`: the burst's inside it, else `rate`.
    let rate_at = |t: Duration| match options.burst {
        Some(b) if t >= b.at && t < b.at + b.length => b.rate,
        _ => rate,
    };
    let mut offset = Duration::ZERO;
    let mut k: u64 = 0;
    loop {
        let scheduled = run.start + offset;
        if run.end.is_some_and(|end| scheduled >= end) || run.budget.is_some_and(|b| k >= b) {
            break;
        }
        let now = Instant::now();
        rss.sample(now.min(scheduled));
        if scheduled > now {
            // Sleep, never spin: a spinning scheduler would take a core
            // from what it measures. The OS wakes it late (tens of us on
            // bare metal, hundreds on a small VM); that lateness is part
            // of each latency (timed from the schedule) and `send_lag`
            // reports it, and the sends that fell due meanwhile go out
            // together.
            std::thread::sleep((scheduled - now).max(options.tick));
            continue;
        }
        if run.in_flight.load(Relaxed) >= max_in_flight {
            tally.dropped += 1;
        } else {
            let behind = now - scheduled;
            if behind > options.late_after {
                tally.late += 1;
            }
            if let Some(lag) = tally.send_lag.as_mut() {
                lag.saturating_record(behind.as_nanos().try_into().unwrap_or(u64::MAX));
            }
            run.start_op((k % SHARDS as u64) as usize, k, scheduled, |_| {});
        }
        k += 1;
        offset += Duration::from_secs_f64(1.0 / rate_at(offset));
    }
    run.stopping.store(true, Relaxed);
    Ok(tally)
}
