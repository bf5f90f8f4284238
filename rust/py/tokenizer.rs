//! Bindings of the tokenizer: ids go out as NumPy arrays built from the Rust vectors (no copy),
//! and every encode/decode/train runs with the GIL released.
use super::encoding::{self, FlatBatch};
use super::errors::text_langs;
use crate::error::Error;
use crate::lex::Lang;
use crate::parallel::with_threads;
use crate::tokenizer::{Tokenizer, TrainConfig};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyList};

#[pyclass(module = "codemill._core", name = "Tokenizer", frozen)]
pub struct PyTokenizer {
    inner: Tokenizer,
}

#[pymethods]
impl PyTokenizer {
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        Ok(PyTokenizer {
            inner: py.detach(|| Tokenizer::from_json(text))?,
        })
    }

    #[staticmethod]
    #[pyo3(signature = (texts, languages, vocab_size, identifier_vocab_size, line_merge_fraction,
                        min_frequency, special_tokens, metadata_json, num_threads=None))]
    fn train(
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        languages: Vec<Option<String>>,
        vocab_size: usize,
        identifier_vocab_size: usize,
        line_merge_fraction: f64,
        min_frequency: u64,
        special_tokens: Vec<String>,
        metadata_json: &str,
        num_threads: Option<usize>,
    ) -> PyResult<Self> {
        let langs = text_langs(texts.len(), Some(languages))?;
        let metadata = serde_json::from_str(metadata_json)
            .map_err(|e| Error::Argument(format!("metadata is not JSON: {e}")))?;
        let cfg = TrainConfig {
            vocab_size,
            identifier_vocab_size,
            line_merge_fraction,
            min_frequency,
            special_tokens,
            metadata,
        };
        let inner = py.detach(|| {
            let docs: Vec<(&str, Lang)> = texts.iter().map(|t| &**t).zip(langs).collect();
            with_threads(num_threads, || Tokenizer::train(&docs, cfg))
        })??;
        Ok(PyTokenizer { inner })
    }

    fn to_json(&self, py: Python<'_>) -> String {
        py.detach(|| self.inner.to_json())
    }

    fn metadata_json(&self) -> String {
        self.inner.metadata().to_string()
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    #[getter]
    fn identifier_vocab_size(&self) -> usize {
        self.inner.identifier_vocab_size()
    }

    #[getter]
    fn num_merges(&self) -> usize {
        self.inner.num_merges()
    }

    #[staticmethod]
    fn default_special_tokens() -> Vec<&'static str> {
        crate::tokenizer::DEFAULT_SPECIALS.to_vec()
    }

    #[getter]
    fn special_tokens(&self) -> Vec<String> {
        self.inner.specials().to_vec()
    }

    fn special_id(&self, index: usize) -> PyResult<u32> {
        if index >= self.inner.specials().len() {
            return Err(Error::Argument(format!("no special token {index}")).into());
        }
        Ok(self.inner.special_id(index))
    }

    fn token_bytes<'py>(&self, py: Python<'py>, id: u32) -> Option<Bound<'py, PyBytes>> {
        encoding::token_bytes(&self.inner, py, id)
    }

    fn token_to_id(&self, token: &[u8]) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// All merges in id order: stage 1 (inside pieces), then stage 2 (across pieces).
    fn merges(&self) -> Vec<(u32, u32)> {
        self.inner
            .merges()
            .iter()
            .chain(self.inner.line_merges())
            .copied()
            .collect()
    }

    #[getter]
    fn num_line_merges(&self) -> usize {
        self.inner.line_merges().len()
    }

    #[pyo3(signature = (text, language=None, allowed=Vec::new()))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        language: Option<&str>,
        allowed: Vec<bool>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        encoding::encode(&self.inner, py, text, language, &allowed)
    }

    #[pyo3(signature = (text, language=None, allowed=Vec::new()))]
    fn count(
        &self,
        py: Python<'_>,
        text: &str,
        language: Option<&str>,
        allowed: Vec<bool>,
    ) -> PyResult<usize> {
        encoding::count(&self.inner, py, text, language, &allowed)
    }

    #[pyo3(signature = (texts, languages=None, allowed=Vec::new(), num_threads=None))]
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        languages: Option<Vec<Option<String>>>,
        allowed: Vec<bool>,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        encoding::encode_batch(&self.inner, py, &texts, languages, &allowed, num_threads)
    }

    /// All texts' ids concatenated, and offsets (n + 1) where each text starts: the layout
    /// corpus writers want, with two allocations however many texts.
    #[pyo3(signature = (texts, languages=None, allowed=Vec::new(), num_threads=None))]
    fn encode_batch_flat<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        languages: Option<Vec<Option<String>>>,
        allowed: Vec<bool>,
        num_threads: Option<usize>,
    ) -> PyResult<FlatBatch<'py>> {
        encoding::encode_batch_flat(&self.inner, py, &texts, languages, &allowed, num_threads)
    }

    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        ids: PyReadonlyArray1<'py, u32>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        encoding::decode_bytes(&self.inner, py, ids)
    }
}
