//! Bindings of token-budgeted embedding batches: `EmbeddingBatcher` over a model's
//! `tokenizer.json`, and `pack_batches` for ids the caller already has (codemill's tokenizer).
use crate::batch::{pack, BatchConfig, ModelTokenizer, PackStats};
use crate::error::Error;
use crate::parallel::with_threads;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// (input_ids, attention_mask, indices): int64 arrays owning the Rust buffers (no copy).
type PyBatch<'py> = (
    Bound<'py, PyArray2<i64>>,
    Bound<'py, PyArray2<i64>>,
    Bound<'py, PyArray1<i64>>,
);

fn to_py<'py>(
    py: Python<'py>,
    batches: Vec<crate::batch::Batch>,
    stats: PackStats,
) -> PyResult<(Vec<PyBatch<'py>>, Bound<'py, PyDict>)> {
    let shape_err =
        |e: numpy::ndarray::ShapeError| Error::Argument(format!("internal shape error: {e}"));
    let out = batches
        .into_iter()
        .map(|b| {
            let ids = Array2::from_shape_vec((b.rows, b.cols), b.input_ids).map_err(shape_err)?;
            let mask =
                Array2::from_shape_vec((b.rows, b.cols), b.attention_mask).map_err(shape_err)?;
            Ok((
                ids.into_pyarray(py),
                mask.into_pyarray(py),
                b.indices.into_pyarray(py),
            ))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let d = PyDict::new(py);
    d.set_item("texts", stats.texts)?;
    d.set_item("truncated", stats.truncated)?;
    d.set_item("batches", stats.batches)?;
    d.set_item("real_tokens", stats.real_tokens)?;
    d.set_item("padded_tokens", stats.padded_tokens)?;
    d.set_item("waste", stats.waste())?;
    d.set_item("naive_batches", stats.naive_batches)?;
    d.set_item("naive_padded_tokens", stats.naive_padded_tokens)?;
    d.set_item("naive_waste", stats.naive_waste())?;
    Ok((out, d))
}

fn config(
    max_length: usize,
    max_tokens: usize,
    max_batch_size: usize,
    pad_id: u32,
) -> PyResult<BatchConfig> {
    let cfg = BatchConfig {
        max_length,
        max_tokens,
        max_batch_size,
        pad_id,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Packs id sequences into padded batches, longest first, under a token budget.
/// Returns (batches, stats); each batch is (input_ids, attention_mask, indices).
#[pyfunction]
#[pyo3(signature = (sequences, max_length=512, max_tokens=16384, max_batch_size=64, pad_id=0))]
pub fn pack_batches<'py>(
    py: Python<'py>,
    sequences: Vec<PyReadonlyArray1<'py, u32>>,
    max_length: usize,
    max_tokens: usize,
    max_batch_size: usize,
    pad_id: u32,
) -> PyResult<(Vec<PyBatch<'py>>, Bound<'py, PyDict>)> {
    let cfg = config(max_length, max_tokens, max_batch_size, pad_id)?;
    let seqs: Vec<Vec<u32>> = sequences
        .iter()
        .map(|s| Ok(s.as_slice()?.to_vec()))
        .collect::<PyResult<_>>()?;
    let (batches, stats) = py.detach(|| pack(&seqs, &cfg))?;
    to_py(py, batches, stats)
}

/// Tokenizes texts with an embedding model's `tokenizer.json` and packs them into batches.
#[pyclass(name = "EmbeddingBatcher", module = "codemill._core", frozen)]
pub struct PyEmbeddingBatcher {
    tokenizer: ModelTokenizer,
    cfg: BatchConfig,
}

#[pymethods]
impl PyEmbeddingBatcher {
    #[new]
    #[pyo3(signature = (tokenizer_path, max_length=512, max_tokens=16384, max_batch_size=64))]
    fn new(
        py: Python<'_>,
        tokenizer_path: PathBuf,
        max_length: usize,
        max_tokens: usize,
        max_batch_size: usize,
    ) -> PyResult<Self> {
        let tokenizer = py.detach(|| ModelTokenizer::from_file(&tokenizer_path))?;
        let cfg = config(max_length, max_tokens, max_batch_size, tokenizer.pad_id())?;
        Ok(PyEmbeddingBatcher { tokenizer, cfg })
    }

    #[getter]
    fn pad_id(&self) -> u32 {
        self.cfg.pad_id
    }

    /// Vocabulary size, added tokens included.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.tokenizer.vocab_size()
    }

    #[getter]
    fn max_length(&self) -> usize {
        self.cfg.max_length
    }

    /// Token ids of each text (with the model's special tokens, truncated to max_length).
    #[pyo3(signature = (texts, num_threads=None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<Bound<'py, PyArray1<u32>>>> {
        let (seqs, _) = py.detach(|| {
            let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
            with_threads(num_threads, || {
                self.tokenizer.encode(&refs, self.cfg.max_length)
            })?
        })?;
        Ok(seqs.into_iter().map(|s| s.into_pyarray(py)).collect())
    }

    /// (batches, stats): each batch is (input_ids, attention_mask, indices) with `indices`
    /// the rows' positions in `texts`; stats compare padding with naive fixed-size batches.
    #[pyo3(signature = (texts, num_threads=None))]
    fn batches<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        num_threads: Option<usize>,
    ) -> PyResult<(Vec<PyBatch<'py>>, Bound<'py, PyDict>)> {
        let (batches, stats) = py.detach(|| {
            let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
            let (seqs, truncated) = with_threads(num_threads, || {
                self.tokenizer.encode(&refs, self.cfg.max_length)
            })??;
            let (batches, mut stats) = pack(&seqs, &self.cfg)?;
            stats.truncated = truncated;
            Ok::<_, Error>((batches, stats))
        })?;
        to_py(py, batches, stats)
    }
}
