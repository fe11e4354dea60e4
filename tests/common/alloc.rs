//! A counting global allocator, for the tests that measure memory. A test crate installs it
//! with
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: common::alloc::Counting = common::alloc::Counting;
//! ```
//!
//! and then reads one of three counters: bytes the current thread asked for
//! ([`allocated_by`]), allocation calls on every thread while counting is on
//! ([`allocations_during`]), or live heap bytes ([`live_bytes`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

/// Forwards to the system allocator and counts.
pub struct Counting;

static INSTALLED: AtomicBool = AtomicBool::new(false);
static COUNTING_CALLS: AtomicBool = AtomicBool::new(false);
static CALLS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static THREAD_BYTES: Cell<usize> = const { Cell::new(0) };
}

fn asked(bytes: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
    if COUNTING_CALLS.load(Ordering::Relaxed) {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get().saturating_add(bytes)));
}

fn live(delta: isize) {
    LIVE.fetch_add(delta, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s; the counters are atomics and a const-initialised
// thread-local `Cell` (no allocation, no re-entry).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        asked(layout.size());
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            live(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        asked(layout.size());
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            live(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        live(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation asks for all of `new_size` (the conservative count).
        asked(new_size);
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            live(new_size as isize - layout.size() as isize);
        }
        p
    }
}

fn check_installed() {
    // Any test harness allocates before a test body runs.
    assert!(
        INSTALLED.load(Ordering::Relaxed),
        "common::alloc::Counting is not this test crate's #[global_allocator]"
    );
}

/// Runs `f` and returns its result with the bytes this thread asked for meanwhile.
pub fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    check_installed();
    let before = THREAD_BYTES.with(Cell::get);
    let out = f();
    (out, THREAD_BYTES.with(Cell::get) - before)
}

/// Allocation and reallocation calls made on any thread while `f` runs.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    check_installed();
    CALLS.store(0, Ordering::SeqCst);
    COUNTING_CALLS.store(true, Ordering::SeqCst);
    f();
    COUNTING_CALLS.store(false, Ordering::SeqCst);
    CALLS.load(Ordering::SeqCst)
}

/// Heap bytes allocated and not yet freed, by the whole process.
pub fn live_bytes() -> isize {
    check_installed();
    LIVE.load(Ordering::Relaxed)
}
