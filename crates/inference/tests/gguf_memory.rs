//! What `Gguf::parse` allocates for hostile files, measured by a counting allocator: counts
//! in the header never reserve memory the bytes cannot back, and every allocation stays
//! within `parse_memory_bound` (which the boot loader adds to a model's size).

use inference::gguf::{Gguf, GgufError, parse_memory_bound};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One test at a time (tests in this file run on several threads): held for a test's whole
/// body, so another test building its input does not count in this one's peak.
static MEASURE: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    MEASURE.lock().unwrap_or_else(|e| e.into_inner())
}

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: the caller's contract for `layout` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Parses `bytes` and returns the result's error (if any) and the peak bytes allocated meanwhile.
fn peak_while_parsing(bytes: &[u8]) -> (Option<GgufError>, usize) {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let error = Gguf::parse(bytes).err();
    (error, PEAK.load(Ordering::SeqCst) - base)
}

fn header(tensors: u64, entries: u64) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend_from_slice(&3u32.to_le_bytes());
    v.extend_from_slice(&tensors.to_le_bytes());
    v.extend_from_slice(&entries.to_le_bytes());
    v
}

#[test]
fn huge_counts_in_a_64_mib_file_reserve_nothing() {
    let _alone = alone();
    // Before: a count of 2^32 entries reserved 448 MiB up front for these 64 MiB.
    for (tensors, entries) in [(0, u64::from(u32::MAX)), (u64::from(u32::MAX), 0)] {
        let mut bytes = header(tensors, entries);
        bytes.resize(64 << 20, 0);
        let (error, peak) = peak_while_parsing(&bytes);
        assert!(error.is_some(), "the hostile file was accepted");
        assert!(peak < 4096, "parsing a file with lying counts allocated {peak} bytes ({error:?})");
    }
}

#[test]
fn memory_follows_the_entries_really_present_within_the_bound() {
    let _alone = alone();
    // 300,000 real (empty-named, one-byte) entries: all are stored, then the duplicate check
    // refuses them; what was allocated stays under the bound the boot loader counts.
    let n = 300_000;
    let mut bytes = header(0, n);
    for _ in 0..n {
        bytes.extend_from_slice(&[0; 8]); // empty key
        bytes.extend_from_slice(&0u32.to_le_bytes()); // u8
        bytes.push(7);
    }
    let (error, peak) = peak_while_parsing(&bytes);
    assert_eq!(error, Some(GgufError::DuplicateKey(String::new())));
    let bound = parse_memory_bound(&bytes, bytes.len() as u64) as usize;
    assert!(peak > 0 && peak <= bound, "allocated {peak} bytes, the bound is {bound}");
    // And the bound is what the bytes can hold, not what the header claims.
    bytes[16..24].copy_from_slice(&u64::from(u32::MAX).to_le_bytes());
    assert_eq!(parse_memory_bound(&bytes, bytes.len() as u64) as usize, bound);
}
