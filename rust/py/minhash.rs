//! Bindings of MinHash dedup: signatures, LSH edges, union-find, exact checks.
//! Arguments are converted first; the work runs in `py.detach` on rayon's pool; results go
//! back as NumPy arrays that take ownership of the Rust buffers (no copy).
use super::errors::{lang_arg, text_langs};
use super::limit::ByteLimit;
use crate::cluster::{
    bucket_pairs as core_bucket_pairs, components, lsh_edges as core_lsh_edges,
    lsh_pairs as core_lsh_pairs, pair_estimates,
};
use crate::error::Error;
use crate::jsonl_record::{read_records, Fields, Records};
use crate::lex::Lang;
use crate::minhash::{self, MinHasher, Scheme};
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyString};
use rayon::prelude::*;

/// A signature matrix and the shingle count of each document.
type Signatures<'py> = (Bound<'py, PyArray2<u32>>, Bound<'py, PyArray1<u32>>);

fn arg_err(msg: String) -> PyErr {
    Error::Argument(msg).into()
}

/// `languages`: None (generic), one name for all, or one name (or None) per document.
fn languages_arg(languages: Option<&Bound<'_, PyAny>>, n: usize) -> PyResult<Vec<Lang>> {
    let Some(obj) = languages.filter(|o| !o.is_none()) else {
        return Ok(vec![Lang::Generic; n]);
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(vec![lang_arg(Some(s.to_str()?))?; n]);
    }
    let names: Vec<Option<String>> = obj.extract().map_err(|_| {
        arg_err("languages must be None, a language name, or a list of names (or None)".into())
    })?;
    text_langs(n, Some(names))
}

fn docs<'a>(texts: &'a [PyBackedStr], langs: &[Lang]) -> Vec<(&'a str, Lang)> {
    texts
        .iter()
        .map(|t| &**t)
        .zip(langs.iter().copied())
        .collect()
}

fn matrix<T: numpy::Element>(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    data: Vec<T>,
) -> PyResult<Bound<'_, PyArray2<T>>> {
    Array2::from_shape_vec((rows, cols), data)
        .map(|a| a.into_pyarray(py))
        .map_err(|e| arg_err(format!("internal shape error: {e}")))
}

/// A C-contiguous 2-D array as (rows, cols, flat slice).
fn flat2<'a, T: numpy::Element>(
    arr: &'a PyReadonlyArray2<'_, T>,
    name: &str,
) -> PyResult<(usize, usize, &'a [T])> {
    let shape = arr.shape();
    let data = arr
        .as_slice()
        .map_err(|_| arg_err(format!("{name} must be a C-contiguous array")))?;
    Ok((shape[0], shape[1], data))
}

fn pairs_arg(edges: &PyReadonlyArray2<'_, u32>, name: &str, n: usize) -> PyResult<Vec<(u32, u32)>> {
    let (_, cols, data) = flat2(edges, name)?;
    if cols != 2 && !data.is_empty() {
        return Err(arg_err(format!(
            "{name} must have shape (k, 2), got (_, {cols})"
        )));
    }
    if let Some(&bad) = data.iter().find(|&&d| d as usize >= n) {
        return Err(arg_err(format!(
            "{name} names document {bad}, but there are {n}"
        )));
    }
    Ok(data.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

/// `active`: None (all documents) or one bool per signature row.
fn active_arg(active: Option<&PyReadonlyArray1<'_, bool>>, n: usize) -> PyResult<Vec<bool>> {
    let Some(a) = active else {
        return Ok(vec![true; n]);
    };
    let s = a
        .as_slice()
        .map_err(|_| arg_err("active must be contiguous".into()))?;
    if s.len() != n {
        return Err(arg_err(format!(
            "active has {} entries for {n} signatures",
            s.len()
        )));
    }
    Ok(s.to_vec())
}

/// MinHash signatures of `texts`: a `(len(texts), num_perm)` uint32 array and each text's
/// shingle count (0 marks an empty document, whose signature is all 0xFFFFFFFF).
#[pyfunction]
#[pyo3(signature = (texts, languages=None, num_perm=256, ngram=5, seed=1, scheme="bucket"))]
pub fn minhash_signatures<'py>(
    py: Python<'py>,
    texts: Vec<PyBackedStr>,
    languages: Option<&Bound<'py, PyAny>>,
    num_perm: usize,
    ngram: usize,
    seed: u64,
    scheme: &str,
) -> PyResult<Signatures<'py>> {
    let langs = languages_arg(languages, texts.len())?;
    sign_docs(py, &docs(&texts, &langs), num_perm, ngram, seed, scheme)
}

