//! Restart policy and the supervisor's bookkeeping, as plain data: what to
//! do after a failure is decided here, deterministically, from the policy,
//! the restart history and `now`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::failure::Failure;

/// When a failed agent is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartMode {
    /// A failure is final.
    #[default]
    Never,
    /// Restart after a failure while handling a message; a failing `init`
    /// is final (a broken config does not fix itself).
    OnFailure,
    /// Restart after any failure, a failing `init` included.
    Always,
}

/// How an agent is supervised.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestartPolicy {
    /// When to restart.
    pub mode: RestartMode,
    /// Most restarts within `window`; one more marks the agent failed.
    pub max_restarts: u32,
    /// The window `max_restarts` counts in.
    pub window: Duration,
    /// Delay before the second consecutive restart; doubles each time.
    /// The first restart after a success is immediate.
    pub backoff: Duration,
    /// The cap on the delay.
    pub backoff_max: Duration,
    /// Times one message may be redelivered after it crashed the agent
    /// before it goes to the dead-letter queue.
    pub max_retries: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            mode: RestartMode::Never,
            max_restarts: 10,
            window: Duration::from_secs(10),
            backoff: Duration::from_millis(1),
            backoff_max: Duration::from_secs(1),
            max_retries: 2,
        }
    }
}

/// The restart history of one agent.
#[derive(Debug, Default, Clone)]
pub struct Supervisor {
    /// When recent restarts happened (within the window).
    recent: VecDeque<Instant>,
    /// Restarts since the last successfully handled message.
    consecutive: u32,
    /// All restarts.
    pub restarts: u64,
    /// The last failure and when it happened.
    pub last_failure: Option<(Failure, Instant)>,
}

/// What to do after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start a new instance after this delay.
    Restart(Duration),
    /// Mark the agent failed for good, with this reason.
    GiveUp(Failure),
}

impl Supervisor {
    /// Records `failure` at `now` and decides. `in_init` tells a failing
    /// `init` (of a restart) from a failing handler.
    pub fn on_failure(
        &mut self,
        policy: &RestartPolicy,
        failure: &Failure,
        in_init: bool,
        now: Instant,
    ) -> Decision {
        self.last_failure = Some((failure.clone(), now));
        let allowed = match policy.mode {
            RestartMode::Never => false,
            RestartMode::OnFailure => !in_init && *failure != Failure::Killed,
            RestartMode::Always => *failure != Failure::Killed,
        };
        if !allowed {
            return Decision::GiveUp(failure.clone());
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= policy.max_restarts as usize {
            return Decision::GiveUp(Failure::GaveUp {
                restarts: self.recent.len() as u32,
                window: policy.window,
                last: Box::new(failure.clone()),
            });
        }
        let delay = match self.consecutive {
            0 => Duration::ZERO,
            n => policy
                .backoff
                .saturating_mul(1u32 << (n - 1).min(20))
                .min(policy.backoff_max),
        };
        self.recent.push_back(now);
        self.consecutive += 1;
        self.restarts += 1;
        Decision::Restart(delay)
    }

    /// A message was handled: the next failure restarts without delay.
    pub fn on_success(&mut self) {
        self.consecutive = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trap() -> Failure {
        Failure::Trap {
            trap: "unreachable".into(),
            detail: None,
        }
    }

    fn policy(mode: RestartMode) -> RestartPolicy {
        RestartPolicy {
            mode,
            max_restarts: 3,
            window: Duration::from_secs(10),
            backoff: Duration::from_millis(10),
            backoff_max: Duration::from_millis(25),
            max_retries: 2,
        }
    }

    #[test]
    fn never_gives_up_at_once() {
        let mut s = Supervisor::default();
        let d = s.on_failure(&policy(RestartMode::Never), &trap(), false, Instant::now());
        assert_eq!(d, Decision::GiveUp(trap()));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets_on_success() {
        let p = RestartPolicy {
            max_restarts: 100,
            ..policy(RestartMode::OnFailure)
        };
        let mut s = Supervisor::default();
        let now = Instant::now();
        let delays: Vec<_> = (0..4)
            .map(|_| match s.on_failure(&p, &trap(), false, now) {
                Decision::Restart(d) => d.as_millis(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [0, 10, 20, 25]);
        s.on_success();
        assert_eq!(
            s.on_failure(&p, &trap(), false, now),
            Decision::Restart(Duration::ZERO)
        );
        assert_eq!(s.restarts, 5);
    }

    #[test]
    fn too_many_restarts_in_the_window_give_up_and_say_why() {
        let p = policy(RestartMode::OnFailure);
        let mut s = Supervisor::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(matches!(
                s.on_failure(&p, &trap(), false, t0),
                Decision::Restart(_)
            ));
        }
        let Decision::GiveUp(reason) = s.on_failure(&p, &trap(), false, t0) else {
            panic!()
        };
        assert!(
            reason.to_string().contains("3 restarts within 10s"),
            "{reason}"
        );
        // Outside the window the old restarts no longer count.
        let later = t0 + Duration::from_secs(11);
        assert!(matches!(
            s.on_failure(&p, &trap(), false, later),
            Decision::Restart(_)
        ));
    }

    #[test]
    fn init_failures_restart_only_under_always_and_kills_never() {
        let init = Failure::Init("bad config".into());
        let now = Instant::now();
        let mut s = Supervisor::default();
        assert!(matches!(
            s.on_failure(&policy(RestartMode::OnFailure), &init, true, now),
            Decision::GiveUp(_)
        ));
        assert!(matches!(
            s.on_failure(&policy(RestartMode::Always), &init, true, now),
            Decision::Restart(_)
        ));
        let d = s.on_failure(&policy(RestartMode::Always), &Failure::Killed, false, now);
        assert_eq!(d, Decision::GiveUp(Failure::Killed));
    }
}
