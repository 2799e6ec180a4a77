//! Worker threads of their own for what a script starts: `threads(n)`, and
//! the `workers` option of `serve()` and `connect()`.
//!
//! Without them a served node, a client and the script's own agents share
//! the script's runtime (`--workers`), and queue behind each other on the
//! same workers. With them they are scheduled apart, as separate processes
//! would be; and a node and its client can share one runtime of their own,
//! away from the in-process agents. Which is faster depends on the machine
//! (docs/performance.md has what was measured).

use rhai::{Dynamic, Engine};

use super::{Fallible, fail};
use crate::script::context::{ScriptContext, Threads};

/// The most threads one runtime may have: far above any useful count, and
/// low enough that a typo is an error, not thousands of threads (or a
/// panic inside tokio where the OS refuses one).
const MAX_WORKERS: usize = 1024;

impl Threads {
    /// A runtime of `n` workers named `caxton-NAME`; `what` says who asked,
    /// for errors.
    fn start(ctx: &ScriptContext, what: &str, n: i64, name: &str) -> Fallible<Threads> {
        let workers = usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_WORKERS).contains(n))
            .ok_or_else(|| {
                fail(format!(
                    "{what}: expected a number of threads from 1 to {MAX_WORKERS}, got {n}"
                ))
            })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .thread_name(format!("caxton-{name}"))
            .build()
            .map_err(|e| fail(format!("{what}: starting {workers} worker threads: {e}")))?;
        let threads = Threads::new(runtime);
        // Kept until the script ends, after the nodes it served close.
        ctx.threads.lock().unwrap().push(threads.clone());
        Ok(threads)
    }

    fn workers(&self) -> i64 {
        self.handle().metrics().num_workers() as i64
    }
}

/// Where a node from `serve()` or a client from `connect()` (`option` names
/// which) runs, by its `workers` option: the script's runtime without one,
/// a runtime of its own for a number of threads, or a `threads(n)` shared.
pub(crate) fn runtime_for(
    ctx: &ScriptContext,
    workers: Option<&Dynamic>,
    option: &str,
    name: &str,
) -> Fallible<tokio::runtime::Handle> {
    let Some(value) = workers else {
        return Ok(ctx.node.runtime().clone());
    };
    if let Some(threads) = value.clone().try_cast::<Threads>() {
        return Ok(threads.handle().clone());
    }
    let what = format!("{option} option `workers`");
    match value.as_int() {
        Ok(n) => Ok(Threads::start(ctx, &what, n, name)?.handle().clone()),
        Err(t) => Err(fail(format!(
            "{what}: expected a number of threads or threads(n), got {t}"
        ))),
    }
}

pub(crate) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    engine
        .register_type_with_name::<Threads>("Threads")
        .register_get("workers", |t: &mut Threads| t.workers())
        .register_fn("to_string", |t: &mut Threads| {
            format!("threads({})", t.workers())
        });
    // How many CPUs this process may run on, to lay out a node per CPU.
    engine.register_fn("cpus", || -> i64 {
        std::thread::available_parallelism().map_or(1, |n| n.get() as i64)
    });
    let c = ctx.clone();
    engine.register_fn("threads", move |n: i64| -> Fallible<Threads> {
        Threads::start(&c, "threads(n)", n, "threads")
    });
}