/// The signatures and shingle counts of `docs`, signed without the GIL.
fn sign_docs<'py>(
    py: Python<'py>,
    docs: &[(&str, Lang)],
    num_perm: usize,
    ngram: usize,
    seed: u64,
    scheme: &str,
) -> PyResult<Signatures<'py>> {
    let hasher = MinHasher::with_scheme(num_perm, ngram, seed, Scheme::from_name(scheme)?)?;
    let (sigs, counts) = py.detach(|| hasher.signatures(docs));
    Ok((
        matrix(py, docs.len(), num_perm, sigs)?,
        counts.into_pyarray(py),
    ))
}

/// Signatures from pre-hashed shingles: document `d` is `hashes[offsets[d]:offsets[d+1]]`.
#[pyfunction]
#[pyo3(signature = (hashes, offsets, num_perm=256, seed=1, scheme="bucket"))]
pub fn minhash_signatures_from_hashes<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    offsets: PyReadonlyArray1<'py, u64>,
    num_perm: usize,
    seed: u64,
    scheme: &str,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let hasher = MinHasher::with_scheme(num_perm, 1, seed, Scheme::from_name(scheme)?)?;
    let h = hashes
        .as_slice()
        .map_err(|_| arg_err("hashes must be a contiguous uint64 array".into()))?;
    let o = offsets
        .as_slice()
        .map_err(|_| arg_err("offsets must be a contiguous uint64 array".into()))?;
    let sigs = py.detach(|| hasher.signatures_of_flat(h, o))?;
    matrix(py, o.len().saturating_sub(1), num_perm, sigs)
}

/// The shingle hashes of one text (uint64), distinct and sorted with `unique`.
#[pyfunction]
#[pyo3(signature = (text, language=None, ngram=5, unique=true))]
pub fn shingle_hashes<'py>(
    py: Python<'py>,
    text: &str,
    language: Option<&str>,
    ngram: usize,
    unique: bool,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let lang = lang_arg(language)?;
    if ngram == 0 {
        return Err(arg_err("ngram must be at least 1".into()));
    }
    let v = py.detach(|| {
        if unique {
            minhash::shingle_set(text, lang, ngram)
        } else {
            let mut v = Vec::new();
            minhash::shingles(text, lang, ngram, &mut v);
            v
        }
    });
    Ok(v.into_pyarray(py))
}

/// `(bands, rows)` minimising the weighted false-positive and false-negative areas.
#[pyfunction]
#[pyo3(signature = (threshold, num_perm, fp_weight=0.5, fn_weight=0.5))]
pub fn lsh_params(
    py: Python<'_>,
    threshold: f64,
    num_perm: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> PyResult<(usize, usize)> {
    Ok(py.detach(|| minhash::optimal_params(threshold, num_perm, fp_weight, fn_weight))?)
}

/// Band keys of a signature matrix: `(n, bands)` uint64.
#[pyfunction]
pub fn lsh_band_keys<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    bands: usize,
    rows: usize,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let (n, num_perm, sigs) = flat2(&signatures, "signatures")?;
    minhash::check_bands(bands, rows, num_perm)?;
    let mut keys = vec![0u64; n * bands];
    py.detach(|| {
        use rayon::prelude::*;
        keys.par_chunks_mut(bands.max(1))
            .zip(sigs.par_chunks(num_perm.max(1)))
            .for_each(|(out, sig)| minhash::band_keys(sig, bands, rows, out));
    });
    matrix(py, n, bands, keys)
}

