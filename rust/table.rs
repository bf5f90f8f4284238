//! Fixed-size tables for the encode caches: filled by writing, and 2 MiB-aligned and backed by
//! huge pages where Linux allows.
//!
//! The caches are probed at random, a few MB wide, and the encoder starts loading each probe's
//! cache line early (`cache::prefetch`). With 4 KiB pages nearly every probe also misses the
//! first-level TLB, and the CPU may drop a prefetch whose translation is not at hand: the
//! prefetch is lost and the probe waits on memory after all. A 4 MB table is 2 huge pages
//! instead of 1,024 small ones. Fresh first pass over the 9.1 MB held-back set, one core:
//! +6% (alternating processes, 8 rounds); see the README's speed notes.
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

const HUGE_PAGE: usize = 1 << 21;

/// A boxed slice of `len` elements, each `T::default()` when made.
pub struct Table<T: Copy + Default> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: a `Table` owns its elements as a `Box<[T]>` would.
unsafe impl<T: Copy + Default + Send> Send for Table<T> {}
unsafe impl<T: Copy + Default + Sync> Sync for Table<T> {}

impl<T: Copy + Default> Table<T> {
    /// A table of `len` default elements. Written rather than taken as zeroed pages (calloc):
    /// lookups read a table before inserts write it, and a page first read from calloc'd memory
    /// maps the shared zero page; the first write then faults again and flushes that page from
    /// the TLB of every core the process runs on, an interrupt to each other encoding thread
    /// per page (~7% of a 2-thread first pass, in TLB-shootdown IPIs). Written pages fault
    /// once and flush nothing.
    pub fn new(len: usize) -> Self {
        let layout = Self::layout(len);
        if layout.size() == 0 {
            return Table {
                ptr: NonNull::dangling(),
                len,
            };
        }
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else {
            handle_alloc_error(layout)
        };
        if layout.size() >= HUGE_PAGE {
            advise_huge_pages(raw, layout.size());
        }
        for i in 0..len {
            // SAFETY: `i < len`, inside the allocation, which is aligned for `T`.
            unsafe { ptr.as_ptr().add(i).write(T::default()) };
        }
        Table { ptr, len }
    }

    /// Aligned to a huge page when at least one big: the kernel backs only aligned 2 MiB
    /// extents with huge pages, and a table that starts mid-page would lose its ends to small ones.
    fn layout(len: usize) -> Layout {
        let size = len
            .checked_mul(std::mem::size_of::<T>())
            .expect("table size overflows");
        let align = if size >= HUGE_PAGE {
            HUGE_PAGE
        } else {
            std::mem::align_of::<T>()
        };
        Layout::from_size_align(size, align.max(std::mem::align_of::<T>())).expect("table layout")
    }
}

/// Asks for huge pages before the first touch: once the pages are faulted in as small ones the
/// hint no longer applies to them (and the kernel's background merging is far too slow to help).
fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: the range is one live allocation; the hint neither reads nor writes it, and an
    // error (huge pages off) leaves small pages, which are correct.
    unsafe {
        libc::madvise(ptr.cast(), bytes, libc::MADV_HUGEPAGE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

impl<T: Copy + Default> Default for Table<T> {
    fn default() -> Self {
        Table::new(0)
    }
}

impl<T: Copy + Default> Deref for Table<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements at `ptr` (or a dangling pointer and nothing).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy + Default> DerefMut for Table<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy + Default> Drop for Table<T> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        if layout.size() != 0 {
            // SAFETY: allocated in `new` with this same layout.
            unsafe { dealloc(self.ptr.as_ptr().cast(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_defaults_and_keeps_writes_at_every_size() {
        for len in [0usize, 1, 7, 4096, (HUGE_PAGE / 16) + 3] {
            let mut t: Table<u128> = Table::new(len);
            assert_eq!(t.len(), len);
            assert!(t.iter().all(|&x| x == 0));
            if len > 0 {
                t[len - 1] = 7;
                t[len / 2] += 1;
                assert_eq!(t.iter().sum::<u128>(), 8);
                t.fill(0);
                assert!(t.iter().all(|&x| x == 0));
            }
            if len * 16 >= HUGE_PAGE {
                assert_eq!(t.as_ptr() as usize % HUGE_PAGE, 0, "aligned to a huge page");
            }
        }
        let t: Table<[u64; 4]> = Table::default();
        assert!(t.is_empty());
    }
}
