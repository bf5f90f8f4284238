//! Bindings of the malloc settings (`crate::malloc`).
use pyo3::prelude::*;

/// Caps the malloc arenas this process creates from now on at `max` (glibc's
/// `mallopt(M_ARENA_MAX)`); whether it was set (false where the allocator is not glibc's).
#[pyfunction]
pub fn cap_malloc_arenas(max: i32) -> bool {
    crate::malloc::cap_arenas(max)
}

/// Keeps freed memory in this process for reuse (glibc's `mallopt` of `M_MMAP_THRESHOLD` and
/// `M_TRIM_THRESHOLD`, in bytes); whether both were set.
#[pyfunction]
pub fn keep_freed_memory(mmap_threshold: i32, trim_threshold: i32) -> bool {
    crate::malloc::keep_freed(mmap_threshold, trim_threshold)
}
