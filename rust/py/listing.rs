//! Binding of the corpus walk's directory listing.
use crate::listing::list_dir as list;
use pyo3::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

/// The entries of a directory as `(name, kind, size, stamp)`, sorted by name as Python sorts
/// them: kind 0 other, 1 regular file, 2 directory, 3 link, 4 unreadable; a regular file's size
/// and `str(st_mtime_ns)` (-1 and "" otherwise, or when its `lstat` fails). None when the
/// directory cannot be listed.
#[pyfunction]
pub fn list_dir(py: Python<'_>, path: PathBuf) -> Option<Vec<(OsString, u8, i64, String)>> {
    py.detach(|| {
        let listed = list(&path).ok()?;
        Some(
            listed
                .into_iter()
                .map(|e| {
                    let size = e.size.map_or(-1, |s| s as i64);
                    let stamp = e.mtime_ns.map_or_else(String::new, |t| t.to_string());
                    (e.name, e.kind as u8, size, stamp)
                })
                .collect(),
        )
    })
}
