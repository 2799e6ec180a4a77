//! The run window by window: latency by send time per window (so a backlog
//! shows where it was caused) and the process's memory as each began.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::LoadError;
use super::options::{LoadOptions, MAX_WINDOWS, Until};
use super::run::touched;

/// One window of a run's timeline: the operations *sent* in it (latency by
/// send time, so a backlog shows where it was caused).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Start of the window, seconds from the start of the run.
    pub start_s: f64,
    /// Successful operations sent in it.
    pub count: u64,
    /// Median latency, ns.
    pub p50: u64,
    /// 99th percentile latency, ns.
    pub p99: u64,
    /// Highest latency, ns.
    pub max: u64,
    /// The process's resident memory when the window began.
    pub rss_bytes: Option<u64>,
}

/// Per-window histograms of a run, and their length.
pub(super) type Windows = (Duration, Vec<Mutex<Histogram<u64>>>);

/// The windows `options` asks for, or why they cannot be made.
pub(super) fn windows(options: &LoadOptions) -> Result<Option<Windows>, LoadError> {
    match (options.window, options.until) {
        (None, _) => Ok(None),
        (Some(w), Until::Elapsed(d)) => {
            if w.is_zero() {
                return Err(LoadError::ZeroWindow);
            }
            let n = d.as_nanos().div_ceil(w.as_nanos()) as u64;
            if n > MAX_WINDOWS {
                return Err(LoadError::TooManyWindows {
                    windows: n,
                    window: w,
                    duration: d,
                });
            }
            // Two significant digits: a window needs its shape, not 0.1%.
            let h = || {
                Mutex::new(touched(
                    Histogram::new_with_bounds(1, 3_600_000_000_000, 2).expect("valid bounds"),
                ))
            };
            Ok(Some((w, (0..n.max(1)).map(|_| h()).collect())))
        }
        (Some(_), Until::Operations(_)) => Err(LoadError::WindowNeedsDuration),
    }
}

pub(super) fn window_index(offset: Duration, length: Duration) -> usize {
    // Nanoseconds fit a u64 for 584 years; u64 division is the cheap one.
    (offset.as_nanos() as u64 / (length.as_nanos() as u64).max(1)) as usize
}

/// The timeline's memory: sampled by the scheduling thread as each window
/// begins (never by the threads doing the work). The check per scheduled
/// send is one comparison with the next window's start.
pub(super) struct RssSampler {
    window: Option<Duration>,
    next: Option<Instant>,
    samples: Vec<Option<u64>>,
}

impl RssSampler {
    /// A sampler for windows of `window` from `start` (none without).
    pub(super) fn new(window: Option<Duration>, start: Instant) -> Self {
        RssSampler {
            window,
            next: window.map(|_| start),
            samples: Vec::new(),
        }
    }

    /// Samples once for every window that has begun by `now`.
    pub(super) fn sample(&mut self, now: Instant) {
        if let (Some(next), Some(w)) = (self.next.as_mut(), self.window) {
            while now >= *next {
                self.samples.push(crate::measure::resources::rss_bytes());
                *next += w;
            }
        }
    }
}

/// The timeline of a finished run.
pub(super) fn timeline(windows: &Option<Windows>, rss: &RssSampler) -> Vec<Window> {
    let Some((length, windows)) = windows else {
        return Vec::new();
    };
    windows
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = h.lock().unwrap();
            let q = |q: f64| {
                if h.is_empty() {
                    0
                } else {
                    h.value_at_quantile(q)
                }
            };
            Window {
                start_s: length.as_secs_f64() * i as f64,
                count: h.len(),
                p50: q(0.5),
                p99: q(0.99),
                max: h.max(),
                rss_bytes: rss.samples.get(i).copied().flatten(),
            }
        })
        .collect()
}
