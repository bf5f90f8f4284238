//! Binding of the malloc arena cap.
use pyo3::prelude::*;

/// Caps the malloc arenas this process creates from now on at `max` (glibc's
/// `mallopt(M_ARENA_MAX)`); whether it was set (false where the allocator is not glibc's).
#[pyfunction]
pub fn cap_malloc_arenas(max: i32) -> bool {
    crate::malloc::cap_arenas(max)
}
