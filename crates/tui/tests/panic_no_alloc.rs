//! The kernel draws the panic screen from its panic handler, where the heap
//! may be the very thing that failed: drawing it must not allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tui::Canvas;
use tui::screens::draw_panic;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting allocations made by the current thread so
/// that the test harness's own threads don't disturb the count.
struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds the GlobalAlloc contract; the counter has no effect on allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's guarantees for `layout` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`, via `alloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn panic_screen_does_not_allocate() {
    let message = "panicked at crates/kernel/src/lib.rs:1:1:\n".to_string() + &"a long message ".repeat(400);
    for (width, height) in [(640, 480), (1920, 1080), (5, 5)] {
        let mut canvas = Canvas::new(width, height);
        let before = allocations();
        draw_panic(&mut canvas, "moteOS stopped", &message);
        canvas.take_damage();
        assert_eq!(allocations() - before, 0, "{width}x{height}");
    }
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert_eq!(allocations() - before, 1);
    drop(v);
}
