//! Running independent pieces of a forward pass on several cores.
//!
//! The engine splits work (matrix rows, attention heads) into `n` jobs and hands
//! them to a [`WorkPool`]; how the jobs reach cores is the caller's business: the
//! host front end uses `std::thread::scope`, the kernel its application
//! processors. [`SingleThread`] runs them in order on the calling core.
//!
//! A job must write only its own part of the output, so the result is the same
//! bit for bit whatever the number of workers.

/// Runs jobs in parallel.
pub trait WorkPool: Sync {
    /// How many jobs run at the same time (at least 1). The engine splits work into
    /// about this many pieces.
    fn threads(&self) -> usize;

    /// Calls `job(i)` once for every `i` in `0..jobs`, spread over the workers, and
    /// returns when every call has returned.
    ///
    /// With at most one job per thread (the engine's lanes of tokens), a pool should give job
    /// `i` to the same worker on every call where it can: each job's data then stays in that
    /// worker's caches from one call to the next.
    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync));
}

/// Every job on the calling core, in order.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleThread;

impl WorkPool for SingleThread {
    fn threads(&self) -> usize {
        1
    }

    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync)) {
        for i in 0..jobs {
            job(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn single_thread_runs_every_job_once() {
        let seen = AtomicUsize::new(0);
        SingleThread.run(10, &|i| {
            seen.fetch_add(1 << i, Ordering::Relaxed);
        });
        assert_eq!(seen.into_inner(), (1 << 10) - 1);
        assert_eq!(SingleThread.threads(), 1);
    }
}
