//! Binding of the corpus jobs' code-file reader (`crate::code_file`).
use super::limit::ByteLimit;
use crate::code_file::{check, read_within};
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::path::PathBuf;

/// One file as `read_code_files` gives it: (text, None, UTF-8 bytes) or (None, reason, 0).
type Read<'py> = (Option<Bound<'py, PyString>>, Option<&'static str>, usize);

/// Reads local code files, each as `(text, None, size)` or `(None, reason, 0)` with a reason of
/// `codemill.sources.skips`: the first of `paths`, and those after it while the texts read hold
/// under `budget` bytes (the caller asks again for the rest), so that a run of large files is
/// not all held at once. The files are read and checked with the GIL released; only the
/// strings are made with it.
#[pyfunction]
pub fn read_code_files(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    max_bytes: ByteLimit,
    budget: u64,
) -> Vec<Read<'_>> {
    let results = py.detach(|| read_within(&paths, max_bytes.0, budget));
    results
        .into_iter()
        .map(|r| match r {
            Ok(text) => (Some(PyString::new(py, &text)), None, text.len()),
            Err(why) => (None, Some(why.reason()), 0),
        })
        .collect()
}

/// `read_code_files`'s checks on bytes fetched already (an object in a bucket): `(text, None)`
/// or `(None, reason)`.
#[pyfunction]
pub fn decode_code<'py>(
    py: Python<'py>,
    data: &[u8],
    max_bytes: ByteLimit,
) -> (Option<Bound<'py, PyString>>, Option<&'static str>) {
    match check(data, max_bytes.0) {
        Ok(text) => (Some(PyString::new(py, text)), None),
        Err(why) => (None, Some(why.reason())),
    }
}