/// Candidate pairs `(k, 2)` uint32: documents sharing a band key, each joined to the
/// smallest of its bucket; `active` (bool per document) leaves documents out.
#[pyfunction]
#[pyo3(signature = (signatures, bands, rows, active=None))]
pub fn lsh_edges<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    bands: usize,
    rows: usize,
    active: Option<PyReadonlyArray1<'py, bool>>,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let (n, num_perm, sigs) = flat2(&signatures, "signatures")?;
    minhash::check_bands(bands, rows, num_perm)?;
    if n > u32::MAX as usize {
        return Err(arg_err(format!("at most 2^32-1 documents, got {n}")));
    }
    let act = active_arg(active.as_ref(), n)?;
    let edges = py.detach(|| core_lsh_edges(sigs, num_perm, bands, rows, &act));
    pairs_matrix(py, edges)
}

/// Document pairs as a `(k, 2)` uint32 array.
fn pairs_matrix(py: Python<'_>, pairs: Vec<(u32, u32)>) -> PyResult<Bound<'_, PyArray2<u32>>> {
    let k = pairs.len();
    let flat: Vec<u32> = pairs.into_iter().flat_map(|(a, b)| [a, b]).collect();
    matrix(py, k, 2, flat)
}

/// The LSH window (`lsh_pairs`, `bucket_pairs`): each member paired with at least one before it.
fn window_arg(window: usize) -> PyResult<usize> {
    if window == 0 {
        return Err(arg_err("window must be at least 1".into()));
    }
    Ok(window)
}

/// Candidate pairs to check `(k, 2)` uint32 (sorted, distinct): in each band bucket every
/// member paired with the up to `window` members before it; and the number of bucket pairs
/// the window left out (counted per band).
#[pyfunction]
#[pyo3(signature = (signatures, bands, rows, active=None, window=64))]
pub fn lsh_pairs<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    bands: usize,
    rows: usize,
    active: Option<PyReadonlyArray1<'py, bool>>,
    window: usize,
) -> PyResult<(Bound<'py, PyArray2<u32>>, u64)> {
    let (n, num_perm, sigs) = flat2(&signatures, "signatures")?;
    minhash::check_bands(bands, rows, num_perm)?;
    let window = window_arg(window)?;
    let act = active_arg(active.as_ref(), n)?;
    let (pairs, skipped) = py.detach(|| core_lsh_pairs(sigs, num_perm, bands, rows, &act, window));
    Ok((pairs_matrix(py, pairs)?, skipped))
}

/// The pairs of `lsh_pairs` from band keys already computed: rows `(band, key, doc)`, in any
/// order, that hold every row of their keys (a partition of the Ray engine's shuffle). Pairs
/// `(k, 2)` uint32 (sorted, distinct) and the bucket pairs the window left out.
#[pyfunction]
#[pyo3(signature = (bands, keys, docs, window=64))]
pub fn bucket_pairs<'py>(
    py: Python<'py>,
    bands: PyReadonlyArray1<'py, u32>,
    keys: PyReadonlyArray1<'py, u64>,
    docs: PyReadonlyArray1<'py, u32>,
    window: usize,
) -> PyResult<(Bound<'py, PyArray2<u32>>, u64)> {
    let contiguous = |name: &str| arg_err(format!("{name} must be a contiguous array"));
    let b = bands.as_slice().map_err(|_| contiguous("bands"))?;
    let k = keys.as_slice().map_err(|_| contiguous("keys"))?;
    let d = docs.as_slice().map_err(|_| contiguous("docs"))?;
    if k.len() != b.len() || d.len() != b.len() {
        return Err(arg_err(format!(
            "bands, keys and docs must have one entry per row, got {}, {} and {}",
            b.len(),
            k.len(),
            d.len()
        )));
    }
    let window = window_arg(window)?;
    let (pairs, skipped) = py.detach(|| core_bucket_pairs(b, k, d, window));
    Ok((pairs_matrix(py, pairs)?, skipped))
}

