//! The rinit binary's memory allocator (docs/design.md, "Memory").
//!
//! rinit's allocations are small, few and short-lived: config strings, a
//! child's `argv`/`envp`, a log record. musl's allocator spends about 200
//! instructions on each `malloc` and `free`, which was a third of rinit's
//! start-up (bench/README.md, "Start-up cost"). Here a small block comes
//! from a free list per size class, or is cut from a 64 KiB region; a freed
//! block goes back on its class's list. The first region is a static in
//! `.bss`, the others are `mmap`ed: start-up makes no system call for
//! memory at all (musl's first `malloc` made four).
//! Both are a few instructions. Requests above [`LARGEST`] bytes or aligned
//! to more than 16 go to the system allocator unchanged (musl: `mmap` for
//! the big buffers, which it gives back to the kernel on free).
//!
//! Small blocks are reused, never returned to the system: what rinit holds
//! is bounded by its peak of live small objects, as with any size-class
//! allocator. rinit is single-threaded; the spin lock makes the allocator
//! sound anyway (a lock that is never contended costs one atomic swap).
//! The forked child allocates nothing (`spawn::child`), so the lock cannot
//! be held across a `fork`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every block is a multiple of this and aligned to it.
const GRAIN: usize = 16;
/// Classes of GRAIN steps up to this size ...
const FINE_MAX: usize = 256;
/// ... then four classes per power of two up to this size.
pub const LARGEST: usize = 4096;
const CLASSES: usize = FINE_MAX / GRAIN + 4 * 4;
/// What one region holds.
const REGION: usize = 64 * 1024;

/// The first region: zero-filled `.bss`, so it costs no system call and,
/// like an `mmap`ed one, a page of memory only once a block in it is used.
/// Page-aligned, so that its blocks fill whole pages.
#[repr(C, align(4096))]
struct FirstRegion(UnsafeCell<[u8; REGION]>);

// SAFETY: handed out once, by the swap on FIRST_REGION_TAKEN, and never
// read or written here.
unsafe impl Sync for FirstRegion {}

static FIRST_REGION: FirstRegion = FirstRegion(UnsafeCell::new([0; REGION]));
/// Set by the first allocator that takes FIRST_REGION (tests make heaps of
/// their own). Apart from the region: beside it, it would cost a page.
static FIRST_REGION_TAKEN: AtomicBool = AtomicBool::new(false);

/// The class index and block size for a request, or `None` for one that
/// goes to the system allocator. The common case, a small block, is inline
/// in each allocator entry (out of line it was a third of their cost).
#[inline(always)]
fn class_of(layout: Layout) -> Option<(usize, usize)> {
    let size = layout.size();
    if size <= FINE_MAX && layout.align() <= GRAIN {
        let i = size.saturating_sub(1) / GRAIN;
        return Some((i, (i + 1) * GRAIN));
    }
    coarse_class_of(layout)
}

fn coarse_class_of(layout: Layout) -> Option<(usize, usize)> {
    let size = layout.size();
    if layout.align() > GRAIN || size > LARGEST {
        return None;
    }
    // size in (2^s, 2^(s+1)], 8 <= s <= 11: blocks of 5, 6, 7 or 8 quarters
    // of 2^s (at most 25 % unused).
    let s = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
    let quarter = 1usize << (s - 2);
    let quarters = size.div_ceil(quarter);
    let i = FINE_MAX / GRAIN + (s - 8) * 4 + (quarters - 5);
    Some((i, quarters * quarter))
}

/// A free block, linked through its first word.
struct Free {
    next: *mut Free,
}

struct State {
    free: [*mut Free; CLASSES],
    /// The unused rest of the current region.
    next: *mut u8,
    end: *mut u8,
}

impl State {
    /// # Safety
    /// `i` and `size` come from [`class_of`].
    unsafe fn take(&mut self, i: usize, size: usize) -> *mut u8 {
        let Some(head) = self.free.get_mut(i) else {
            return ptr::null_mut();
        };
        if !head.is_null() {
            let block = *head;
            // SAFETY: a block on a free list is one of ours, at least GRAIN
            // bytes, and holds its link in its first word.
            *head = unsafe { (*block).next };
            return block.cast();
        }
        if (self.end as usize).wrapping_sub(self.next as usize) < size {
            // The rest of the old region (less than one block) is left.
            let region = Self::new_region();
            if region.is_null() {
                return region;
            }
            self.next = region;
            // SAFETY: `region` is REGION bytes long.
            self.end = unsafe { region.add(REGION) };
        }
        let block = self.next;
        // SAFETY: at least `size` bytes remain in the region (checked above).
        self.next = unsafe { block.add(size) };
        block
    }

    /// REGION bytes, GRAIN-aligned, for this allocator alone; null when the
    /// kernel has no memory left (the caller's `alloc` then fails).
    fn new_region() -> *mut u8 {
        if !FIRST_REGION_TAKEN.swap(true, Ordering::Relaxed) {
            return FIRST_REGION.0.get().cast();
        }
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // touched. Page-aligned, so GRAIN-aligned.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                REGION,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            p.cast()
        }
    }

    /// # Safety
    /// `block` came from [`State::take`] with class `i` and is not in use.
    unsafe fn give(&mut self, i: usize, block: *mut u8) {
        if let Some(head) = self.free.get_mut(i) {
            let node = block.cast::<Free>();
            // SAFETY: the block is ours, free, GRAIN-aligned and at least
            // GRAIN bytes: room for the link.
            unsafe { node.write(Free { next: *head }) };
            *head = node;
        }
    }
}

