//! Binding of the personalised PageRank that ranks repository context.
use crate::pagerank::{f64s_le, personalized_pagerank as rank, u32s_le, Params};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Personalised PageRank over `n` nodes whose edges are raw little-endian arrays (as saved with
/// the repository graph: `src` and `dst` uint32, `weight` float64), restarting at `seeds`
/// (`(node, weight)` pairs). Returns every node's rank as little-endian float64 bytes (a
/// caller reads the few it needs through `memoryview(...).cast("d")`, no numpy required).
#[pyfunction]
#[pyo3(signature = (n, src, dst, weight, seeds, damping=0.85, max_iterations=200, tolerance=1e-8))]
pub fn personalized_pagerank<'py>(
    py: Python<'py>,
    n: usize,
    src: &[u8],
    dst: &[u8],
    weight: &[u8],
    seeds: Vec<(u32, f64)>,
    damping: f64,
    max_iterations: usize,
    tolerance: f64,
) -> PyResult<Bound<'py, PyBytes>> {
    let params = Params {
        damping,
        max_iterations,
        tolerance,
    };
    let ranks = py.detach(|| -> crate::error::Result<Vec<u8>> {
        let (s, d, w) = (
            u32s_le(src, "src")?,
            u32s_le(dst, "dst")?,
            f64s_le(weight, "weight")?,
        );
        let x = rank(n, &s, &d, &w, &seeds, params)?;
        Ok(x.iter().flat_map(|v| v.to_le_bytes()).collect())
    })?;
    Ok(PyBytes::new(py, &ranks))
}
