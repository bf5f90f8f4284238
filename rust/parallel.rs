//! Rayon pools by thread count, built once and reused (building one per call costs ~100 µs).
use crate::error::{Error, Result};
use rayon::iter::MaxLen;
use rayon::prelude::*;
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
    // worker processes (codemill/_cpus.py, usable_workers).
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

/// The documents of a batch as a parallel iterator that splits down to single documents.
/// Rayon's default split of a slice stops at a few runs of documents per thread (four runs for
/// two threads, unless stolen), each run done in order by one thread: a thread that ends its
/// own runs first finds nothing to take while the other works through the rest of a quarter of
/// the batch. Measured on 20 MB of the standard library, 2 threads: one of them idle for 70 of
/// the 230 ms. A task per document costs well under a microsecond, against ~100 µs to encode
/// an average one.
pub fn each_doc<T: Sync>(docs: &[T]) -> MaxLen<rayon::slice::Iter<'_, T>> {
    docs.par_iter().with_max_len(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_doc_is_a_task_of_its_own() {
        // A fold starts one accumulator per piece the iterator is split into: one per document,
        // whatever the pool, so no thread is left with a run of documents the other cannot take.
        let docs: Vec<u32> = (0..1000).collect();
        for threads in [1, 2, 3] {
            let pieces = with_threads(Some(threads), || {
                each_doc(&docs)
                    .fold(|| 0u32, |n, _| n + 1)
                    .collect::<Vec<_>>()
            })
            .unwrap();
            assert_eq!(pieces.len(), docs.len());
            assert!(pieces.iter().all(|&n| n == 1));
        }
        // Rayon's default split keeps runs of documents together.
        let default = with_threads(Some(2), || {
            docs.par_iter().fold(|| 0u32, |n, _| n + 1).count()
        })
        .unwrap();
        assert!(default < docs.len());
    }
}
