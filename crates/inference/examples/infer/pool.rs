//! The host's [`WorkPool`]: `threads - 1` workers living in a `std::thread::scope` for the whole
//! run, plus the calling thread. Jobs are claimed with one atomic ticket per run (generation in
//! the high half, next job in the low half), so a worker that wakes late can never run a job of
//! a finished run. A run of at most one job per thread (the engine's lanes) is claimed by thread
//! instead: the low half is a mask of jobs taken, and thread `i` (the caller is 0) takes job `i`
//! first, then any another thread has not started, so lane `i` stays on one core from layer to
//! layer. Workers spin briefly between runs (a forward pass hands out a run every few
//! microseconds) and then sleep on a condition variable.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use inference::WorkPool;

type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// Shared between the caller and the workers.
pub struct HostPool {
    threads: usize,
    /// `generation << 32 | next job index` (or, for a run of one job per thread, a mask of the
    /// jobs taken).
    ticket: AtomicU64,
    remaining: AtomicUsize,
    /// The current run's job (lifetime erased, see `run`) and its job count, with its generation.
    current: Mutex<Option<(u64, Job<'static>, usize)>>,
    quit: AtomicBool,
    wake: Condvar,
    sleepers: Mutex<()>,
    /// Workers about to wait or waiting on `wake`: a run signals the condition variable (a
    /// system call) only when there are any.
    sleeping: AtomicUsize,
}

impl HostPool {
    /// A pool of `threads` (≥ 1) including the caller; start its workers with [`HostPool::work`].
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            ticket: AtomicU64::new(0),
            remaining: AtomicUsize::new(0),
            current: Mutex::new(None),
            quit: AtomicBool::new(false),
            wake: Condvar::new(),
            sleepers: Mutex::new(()),
            sleeping: AtomicUsize::new(0),
        }
    }

    /// Claims and runs jobs of generation `generation` until none is left; `me` is the claiming
    /// thread's index.
    fn claim(&self, generation: u64, job: Job<'_>, jobs: usize, me: usize) {
        if jobs <= self.threads.min(32) {
            for i in (me..jobs).chain(0..me.min(jobs)) {
                loop {
                    let t = self.ticket.load(Ordering::Acquire);
                    if t >> 32 != generation {
                        return;
                    }
                    if t & (1 << i) != 0 {
                        break;
                    }
                    if self.ticket.compare_exchange(t, t | (1 << i), Ordering::AcqRel, Ordering::Acquire).is_ok() {
                        job(i);
                        self.remaining.fetch_sub(1, Ordering::Release);
                        break;
                    }
                }
            }
            return;
        }
        loop {
            let t = self.ticket.load(Ordering::Acquire);
            let i = (t & 0xFFFF_FFFF) as usize;
            if t >> 32 != generation || i >= jobs {
                return;
            }
            if self.ticket.compare_exchange(t, t + 1, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                job(i);
                self.remaining.fetch_sub(1, Ordering::Release);
            }
        }
    }

    /// Worker `index`'s loop (run it on `threads - 1` scoped threads, indices 1 to `threads - 1`);
    /// returns after [`HostPool::stop`].
    pub fn work(&self, index: usize) {
        let mut seen = 0;
        loop {
            let mut spins = 0u32;
            while self.ticket.load(Ordering::Acquire) >> 32 == seen && !self.quit.load(Ordering::Acquire) {
                spins += 1;
                if spins < 20_000 {
                    std::hint::spin_loop();
                } else {
                    let guard = self.sleepers.lock().unwrap_or_else(|e| e.into_inner());
                    // Announce the sleep, then look again: a run that stored its ticket before
                    // the announcement is seen here, one that stored it after sees the sleeper.
                    // (SeqCst on both sides; a wake-up lost anyway costs the 1 ms timeout.)
                    self.sleeping.fetch_add(1, Ordering::SeqCst);
                    if self.ticket.load(Ordering::SeqCst) >> 32 == seen && !self.quit.load(Ordering::SeqCst) {
                        let _ = self.wake.wait_timeout(guard, std::time::Duration::from_millis(1));
                    }
                    self.sleeping.fetch_sub(1, Ordering::SeqCst);
                }
            }
            if self.quit.load(Ordering::Acquire) {
                return;
            }
            let current = *self.current.lock().unwrap_or_else(|e| e.into_inner());
            match current {
                Some((generation, job, jobs)) => {
                    seen = generation;
                    self.claim(generation, job, jobs, index);
                }
                None => seen = self.ticket.load(Ordering::Acquire) >> 32,
            }
        }
    }

    /// Makes every worker return.
    pub fn stop(&self) {
        self.quit.store(true, Ordering::Release);
        self.wake.notify_all();
    }
}

impl WorkPool for HostPool {
    fn threads(&self) -> usize {
        self.threads
    }

    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 || jobs <= 1 {
            (0..jobs).for_each(job);
            return;
        }
        // The reference is stored for workers only until this function returns. A worker calls it
        // only after claiming an index of this run's generation; a worker holding a copy from a
        // finished run fails the generation check before calling it.
        // SAFETY: this function returns only after every claimed job has finished (`remaining`
        // reaches 0) and the slot is cleared, so no call outlives the borrow.
        let job_static: Job<'static> = unsafe { std::mem::transmute::<Job<'_>, Job<'static>>(job) };
        let generation = (self.ticket.load(Ordering::Acquire) >> 32) + 1;
        self.remaining.store(jobs, Ordering::Release);
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, job_static, jobs));
        self.ticket.store(generation << 32, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) > 0 {
            self.wake.notify_all();
        }
        self.claim(generation, job, jobs, 0);
        while self.remaining.load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
