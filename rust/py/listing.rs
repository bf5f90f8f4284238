//! Binding of the corpus walk's directory listing.
use crate::lex::code_language;
use crate::listing::{list_dir as list, Kind, Listed};
use crate::listing_ahead::{ListingAhead, PassOver};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The entries of a directory as `(name, kind, size, stamp, language, head)`, sorted by name
/// as Python sorts them where file names are UTF-8: kind 0 other, 1 regular file, 2 directory,
/// 3 link, 4 unreadable; a regular file's size and `str(st_mtime_ns)` (-1 and "" otherwise, or
/// when its `lstat` fails), the language its extension names (`code_language` of a UTF-8
/// name, "" for none; None where it was not looked up: the walk judges the name itself), and
/// the first `HEAD_BYTES` of a regular file whose name has no extension (None otherwise, or
/// where it cannot be read). Names are decoded as `os.fsdecode` decodes them. None when the
/// directory cannot be listed.
#[pyfunction]
pub fn list_dir(py: Python<'_>, path: PathBuf) -> PyResult<Option<Bound<'_, PyList>>> {
    rows(py, py.detach(|| list(&path).ok()))
}

/// `list_dir` with the subtrees of each listing listed ahead on a thread of its own while the
/// walk judges its entries (`ListingAhead`), except folders named one of `names`, or ending in
/// one of `suffixes`, and the contents of a folder holding one of `markers`.
#[pyclass(name = "ListingAhead", module = "codemill._core", frozen)]
pub struct PyListingAhead {
    inner: ListingAhead,
}

#[pymethods]
impl PyListingAhead {
    #[new]
    #[pyo3(signature = (names=Vec::new(), suffixes=Vec::new(), markers=Vec::new()))]
    fn new(
        names: Vec<OsString>,
        suffixes: Vec<OsString>,
        markers: Vec<OsString>,
    ) -> PyResult<Self> {
        let pass_over = PassOver {
            names,
            suffixes,
            markers,
        };
        let inner = ListingAhead::new(pass_over).map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot start the listing thread: {e}"))
        })?;
        Ok(PyListingAhead { inner })
    }

    /// The walk passes over the directory `path` (its rules ignore it): nothing in it is
    /// listed ahead any more.
    fn pass_over(&self, py: Python<'_>, path: PathBuf) {
        py.detach(|| self.inner.pass_over(&path));
    }

    /// What `list_dir(path)` gives.
    fn list_dir<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        rows(py, py.detach(|| self.inner.list(&path).ok()))
    }
}

/// A listing as the walk reads it (see `list_dir`).
fn rows(py: Python<'_>, listed: Option<Vec<Listed>>) -> PyResult<Option<Bound<'_, PyList>>> {
    let Some(listed) = listed else {
        return Ok(None);
    };
    let rows = listed
        .into_iter()
        .map(|e| {
            let size = e.size.map_or(-1, |s| s as i64);
            let stamp = e.mtime_ns.map_or_else(String::new, |t| t.to_string());
            // Looked up here rather than in Python: the walk's main thread sets its pace. ""
            // says none, so that the walk does not look again.
            let language = match (e.kind, e.name.to_str()) {
                (Kind::File, Some(name)) => {
                    Some(PyString::intern(py, code_language(name).unwrap_or("")))
                }
                _ => None,
            };
            let head = e.head.map(|h| PyBytes::new(py, &h));
            Ok((
                fs_name(py, &e.name)?,
                e.kind as u8,
                size,
                stamp,
                language,
                head,
            ))
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, rows).map(Some)
}

/// A file name as `os.fsdecode` gives it, in the file system encoding. (PyO3's own conversion
/// decodes every valid UTF-8 name as UTF-8, which differs where that encoding is another.)
#[cfg(unix)]
fn fs_name<'py>(py: Python<'py>, name: &OsStr) -> PyResult<Bound<'py, PyAny>> {
    use std::os::unix::ffi::OsStrExt;
    let b = name.as_bytes();
    // SAFETY: a valid pointer and length; the call returns a new reference, or NULL with the
    // error set, which `from_owned_ptr_or_err` turns into a PyErr.
    unsafe {
        let s = pyo3::ffi::PyUnicode_DecodeFSDefaultAndSize(b.as_ptr().cast(), b.len() as _);
        Bound::from_owned_ptr_or_err(py, s)
    }
}

#[cfg(not(unix))]
fn fs_name<'py>(py: Python<'py>, name: &OsStr) -> PyResult<Bound<'py, PyAny>> {
    Ok(name.into_pyobject(py)?.into_any())
}
