//! The kernel's work pool: the application processors wait halted (woken by an
//! inter-processor interrupt) for jobs; the boot processor hands out a batch, works on it
//! too, and returns when every job is done. Nothing but pool jobs ever runs on the
//! application processors.
//!
//! This is the kernel side of [`inference::WorkPool`]. Handing a borrowed closure to other
//! processors is what `std::thread::scope` does on the host: the closure's lifetime is
//! erased while [`KernelPool::run`] blocks, and `run` does not return before no processor
//! can still call it.

use crate::arch::{self, Cpu, MAX_CPUS};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use spin::{Mutex, Once};

/// A batch being worked on: the job (its lifetime erased), how many calls it needs, and
/// whether it is one job per processor (see [`work`]).
#[derive(Clone, Copy)]
struct Batch {
    job: *const (dyn Fn(usize) + Sync + 'static),
    jobs: usize,
    pinned: bool,
}

// SAFETY: the job is `Sync` (callable from any processor) and only dereferenced while
// `KernelPool::run` keeps the real borrow alive (see `run`).
unsafe impl Send for Batch {}

/// The batch; `None` between batches.
static BATCH: Mutex<Option<Batch>> = Mutex::new(None);
/// Bumped for every batch; idle processors sleep until it changes.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The next job index to hand out.
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// For a batch of at most one job per processor: the jobs taken, one bit each.
static TAKEN: AtomicU64 = AtomicU64::new(0);
/// Jobs finished in the current batch.
static DONE: AtomicUsize = AtomicUsize::new(0);
/// Processors currently looking at (or working on) a batch.
static BUSY: AtomicUsize = AtomicUsize::new(0);
/// Which processors finished their setup and wait for work.
static ONLINE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Jobs each processor ran since boot.
static JOBS_RUN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The processors the firmware listed (index 0 = boot processor).
static CPUS: Once<Vec<Cpu>> = Once::new();
/// One batch at a time.
static RUN: Mutex<()> = Mutex::new(());

/// Whether processor `index` is online and waiting for work.
pub fn is_online(index: usize) -> bool {
    ONLINE.get(index).is_some_and(|o| o.load(Ordering::SeqCst))
}

/// How many processors take part in a batch (the boot processor included).
pub fn online_count() -> usize {
    1 + (1..MAX_CPUS).filter(|&i| is_online(i)).count()
}

/// Jobs each processor ran since boot, for processors that are online.
pub fn jobs_per_cpu() -> Vec<(usize, u64)> {
    (0..MAX_CPUS).filter(|&i| i == 0 || is_online(i)).map(|i| (i, JOBS_RUN[i].load(Ordering::Relaxed))).collect()
}

/// Starts the application processors among `cpus` (the first is the boot processor) and
/// returns how many came up. Ones that do not are logged and left out.
pub fn start(cpus: Vec<Cpu>, map: &[crate::boot_info::MemoryRegion]) -> usize {
    let cpus = CPUS.call_once(|| cpus);
    if cpus.len() < 2 {
        return 0;
    }
    if arch::address_space::stacks(1).is_none() {
        log::warn!("smp: the kernel has no stacks of its own for other processors; using the boot processor only");
        return 0;
    }
    arch::start_processors(cpus, map).len()
}

/// Hardware id of processor `index` (for the wake-up interrupt).
pub fn cpu(index: usize) -> Option<Cpu> {
    CPUS.get().and_then(|c| c.get(index)).copied()
}

/// The loop every application processor runs once it is set up: sleep until a batch
/// appears, take jobs until none are left, sleep again.
pub fn worker(index: usize) -> ! {
    let mut seen = GENERATION.load(Ordering::SeqCst);
    ONLINE[index].store(true, Ordering::SeqCst);
    loop {
        arch::wait_for_work(|| GENERATION.load(Ordering::SeqCst) != seen);
        seen = GENERATION.load(Ordering::SeqCst);
        BUSY.fetch_add(1, Ordering::SeqCst);
        let batch = *BATCH.lock();
        if let Some(batch) = batch {
            // SAFETY: the batch is still set, so `run` has not yet passed the point where it
            // clears it and waits for BUSY to drop to zero: the borrowed job is alive until
            // this processor decrements BUSY below.
            let job = unsafe { &*batch.job };
            work(job, batch.jobs, batch.pinned, index);
        }
        BUSY.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Processor `index`'s place among the processors taking part (the boot processor is 0).
fn rank(index: usize) -> usize {
    (0..index).filter(|&i| i == 0 || is_online(i)).count()
}

/// Takes job indices until none are left. In a `pinned` batch (at most one job per
/// processor: the inference engine's lanes of tokens) the processor of rank `r` takes job `r`
/// first, so a lane stays on one processor from one batch to the next, then any job another
/// processor has not started.
fn work(job: &(dyn Fn(usize) + Sync), jobs: usize, pinned: bool, cpu: usize) {
    if pinned {
        let me = rank(cpu);
        for i in (me..jobs).chain(0..me.min(jobs)) {
            if TAKEN.fetch_or(1 << i, Ordering::SeqCst) & (1 << i) == 0 {
                job(i);
                JOBS_RUN[cpu].fetch_add(1, Ordering::Relaxed);
                DONE.fetch_add(1, Ordering::SeqCst);
            }
        }
        return;
    }
    loop {
        let i = NEXT.fetch_add(1, Ordering::SeqCst);
        if i >= jobs {
            break;
        }
        job(i);
        JOBS_RUN[cpu].fetch_add(1, Ordering::Relaxed);
        DONE.fetch_add(1, Ordering::SeqCst);
    }
}

/// The kernel's [`inference::WorkPool`]: the boot processor plus every online application
/// processor.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelPool;

impl inference::WorkPool for KernelPool {
    fn threads(&self) -> usize {
        online_count()
    }

    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync)) {
        let helpers = online_count() - 1;
        if jobs <= 1 || helpers == 0 {
            for i in 0..jobs {
                job(i);
                JOBS_RUN[0].fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        let _one_at_a_time = RUN.lock();
        // Only the lifetime is erased (the fat pointer's layout is the same); the pointer is
        // published in BATCH and dereferenced by workers only while this function blocks below.
        // SAFETY: this function returns only once BATCH is cleared and no worker is BUSY.
        let erased: *const (dyn Fn(usize) + Sync + 'static) =
            unsafe { core::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), _>(job as *const _) };
        NEXT.store(0, Ordering::SeqCst);
        TAKEN.store(0, Ordering::SeqCst);
        DONE.store(0, Ordering::SeqCst);
        let pinned = jobs <= (helpers + 1).min(64);
        *BATCH.lock() = Some(Batch { job: erased, jobs, pinned });
        GENERATION.fetch_add(1, Ordering::SeqCst);
        for index in (1..MAX_CPUS).filter(|&i| is_online(i)) {
            if let Some(cpu) = cpu(index) {
                arch::wake_processor(&cpu);
            }
        }
        work(job, jobs, pinned, 0);
        while DONE.load(Ordering::SeqCst) < jobs {
            core::hint::spin_loop();
        }
        *BATCH.lock() = None;
        while BUSY.load(Ordering::SeqCst) != 0 {
            core::hint::spin_loop();
        }
    }
}

/// The pool as a `'static` reference, for the local model's engine (`set_pool`).
pub fn shared() -> &'static KernelPool {
    static POOL: KernelPool = KernelPool;
    &POOL
}
