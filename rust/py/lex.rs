//! Bindings of the syntax-aware scanner.
use super::errors::lang_arg;
use crate::lex::{Piece, Scanner};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

/// Pieces of `text` as strings, or (piece, kind) pairs with `with_kinds`.
#[pyfunction]
#[pyo3(signature = (text, language=None, with_kinds=false))]
pub fn pretokenize<'py>(
    py: Python<'py>,
    text: &str,
    language: Option<&str>,
    with_kinds: bool,
) -> PyResult<Bound<'py, PyList>> {
    let lang = lang_arg(language)?;
    let pieces: Vec<Piece> = py.detach(|| Scanner::new(text, lang).collect());
    let items: Vec<Bound<'py, PyAny>> = pieces
        .iter()
        .map(|p| {
            let s = PyString::new(py, p.text(text));
            if with_kinds {
                Ok(PyTuple::new(
                    py,
                    [s.into_any(), PyString::new(py, p.kind.name()).into_any()],
                )?
                .into_any())
            } else {
                Ok(s.into_any())
            }
        })
        .collect::<PyResult<_>>()?;
    PyList::new(py, items)
}

/// Number of pieces in `text`: the scanner alone, for measuring its speed.
#[pyfunction]
#[pyo3(signature = (text, language=None))]
pub fn count_pieces(py: Python<'_>, text: &str, language: Option<&str>) -> PyResult<usize> {
    let lang = lang_arg(language)?;
    Ok(py.detach(|| Scanner::new(text, lang).count()))
}

/// Sub-identifier parts (`getHTTPResponse2` -> get, HTTP, Response, 2): the boundaries at
/// which the identifier vocabulary may match.
#[pyfunction]
pub fn identifier_parts(identifier: &str) -> Vec<String> {
    crate::lex::identifier_parts(identifier)
        .map(str::to_string)
        .collect()
}
