//! Bindings of the codemill tokenizer: loading, training and its own accessors, with the GIL
//! released for the work; its encode/decode methods are the ones both tokenizer classes share
//! (`encoding.rs`).
use super::errors::text_langs;
use crate::error::Error;
use crate::lex::Lang;
use crate::parallel::with_threads;
use crate::tokenizer::{Tokenizer, TrainConfig};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

#[pyclass(module = "codemill._core", name = "Tokenizer", frozen)]
pub struct PyTokenizer {
    pub(super) inner: Tokenizer,
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

    /// This vocabulary as a `/3` tokenizer whose lookahead is kept after the longest tokens
    /// whose second candidate wins somewhere in `texts` (what training does on its own text).
    fn weighed_by(&self, py: Python<'_>, texts: Vec<PyBackedStr>) -> PyResult<Self> {
        let inner = py.detach(|| {
            let docs: Vec<&str> = texts.iter().map(|t| &**t).collect();
            let winners = self.inner.second_winners(&docs);
            Tokenizer::from_json(&self.inner.to_json())?.weigh_only(winners)
        })?;
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
}
