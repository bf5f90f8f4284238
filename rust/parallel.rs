//! Rayon pools by thread count, built once and reused (building one per call costs ~100 µs).
use crate::error::{Error, Result};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Runs `f` on a pool of `threads` threads, or on rayon's global pool (all cores) for `None`.
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    let Some(n) = threads else { return Ok(f()) };
    if n == 0 {
        return Err(Error::Argument("num_threads must be at least 1".into()));
    }
    // More threads than 4 per core only add memory and switching (and a typo of 100000 would
    // start that many); results never depend on the count. The same cap as the Python side's
    // worker processes (codemill/_workers.py, usable_workers).
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let n = n.min(4 * cores);
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let pool = {
        let mut pools = POOLS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match pools.get(&n) {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(
                    ThreadPoolBuilder::new()
                        .num_threads(n)
                        .build()
                        .map_err(|e| Error::Argument(format!("cannot start {n} threads: {e}")))?,
                );
                pools.insert(n, p.clone());
                p
            }
        }
    };
    Ok(pool.install(f))
}
