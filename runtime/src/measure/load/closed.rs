//! The closed model: `concurrency` workers, each starting its next
//! operation when its previous one completes.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::run::Run;
use super::timeline::RssSampler;

/// Runs the workers until none may start another operation.
pub(super) fn drive(run: &Arc<Run>, concurrency: usize, rss: &mut RssSampler) {
    let concurrency = concurrency.max(1);
    run.workers.store(concurrency, Relaxed);
    for w in 0..concurrency {
        next(run, w, 0);
    }
    // Wait for every worker to stop starting operations.
    run.wait_idle(
        |run| run.workers.load(Relaxed) == 0,
        |_| rss.sample(Instant::now()),
    );
}

/// Closed model: the worker's next operation, as long as the run lasts.
fn next(run: &Arc<Run>, worker: usize, seq: u64) {
    if !run.may_start() {
        if run.workers.fetch_sub(1, Relaxed) == 1 {
            let _guard = run.idle.0.lock().unwrap();
            run.idle.1.notify_all();
        }
        return;
    }
    run.start_op(worker, seq, Instant::now(), move |run| {
        next(run, worker, seq + 1)
    });
}
