//! glibc's malloc arenas. glibc gives each new thread an arena of its own (up to 8 per core), and
//! memory freed into an arena stays with it: a corpus worker whose threads each take large
//! buffers in turn (a task's input, its shards, an object's body, the storage client's thread)
//! keeps the high-water mark of every arena. Capping them makes those threads share.

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
}
