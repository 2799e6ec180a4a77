//! Background jobs: native work (a load, the hostile corpus) on a thread of
//! its own while the script goes on, for measurements that need two things
//! at once (a victim's latency next to a noisy neighbour). Only native work
//! runs there; the script itself stays on one thread.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rhai::{Dynamic, Engine};

use super::{Fallible, fail};

type Work = JoinHandle<Result<Dynamic, String>>;

/// A job started by `start_load` or `start_hostile`; `wait(job)` joins it.
#[derive(Clone)]
pub(crate) struct Job {
    name: Arc<str>,
    handle: Arc<Mutex<Option<Work>>>,
}

impl Job {
    pub(crate) fn start(
        name: &str,
        work: impl FnOnce() -> Result<Dynamic, String> + Send + 'static,
    ) -> Result<Job, String> {
        let handle = std::thread::Builder::new()
            .name(format!("caxton-job {name}"))
            .spawn(work)
            .map_err(|e| format!("cannot start a thread for `{name}`: {e}"))?;
        Ok(Job {
            name: name.into(),
            handle: Arc::new(Mutex::new(Some(handle))),
        })
    }

    /// Waits for the job; its error (or panic) becomes the script's error.
    fn wait(&self) -> Result<Dynamic, String> {
        let handle = self.handle.lock().unwrap().take().ok_or_else(|| {
            format!(
                "wait(): the job `{}` was already waited for; keep its result",
                self.name
            )
        })?;
        match handle.join() {
            Ok(result) => result.map_err(|e| format!("job `{}`: {e}", self.name)),
            Err(_) => Err(format!("job `{}` panicked", self.name)),
        }
    }
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Job>("Job")
        .register_fn("wait", |job: &mut Job| -> Fallible<Dynamic> {
            job.wait().map_err(fail)
        })
        .register_fn("to_string", |job: &mut Job| format!("job `{}`", job.name));
}