/// Estimated Jaccard (fraction of equal slots, float32) of each pair `(k, 2)` of signatures.
#[pyfunction]
pub fn signature_estimates<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    pairs: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let (n, num_perm, sigs) = flat2(&signatures, "signatures")?;
    let pairs = pairs_arg(&pairs, "pairs", n)?;
    Ok(py
        .detach(|| pair_estimates(sigs, num_perm, &pairs))
        .into_pyarray(py))
}

/// Exact Jaccard of the shingle sets of document pairs `(k, 2)` of `texts`.
#[pyfunction]
#[pyo3(signature = (texts, pairs, languages=None, ngram=5))]
pub fn exact_jaccard_pairs<'py>(
    py: Python<'py>,
    texts: Vec<PyBackedStr>,
    pairs: PyReadonlyArray2<'py, u32>,
    languages: Option<&Bound<'py, PyAny>>,
    ngram: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    if ngram == 0 {
        return Err(arg_err("ngram must be at least 1".into()));
    }
    let langs = languages_arg(languages, texts.len())?;
    let pairs = pairs_arg(&pairs, "pairs", texts.len())?;
    let docs = docs(&texts, &langs);
    let j = py.detach(|| minhash::exact_jaccard_pairs(&docs, ngram, &pairs));
    Ok(j.into_pyarray(py))
}

/// Cluster labels of `n` documents joined by `edges` `(k, 2)`: each document's label is the
/// smallest document of its cluster.
#[pyfunction]
pub fn connected_components<'py>(
    py: Python<'py>,
    n: usize,
    edges: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<u32>>> {
    if n > u32::MAX as usize {
        return Err(arg_err(format!("at most 2^32-1 documents, got {n}")));
    }
    let edges = pairs_arg(&edges, "edges", n)?;
    Ok(py.detach(|| components(n, &edges)).into_pyarray(py))
}

/// 128-bit content hashes `(n, 2)` uint64 for exact dedup.
#[pyfunction]
#[pyo3(signature = (texts, normalize_whitespace=false))]
pub fn content_hashes<'py>(
    py: Python<'py>,
    texts: Vec<PyBackedStr>,
    normalize_whitespace: bool,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let texts: Vec<&str> = texts.iter().map(|t| &**t).collect();
    hashes_of(py, &texts, normalize_whitespace)
}

/// The `(n, 2)` content hashes of `texts`, computed without the GIL.
fn hashes_of<'py>(
    py: Python<'py>,
    texts: &[&str],
    normalize_whitespace: bool,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let hashes: Vec<u64> = py.detach(|| {
        texts
            .par_iter()
            .flat_map_iter(|t| minhash::content_hash(t, normalize_whitespace))
            .collect()
    });
    matrix(py, texts.len(), 2, hashes)
}

/// The texts of a batch of JSONL lines' records, read in the core for dedup: hashed and signed
/// here, so that no Python string is made of them (`read_record_texts`).
#[pyclass(name = "RecordTexts", module = "codemill._core")]
pub struct PyRecordTexts {
    texts: Vec<String>,
}

impl PyRecordTexts {
    fn strs(&self) -> Vec<&str> {
        self.texts.iter().map(String::as_str).collect()
    }
}

#[pymethods]
impl PyRecordTexts {
    fn __len__(&self) -> usize {
        self.texts.len()
    }

    /// Puts `texts` (those the Python reader found in the lines left) in their places: `at`,
    /// ascending, are their indices once in.
    fn insert(&mut self, at: Vec<usize>, texts: Vec<String>) -> PyResult<()> {
        let total = self.texts.len() + texts.len();
        if at.len() != texts.len()
            || at.windows(2).any(|w| w[0] >= w[1])
            || at.last().is_some_and(|&i| i >= total)
        {
            return Err(arg_err(format!(
                "at must be {} ascending indices below {total}",
                texts.len()
            )));
        }
        let mut mine = std::mem::take(&mut self.texts).into_iter();
        let mut theirs = at.into_iter().zip(texts).peekable();
        self.texts = (0..total)
            .map(|i| match theirs.next_if(|(j, _)| *j == i) {
                Some((_, text)) => text,
                None => mine.next().expect("counted above"),
            })
            .collect();
        Ok(())
    }