/// The allocator (`#[global_allocator]` in main.rs).
pub struct Heap {
    busy: AtomicBool,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached through `Heap::with`, which holds `busy`.
unsafe impl Sync for Heap {}

impl Heap {
    pub const fn new() -> Self {
        Heap {
            busy: AtomicBool::new(false),
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        while self.busy.swap(true, Ordering::Acquire) {
            std::hint::spin_loop();
        }
        // SAFETY: `busy` is ours until the store below: no other reference
        // to the state exists meanwhile.
        let r = f(unsafe { &mut *self.state.get() });
        self.busy.store(false, Ordering::Release);
        r
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: a small block is GRAIN-aligned, at least `layout.size()` bytes
// and handed out once until freed; everything else is the system
// allocator's. The class depends on the layout alone, so `dealloc` and
// `realloc`, which get the layout `alloc` got, find the same owner.
unsafe impl GlobalAlloc for Heap {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            // SAFETY: `i` and `size` come from `class_of`.
            Some((i, size)) => self.with(|st| unsafe { st.take(i, size) }),
            // SAFETY: the caller's promises on `layout` are passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some(_) => {
                // SAFETY: as `alloc`.
                let p = unsafe { self.alloc(layout) };
                if !p.is_null() {
                    // SAFETY: the block holds at least `layout.size()` bytes.
                    unsafe { ptr::write_bytes(p, 0, layout.size()) };
                }
                p
            }
            // calloc: fresh pages from the kernel are not cleared twice.
            // SAFETY: the caller's promises on `layout` are passed on.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class_of(layout) {
            // SAFETY: the caller got `block` from `alloc` with this layout,
            // so from `take` with this class.
            Some((i, _)) => self.with(|st| unsafe { st.give(i, block) }),
            // SAFETY: the system allocator gave it, with this layout.
            None => unsafe { System.dealloc(block, layout) },
        }
    }

    #[inline(never)]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller promises `new_size`, rounded up to the
        // alignment, does not overflow isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            // SAFETY: the system allocator gave it, with this layout.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            (Some((a, _)), Some((b, _))) if a == b => block,
            _ => {
                // SAFETY: as `alloc`; `block` holds `layout.size()` bytes
                // and the new block `new_size`; they are distinct.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_size_with_at_most_a_quarter_unused() {
        let mut last = (0, GRAIN);
        for size in 1..=LARGEST {
            let (i, block) = class_of(Layout::from_size_align(size, 8).unwrap()).unwrap();
            assert!(block >= size && block % GRAIN == 0, "size {size} block {block}");
            assert!(
                size <= FINE_MAX || block - size < block / 4 + 1,
                "size {size} block {block}"
            );
            assert!(i < CLASSES);
            assert!(
                i >= last.0 && (i > last.0 || block == last.1),
                "size {size}: classes in order"
            );
            last = (i, block);
        }
        assert_eq!(last.0, CLASSES - 1);
        assert_eq!(class_of(Layout::from_size_align(LARGEST + 1, 8).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(64, 32).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(0, 1).unwrap()), Some((0, GRAIN)));
    }

    /// Blocks handed out at once never overlap, keep what was written in
    /// them through reallocs across classes, and are reused once freed.
    #[test]
    fn blocks_are_distinct_keep_their_bytes_and_are_reused() {
        let heap = Heap::new();
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 7u32;
        let mut rand = move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) as usize
        };
        for round in 0..20_000 {
            let size = match rand() % 10 {
                0 => 1 + rand() % (3 * LARGEST),
                _ => 1 + rand() % 300,
            };
            let layout = Layout::from_size_align(size, [1, 8, 16][rand() % 3]).unwrap();
            match rand() % 3 {
                0 if !live.is_empty() => {
                    let (p, l, tag) = live.swap_remove(rand() % live.len());
                    // SAFETY (test): `p` is live with layout `l`.
                    unsafe {
                        assert!((0..l.size()).all(|k| *p.add(k) == tag));
                        heap.dealloc(p, l);
                    }
                }
                1 if !live.is_empty() => {
                    let k = rand() % live.len();
                    let (p, l, tag) = live[k];
                    // SAFETY (test): `p` is live with layout `l`.
                    unsafe {
                        let q = heap.realloc(p, l, size);
                        assert!(!q.is_null());
                        assert!((0..l.size().min(size)).all(|j| *q.add(j) == tag));
                        let nl = Layout::from_size_align(size, l.align()).unwrap();
                        ptr::write_bytes(q, tag, size);
                        live[k] = (q, nl, tag);
                    }
                }
                _ => {
                    // SAFETY (test): a valid layout.
                    let p = unsafe { heap.alloc(layout) };
                    assert!(!p.is_null());
                    assert_eq!(p as usize % layout.align(), 0);
                    let tag = (round % 251) as u8;
                    // SAFETY (test): `p` holds `size` bytes.
                    unsafe { ptr::write_bytes(p, tag, size) };
                    live.push((p, layout, tag));
                }
            }
        }
        let mut spans: Vec<(usize, usize)> = live.iter().map(|(p, l, _)| (*p as usize, l.size())).collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "overlap");
        let l = Layout::from_size_align(40, 8).unwrap();
        // SAFETY (test): alloc, free, alloc of one layout.
        unsafe {
            let a = heap.alloc(l);
            heap.dealloc(a, l);
            assert_eq!(heap.alloc(l), a, "a freed block is reused first");
            let z = heap.alloc_zeroed(l);
            assert!((0..40).all(|k| *z.add(k) == 0));
        }
    }
}
