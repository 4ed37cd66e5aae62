//! The `test-pool` boot option: one job per processor through the work pool, each held
//! until every processor has started one, so the log shows every processor at work (and,
//! for a batch of one job per processor, job i on processor i).

use crate::arch;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;
use inference::WorkPool;

/// Runs the check and logs which processor ran which job.
pub fn run() {
    let pool = arch::pool::KernelPool;
    let jobs = pool.threads();
    let ran_on: Vec<AtomicUsize> = (0..jobs).map(|_| AtomicUsize::new(usize::MAX)).collect();
    let started = AtomicUsize::new(0);
    let deadline = crate::time::now().saturating_add(Duration::from_secs(5));
    pool.run(jobs, &|i| {
        ran_on[i].store(arch::cpu_index(), Ordering::SeqCst);
        started.fetch_add(1, Ordering::SeqCst);
        // Hold this processor until all jobs have started: each lands on its own processor.
        while started.load(Ordering::SeqCst) < jobs && crate::time::now() < deadline {
            core::hint::spin_loop();
        }
    });
    let cpus: Vec<usize> = ran_on.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    let listed: String = cpus.iter().enumerate().map(|(job, cpu)| format!(" job {job} on CPU {cpu};")).collect();
    let mut distinct = cpus.clone();
    distinct.sort_unstable();
    distinct.dedup();
    log::info!("pool: test ran {jobs} jobs on {} processor(s):{listed}", distinct.len());
}
