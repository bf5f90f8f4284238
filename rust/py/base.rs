//! Bindings of base vocabularies (`crate::base`): built from what the Python side read out of
//! a tiktoken rank file or a `tokenizer.json`; encode/decode run with the GIL released and
//! mirror the codemill tokenizer's methods, so `CodeTokenizer` drives either.
use super::encoding::{self, FlatBatch};
use crate::base::split::{Known, Splitter, Stage, KNOWN};
use crate::base::{Added, BaseTokenizer, Spec};
use crate::error::Error;
use crate::parallel::with_threads;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyList};

#[pyclass(module = "codemill._core", name = "BaseTokenizer", frozen)]
pub struct PyBaseTokenizer {
    inner: BaseTokenizer,
}

fn stage(kind: &str, arg: &str) -> Result<Stage, Error> {
    Ok(match kind {
        "known" => Stage::Known(
            Known::from_name(arg)
                .ok_or_else(|| Error::Argument(format!("unknown split pattern name {arg:?}")))?,
        ),
        "regex" => Stage::regex(arg)?,
        "fancy" => Stage::fancy(arg)?,
        "digits" => Stage::Digits {
            individual: arg == "individual",
        },
        _ => {
            return Err(Error::Argument(format!(
                "unknown pre-tokenizer stage {kind:?}"
            )))
        }
    })
}

#[pymethods]
impl PyBaseTokenizer {
    /// `stages`: (kind, argument) with kind "known" (a pattern name), "regex" (a known pattern's
    /// scanner when it is one), "fancy" (fancy-regex always) or "digits"
    /// ("individual" or "runs"); `added`: (content, id, special, normalized).
    #[new]
    #[pyo3(signature = (tokens, merges, whole_first, stages, added, extension))]
    fn new(
        py: Python<'_>,
        tokens: Vec<Option<Vec<u8>>>,
        merges: Option<Vec<(u32, u32)>>,
        whole_first: bool,
        stages: Vec<(String, String)>,
        added: Vec<(String, u32, bool, bool)>,
        extension: Vec<(String, u32)>,
    ) -> PyResult<Self> {
        let stages = stages
            .iter()
            .map(|(k, a)| stage(k, a))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = Spec {
            tokens,
            merges,
            whole_first,
            splitter: Splitter::new(stages),
            added: added
                .into_iter()
                .map(|(content, id, special, normalized)| Added {
                    content,
                    id,
                    special,
                    normalized,
                })
                .collect(),
            extension,
        };
        let inner = py.detach(|| BaseTokenizer::new(spec))?;
        Ok(PyBaseTokenizer { inner })
    }

    /// The split patterns with hand-written scanners: (name, regex).
    #[staticmethod]
    fn split_patterns() -> Vec<(&'static str, &'static str)> {
        KNOWN.to_vec()
    }

    /// The name of the hand-written scanner this tokenizer splits with, if it is one.
    #[staticmethod]
    fn known_pattern(pattern: &str) -> Option<&'static str> {
        let k = Known::from_regex(pattern)?;
        KNOWN
            .iter()
            .find(|(name, _)| Known::from_name(name) == Some(k))
            .map(|(name, _)| *name)
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    #[getter]
    fn base_size(&self) -> usize {
        self.inner.base_size()
    }

    #[getter]
    fn identifier_vocab_size(&self) -> usize {
        self.inner.extension_size()
    }

    #[getter]
    fn special_tokens(&self) -> Vec<String> {
        self.inner.specials().map(|a| a.content.clone()).collect()
    }

    fn special_id(&self, index: usize) -> PyResult<u32> {
        self.inner
            .specials()
            .nth(index)
            .map(|a| a.id)
            .ok_or_else(|| Error::Argument(format!("no special token {index}")).into())
    }

    fn token_bytes<'py>(&self, py: Python<'py>, id: u32) -> Option<Bound<'py, PyBytes>> {
        encoding::token_bytes(&self.inner, py, id)
    }

    fn token_to_id(&self, token: &[u8]) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Byte length of every token (0 for unused ids): offsets come from their running sum.
    fn token_lengths<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        (0..self.inner.vocab_size() as u32)
            .map(|i| self.inner.token_bytes(i).map_or(0, |b| b.len() as u32))
            .collect::<Vec<u32>>()
            .into_pyarray(py)
    }

    fn pieces(&self, py: Python<'_>, text: &str) -> Vec<String> {
        py.detach(|| {
            self.inner
                .pieces(text)
                .into_iter()
                .map(str::to_string)
                .collect()
        })
    }

    /// `language` is accepted and ignored: one pre-tokenizer for every language.
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

    /// The `size` identifier tokens that save the most base tokens on `texts`:
    /// (text, count, base tokens), best first.
    #[pyo3(signature = (texts, size, min_count=2, num_threads=None))]
    fn identifier_candidates(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        size: usize,
        min_count: u64,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<(String, u64, u32)>> {
        Ok(py.detach(|| {
            let docs: Vec<&str> = texts.iter().map(|t| &**t).collect();
            with_threads(num_threads, || {
                self.inner
                    .identifier_candidates(&docs, size, min_count)
                    .into_iter()
                    .map(|c| (c.text, c.count, c.base_tokens))
                    .collect()
            })
        })?)
    }
}
