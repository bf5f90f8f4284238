//! Bindings of the built-in embedder and of the identifier-aware keyword terms.
use super::errors::lang_arg;
use crate::embed::{terms, HashEmbedder};
use crate::error::Error;
use crate::lex::Lang;
use crate::parallel::with_threads;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use rayon::prelude::*;
use std::collections::HashMap;

/// One language per text (None: generic), or None for all generic.
pub(super) fn text_langs(n: usize, languages: Option<Vec<Option<String>>>) -> PyResult<Vec<Lang>> {
    let Some(list) = languages else {
        return Ok(vec![Lang::Generic; n]);
    };
    if list.len() != n {
        return Err(Error::Argument(format!(
            "languages has {} entries for {n} texts",
            list.len()
        ))
        .into());
    }
    let mut cache: HashMap<Option<String>, Lang> = HashMap::new();
    list.into_iter()
        .map(|name| {
            if let Some(&l) = cache.get(&name) {
                return Ok(l);
            }
            let l = lang_arg(name.as_deref())?;
            cache.insert(name, l);
            Ok(l)
        })
        .collect()
}

/// Built-in embeddings: an (n, dim) float32 array of L2-normalised rows (all-zero rows for
/// texts without any term).
#[pyfunction]
#[pyo3(signature = (texts, languages=None, dim=384, num_threads=None))]
pub fn embed_hashed<'py>(
    py: Python<'py>,
    texts: Vec<PyBackedStr>,
    languages: Option<Vec<Option<String>>>,
    dim: usize,
    num_threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let langs = text_langs(texts.len(), languages)?;
    let embedder = HashEmbedder::new(dim)?;
    let n = texts.len();
    let flat = py.detach(|| {
        let docs: Vec<(&str, Lang)> = texts.iter().map(|t| &**t).zip(langs).collect();
        with_threads(num_threads, || embedder.embed_batch(&docs))
    })?;
    let arr = Array2::from_shape_vec((n, dim), flat)
        .map_err(|e| Error::Argument(format!("internal shape error: {e}")))?;
    Ok(arr.into_pyarray(py))
}

/// Keyword-search terms of each text: identifiers whole and split into parts, lower-cased,
/// keywords and stop words dropped (`getUserById` -> getuserbyid, get, user, id).
#[pyfunction]
#[pyo3(signature = (texts, languages=None, num_threads=None))]
pub fn code_terms(
    py: Python<'_>,
    texts: Vec<PyBackedStr>,
    languages: Option<Vec<Option<String>>>,
    num_threads: Option<usize>,
) -> PyResult<Vec<Vec<String>>> {
    let langs = text_langs(texts.len(), languages)?;
    Ok(py.detach(|| {
        with_threads(num_threads, || {
            texts
                .par_iter()
                .zip(langs.par_iter())
                .map(|(t, &l)| terms(t, l))
                .collect::<Vec<_>>()
        })
    })?)
}
