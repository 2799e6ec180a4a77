//! Giving a core back to the OS scheduler.
//!
//! On kernels with lazy preemption (the test machine's 6.18, `PREEMPT_NONE`
//! under `PREEMPT_DYNAMIC`), a thread woken onto a busy core does not take
//! it at once: the running thread is only flagged, and the flag is acted on
//! at that thread's next entry into the kernel or at the next scheduler
//! tick, up to 4 ms away. A thread that runs long without a system call
//! (guest code, a batch of frames) therefore delays every wakeup aimed at
//! its core by milliseconds, whatever its priority.
//!
//! [`yield_core`] is that entry: a `sched_yield`, well under a microsecond
//! when no one waits, and the waiting thread runs now when one does. It is
//! called where Caxton's own threads can run long between system calls:
//! between a background tenant's batches, at each epoch tick of a
//! background guest, and after each QUIC stream write.

/// Enters the kernel so a thread waiting for this core can have it.
pub(crate) fn yield_core() {
    std::thread::yield_now();
}
