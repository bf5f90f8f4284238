//! Bindings of base vocabularies (`crate::base`): built from what the Python side read out of
//! a tiktoken rank file or a `tokenizer.json`; their encode/decode methods are the codemill
//! tokenizer's (`encoding.rs`), so `CodeTokenizer` drives either.
use crate::base::split::{Known, Splitter, Stage, KNOWN};
use crate::base::{Added, BaseTokenizer, Spec};
use crate::error::Error;
use crate::parallel::with_threads;
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

#[pyclass(module = "codemill._core", name = "BaseTokenizer", frozen)]
pub struct PyBaseTokenizer {
    pub(super) inner: BaseTokenizer,
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