    /// Each text's length in characters (as Python's `len`).
    fn lengths<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let n: Vec<i64> = py.detach(|| {
            self.texts
                .par_iter()
                .map(|t| t.chars().count() as i64)
                .collect()
        });
        n.into_pyarray(py)
    }

    /// `content_hashes` of the texts.
    #[pyo3(signature = (normalize_whitespace=false))]
    fn content_hashes<'py>(
        &self,
        py: Python<'py>,
        normalize_whitespace: bool,
    ) -> PyResult<Bound<'py, PyArray2<u64>>> {
        hashes_of(py, &self.strs(), normalize_whitespace)
    }

    /// `minhash_signatures` of the texts at `indices`, with the generic scanner table.
    #[pyo3(signature = (indices, num_perm=256, ngram=5, seed=1, scheme="bucket"))]
    fn minhash_signatures<'py>(
        &self,
        py: Python<'py>,
        indices: Vec<usize>,
        num_perm: usize,
        ngram: usize,
        seed: u64,
        scheme: &str,
    ) -> PyResult<Signatures<'py>> {
        let docs = indices
            .iter()
            .map(|&i| {
                let text = self.texts.get(i).ok_or_else(|| {
                    arg_err(format!(
                        "index {i} out of range for {} texts",
                        self.texts.len()
                    ))
                })?;
                Ok((text.as_str(), Lang::Generic))
            })
            .collect::<PyResult<Vec<_>>>()?;
        sign_docs(py, &docs, num_perm, ngram, seed, scheme)
    }
}

/// The first document of each distinct content hash, across batches (`minhash::FirstSeen`).
#[pyclass(name = "FirstSeen", module = "codemill._core")]
#[derive(Default)]
pub struct PyFirstSeen {
    seen: minhash::FirstSeen,
}

#[pymethods]
impl PyFirstSeen {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    fn __len__(&self) -> usize {
        self.seen.len()
    }

    /// For documents `start, start + 1, ...` with `hashes` (`content_hashes`, `(n, 2)` uint64),
    /// each one's first document with its hash: itself for a new hash, else the earlier one.
    fn first<'py>(
        &mut self,
        py: Python<'py>,
        hashes: PyReadonlyArray2<'py, u64>,
        start: u64,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let (_, cols, data) = flat2(&hashes, "hashes")?;
        if cols != 2 {
            return Err(arg_err(format!(
                "hashes must have shape (n, 2), got (_, {cols})"
            )));
        }
        let rows: Vec<[u64; 2]> = data.chunks_exact(2).map(|h| [h[0], h[1]]).collect();
        Ok(self.seen.first(&rows, start).into_pyarray(py))
    }
}

/// Reads JSONL lines' records as `RecordReader` takes them (`fields`: the text, path and language
/// fields, each in order of preference), parsed without the GIL, except the lines whose records
/// only the Python reader decides ([`read_records`]): the texts, in order, each line's skip
/// reason (None: a record or a line left) and the indices of the lines left.
#[pyfunction]
pub fn read_record_texts(
    py: Python<'_>,
    lines: Vec<Bound<'_, PyBytes>>,
    fields: (Vec<String>, Vec<String>, Vec<String>),
    max_bytes: ByteLimit,
) -> (PyRecordTexts, Vec<Option<&'static str>>, Vec<usize>) {
    let fields = Fields::from(fields);
    let lines: Vec<&[u8]> = lines.iter().map(|b| b.as_bytes()).collect();
    let Records {
        texts,
        reasons,
        left,
    } = py.detach(|| read_records(&lines, &fields, max_bytes.0));
    let texts = texts.into_iter().map(|(text, _)| text).collect();
    (PyRecordTexts { texts }, reasons, left)
}
