//! glibc's malloc settings for a corpus process.
//!
//! Arenas: glibc gives each new thread an arena of its own (up to 8 per core), and memory freed
//! into an arena stays with it: a corpus worker whose threads each take large buffers in turn (a
//! task's input, its shards, an object's body, the storage client's thread) keeps the high-water
//! mark of every arena. Capping them makes those threads share.
//!
//! Freed memory: by default a block of more than 128 KiB (up to 32 MiB as the process frees
//! them) is a mapping of its own, unmapped when freed, and the main heap gives its free top back
//! to the kernel past 2x that. A corpus job takes and frees such blocks all the time (an 8 MB
//! object's body and its copy, a batch of lines, a shard), and every one of them came back as
//! fresh pages for the kernel to fault in and zero.

/// Caps the arenas this process creates from now on at `max` (`mallopt(M_ARENA_MAX)`). Returns
/// whether the cap was set: false where the allocator is not glibc's, or `max` is not positive.
/// Arenas made before the call stay, so a process calls this before it starts threads.
pub fn cap_arenas(max: i32) -> bool {
    if max <= 0 {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter; any value is accepted or refused.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, max) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Keeps freed memory in the process for reuse: blocks up to `mmap_threshold` bytes come from a
/// heap, and the main heap keeps up to `trim_threshold` bytes of its free top
/// (`mallopt(M_MMAP_THRESHOLD, M_TRIM_THRESHOLD)`; fixed values also end glibc's own adjusting of
/// both). A thread arena keeps its first heap's high-water mark (64 MiB at most: a trim threshold
/// past that never shrinks it); its later heaps go back once wholly free, as no top pad is set
/// (one as large as a heap kept them all for good). Returns whether
/// both were set: false where the allocator is not glibc's, a value is negative or glibc refuses
/// one (the first refused and the one after it are not set).
pub fn keep_freed(mmap_threshold: i32, trim_threshold: i32) -> bool {
    if mmap_threshold < 0 || trim_threshold < 0 {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        [
            (libc::M_MMAP_THRESHOLD, mmap_threshold),
            (libc::M_TRIM_THRESHOLD, trim_threshold),
        ]
        .into_iter()
        // SAFETY: mallopt only sets an allocator parameter; any value is accepted or refused.
        .all(|(param, value)| unsafe { libc::mallopt(param, value) == 1 })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_glibc_arenas_and_refuses_no_arenas() {
        assert!(!cap_arenas(0));
        assert!(!cap_arenas(-1));
        let capped = cap_arenas(2);
        assert_eq!(capped, cfg!(all(target_os = "linux", target_env = "gnu")));
        // Threads running at once still allocate once they share arenas.
        let threads: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || vec![i as u8; 1 << 20].iter().map(|&b| b as usize).sum())
            })
            .collect();
        let sums: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(sums, vec![0, 1 << 20, 2 << 20, 3 << 20]);
    }

    #[test]
    fn keeps_freed_memory_within_what_glibc_allows() {
        let glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert!(!keep_freed(-1, 0));
        assert!(!keep_freed(0, -1));
        assert_eq!(keep_freed(32 << 20, 256 << 20), glibc);
    }
}
