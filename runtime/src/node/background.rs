//! The background pool: where the agents of `priority = "background"`
//! tenants run.
//!
//! A quota on worker threads keeps a tenant off *some* workers, but on a
//! machine with few cores its busy threads still compete with everyone
//! else's for the CPU, and the scheduler hands out time slices of
//! milliseconds: a latency-sensitive tenant then waits for a slice. The
//! pool's threads ask the OS for the lowest priority there is (`SCHED_IDLE`
//! on Linux), so the kernel preempts them as soon as a normal thread has
//! work: a background tenant driven flat out gets only the CPU the others
//! leave idle, and they see it only as a colder cache.
//!
//! The pool is made on first use, so a node without background tenants
//! has no extra threads.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use tokio::runtime::{Handle, Runtime};

/// A tokio runtime whose workers run at the lowest OS priority.
pub(crate) struct BackgroundPool {
    /// `Some` until drop (a runtime cannot be dropped inside another
    /// runtime's context, so drop shuts it down in the background instead).
    runtime: Option<Runtime>,
}

impl BackgroundPool {
    /// A pool of one worker per core.
    pub(crate) fn new() -> std::io::Result<BackgroundPool> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("caxton-background")
            .on_thread_start(lower_this_thread)
            .build()?;
        Ok(BackgroundPool {
            runtime: Some(runtime),
        })
    }

    /// Where background drains are spawned.
    pub(crate) fn handle(&self) -> &Handle {
        self.runtime
            .as_ref()
            .expect("the pool's runtime lives until drop")
            .handle()
    }
}

impl Drop for BackgroundPool {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether the pool's threads could not be lowered (warned about once).
static NOT_LOWERED: AtomicBool = AtomicBool::new(false);

/// Moves the calling thread to the lowest priority class. Where the OS
/// refuses (or has no such class) the pool still works, at normal
/// priority, and says so once.
fn lower_this_thread() {
    if let Err(why) = set_idle_priority()
        && !NOT_LOWERED.swap(true, Relaxed)
    {
        tracing::warn!(
            "background tenants run at normal priority: the OS refused the idle class ({why})"
        );
    }
}

#[cfg(target_os = "linux")]
fn set_idle_priority() -> Result<(), thread_priority::Error> {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    )
}

#[cfg(not(target_os = "linux"))]
fn set_idle_priority() -> Result<(), &'static str> {
    Err("only Linux has SCHED_IDLE")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
    };

    fn idle_class() -> bool {
        thread_schedule_policy().unwrap()
            == ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
    }

    #[test]
    fn the_pools_workers_run_in_the_idle_class_and_others_do_not() {
        let pool = BackgroundPool::new().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        pool.handle().spawn(async move {
            tx.send(idle_class()).unwrap();
        });
        assert!(rx.recv().unwrap(), "a pool worker is not SCHED_IDLE");
        assert!(!idle_class());
    }
}
