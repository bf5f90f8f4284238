//! The encode / decode methods of both tokenizer classes (`Tokenizer`, `BaseTokenizer`),
//! written once: a second `#[pymethods]` block per class (PyO3's `multiple-pymethods`) over
//! its `inner` encoder. Ids go out as NumPy arrays built from the Rust vectors (no copy); the
//! work runs with the GIL released.
use super::base::PyBaseTokenizer;
use super::errors::{lang_arg, text_langs};
use super::limit::ByteLimit;
use super::text::{not_utf8, stored, with_utf8};
use super::tokenizer::PyTokenizer;
use crate::code_file::read_within;
use crate::encoder::Encoder;
use crate::jsonl_record::{read_records, Fields, Records};
use crate::lex::Lang;
use crate::packed;
use crate::parallel::with_threads;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::path::PathBuf;

/// All texts' ids concatenated and where each starts: what `encode_batch_flat` returns.
type FlatBatch<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<u64>>);

/// What `encode_files_packed` returns: the paths taken, the packed ids and lengths of the files
/// read, their sizes, and each taken path's reason it was not read (None: read).
type FilesPacked<'py> = (
    usize,
    Bound<'py, PyBytes>,
    Vec<u64>,
    Vec<usize>,
    Vec<Option<&'static str>>,
);

/// The ids of the files read, their sizes, and each taken path's reason it was not read.
type FilesEncoded = (Vec<Vec<u32>>, Vec<usize>, Vec<Option<&'static str>>);

/// What `encode_records_packed` returns: the packed ids and lengths of the lines' records, the
/// texts' sizes and languages, each line's skip reason (None: a record, or a line left), and the
/// lines left to the Python reader.
type RecordsPacked<'py> = (
    Bound<'py, PyBytes>,
    Vec<u64>,
    Vec<usize>,
    Vec<&'static str>,
    Vec<Option<&'static str>>,
    Vec<usize>,
);

/// What [`records_and_encode`] returns: `RecordsPacked` with the ids not packed yet.
type RecordsEncoded = (
    Vec<Vec<u32>>,
    Vec<usize>,
    Vec<&'static str>,
    Vec<Option<&'static str>>,
    Vec<usize>,
);

/// The ids, sizes and languages of the records of `lines`, each line's skip reason and the lines
/// only the Python reader decides. The lines are parsed on the pool too.
fn records_and_encode<E: Encoder>(
    enc: &E,
    lines: &[&[u8]],
    fields: &Fields,
    max_bytes: u64,
    allowed: &[bool],
    num_threads: Option<usize>,
) -> crate::error::Result<RecordsEncoded> {
    with_threads(num_threads, || {
        let Records {
            texts,
            reasons,
            left,
        } = read_records(lines, fields, max_bytes);
        let docs = texts
            .iter()
            .map(|(text, name)| {
                let lang = if enc.by_language() {
                    Lang::from_name(name)?
                } else {
                    Lang::Generic
                };
                Ok((text.as_str(), lang))
            })
            .collect::<crate::error::Result<Vec<_>>>()?;
        let ids = enc.encode_docs(&docs, allowed);
        let sizes = texts.iter().map(|(text, _)| text.len()).collect();
        let languages = texts.iter().map(|&(_, name)| name).collect();
        Ok((ids, sizes, languages, reasons, left))
    })?
}

/// Reads the code files `read_within` takes of `paths` and encodes those it could read, each in
/// its language (`langs`, one per path), on `num_threads`: the ids, the texts' sizes and each
/// taken path's reason. The files are read on the calling thread, not the encoder's: a read
/// that waits for a disk leaves the encoder to the other tasks in flight.
fn read_and_encode<E: Encoder>(
    enc: &E,
    paths: &[PathBuf],
    langs: Vec<Lang>,
    max_bytes: u64,
    budget: u64,
    allowed: &[bool],
    num_threads: Option<usize>,
) -> crate::error::Result<FilesEncoded> {
    let read = read_within(paths, max_bytes, budget);
    let reasons = read
        .iter()
        .map(|r| r.as_ref().err().map(|why| why.reason()))
        .collect();
    let texts: Vec<(String, Lang)> = read
        .into_iter()
        .zip(langs)
        .filter_map(|(r, lang)| r.ok().map(|text| (text, lang)))
        .collect();
    let sizes = texts.iter().map(|(text, _)| text.len()).collect();
    let docs: Vec<(&str, Lang)> = texts.iter().map(|(t, l)| (t.as_str(), *l)).collect();
    let ids = with_threads(num_threads, || enc.encode_docs(&docs, allowed))?;
    Ok((ids, sizes, reasons))
}

/// Concatenates per-text ids, with offsets (n + 1) where each text starts: three allocations
/// however many texts. The copies (and the frees) run on the pool too: done on one thread
/// they were a serial tail that held `encode_batch_flat` on 2 threads under 1.9x one. The
/// result is not zeroed first: that was a serial pass over it on the calling thread, and the
/// first touch of its fresh pages (43% of a one-worker tokenize run's page faults).
fn flatten(batch: Vec<Vec<u32>>) -> (Vec<u32>, Vec<u64>) {
    let mut offsets = Vec::with_capacity(batch.len() + 1);
    offsets.push(0u64);
    let mut total = 0usize;
    for b in &batch {
        total += b.len();
        offsets.push(total as u64);
    }
    let mut ids: Vec<u32> = Vec::with_capacity(total);
    let mut parts = Vec::with_capacity(batch.len());
    let mut rest = &mut ids.spare_capacity_mut()[..total];
    for b in &batch {
        let (part, tail) = rest.split_at_mut(b.len());
        parts.push(part);
        rest = tail;
    }
    parts.into_par_iter().zip(batch).for_each(|(part, b)| {
        // SAFETY: `part` is `b.len()` elements of `ids`' spare capacity, apart from every other part.
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr(), part.as_mut_ptr().cast::<u32>(), b.len())
        }
    });
    // SAFETY: the parts cover the first `total` elements, each written above.
    unsafe { ids.set_len(total) };
    (ids, offsets)
}

/// A new bytes object of `len` bytes and its contents, not yet written: `PyBytes::new_with`
/// zeroes them first, a serial pass over fresh pages on the calling thread (see `flatten`).
fn uninit_bytes(
    py: Python<'_>,
    len: usize,
) -> PyResult<(Bound<'_, PyBytes>, &mut [MaybeUninit<u8>])> {
    // SAFETY: a null source makes CPython allocate `len` bytes without copying; the object is
    // new and ours alone, so its buffer may be written until it is handed to Python.
    unsafe {
        let ptr =
            pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), len as pyo3::ffi::Py_ssize_t);
        let bytes = Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked::<PyBytes>();
        let buf = pyo3::ffi::PyBytes_AsString(ptr).cast::<MaybeUninit<u8>>();
        Ok((bytes, std::slice::from_raw_parts_mut(buf, len)))
    }
}

/// Each document's ids then `eot_id`, packed as a token shard stores them ([`packed`]), in a
/// new bytes object, with each document's length in ids: what every `*_packed` binding returns.
/// The packing runs on `num_threads` without the GIL.
fn pack_for_python(
    py: Python<'_>,
    docs: Vec<Vec<u32>>,
    eot_id: u32,
    width: usize,
    num_threads: Option<usize>,
) -> PyResult<(Bound<'_, PyBytes>, Vec<u64>)> {
    let lengths = packed::lengths(&docs);
    let (bytes, out) = uninit_bytes(py, packed::packed_len(&lengths, width))?;
    py.detach(|| with_threads(num_threads, || packed::pack(docs, eot_id, width, out)))??;
    Ok((bytes, lengths))
}

/// The language argument, checked either way; an encoder that splits every language alike
/// ignores it.
fn language_of<E: Encoder>(enc: &E, name: Option<&str>) -> PyResult<Lang> {
    let lang = lang_arg(name)?;
    Ok(if enc.by_language() {
        lang
    } else {
        Lang::Generic
    })
}

/// Each of `n` texts' language argument, checked either way (as `language_of`); all generic
/// for an encoder that splits every language alike.
fn languages_of<E: Encoder>(
    enc: &E,
    n: usize,
    languages: Option<Vec<Option<String>>>,
) -> PyResult<Vec<Lang>> {
    let mut langs = text_langs(n, languages)?;
    if !enc.by_language() {
        langs.fill(Lang::Generic);
    }
    Ok(langs)
}

/// Encodes `texts` in parallel without the GIL and shapes the result with `finish` (still
/// without the GIL). Non-ASCII texts are converted to UTF-8 there too, in parallel.
fn batch<E: Encoder, R: Send>(
    enc: &E,
    py: Python<'_>,
    texts: &[Bound<'_, PyString>],
    languages: Option<Vec<Option<String>>>,
    allowed: &[bool],
    num_threads: Option<usize>,
    finish: impl FnOnce(Vec<Vec<u32>>) -> R + Send,
) -> PyResult<R> {
    let langs = languages_of(enc, texts.len(), languages)?;
    let chars = texts.iter().map(stored).collect::<PyResult<Vec<_>>>()?;
    let done = py.detach(|| {
        with_threads(num_threads, || {
            let utf8: Vec<_> = chars.par_iter().map(|c| c.utf8()).collect();
            if let Some(bad) = utf8.iter().position(Option::is_none) {
                return Err(bad);
            }
            let docs: Vec<(&str, Lang)> = utf8.iter().flatten().map(|t| &**t).zip(langs).collect();
            Ok(finish(enc.encode_docs(&docs, allowed)))
        })
    })?;
    done.map_err(|bad| not_utf8(&texts[bad]))
}

/// The shared methods of a class whose `inner` is an [`Encoder`].
macro_rules! encoding_methods {
    ($class:ty) => {
        #[pymethods]
        impl $class {
            #[pyo3(signature = (text, language=None, allowed=Vec::new()))]
            fn encode<'py>(
                &self,
                py: Python<'py>,
                text: &Bound<'py, PyString>,
                language: Option<&str>,
                allowed: Vec<bool>,
            ) -> PyResult<Bound<'py, PyArray1<u32>>> {
                let lang = language_of(&self.inner, language)?;
                let ids = with_utf8(text, |text| {
                    py.detach(|| self.inner.encode_text(text, lang, &allowed))
                })?;
                Ok(ids.into_pyarray(py))
            }

            #[pyo3(signature = (text, language=None, allowed=Vec::new()))]
            fn count(
                &self,
                py: Python<'_>,
                text: &Bound<'_, PyString>,
                language: Option<&str>,
                allowed: Vec<bool>,
            ) -> PyResult<usize> {
                let lang = language_of(&self.inner, language)?;
                with_utf8(text, |text| {
                    py.detach(|| self.inner.encode_text(text, lang, &allowed).len())
                })
            }

            #[pyo3(signature = (texts, languages=None, allowed=Vec::new(), num_threads=None))]
            fn encode_batch<'py>(
                &self,
                py: Python<'py>,
                texts: Vec<Bound<'py, PyString>>,
                languages: Option<Vec<Option<String>>>,
                allowed: Vec<bool>,
                num_threads: Option<usize>,
            ) -> PyResult<Bound<'py, PyList>> {
                let ids = batch(
                    &self.inner,
                    py,
                    &texts,
                    languages,
                    &allowed,
                    num_threads,
                    |b| b,
                )?;
                PyList::new(py, ids.into_iter().map(|ids| ids.into_pyarray(py)))
            }

            /// Each text's token count, as `encode_batch` would give it, without returning ids.
            #[pyo3(signature = (texts, languages=None, allowed=Vec::new(), num_threads=None))]
            fn count_batch<'py>(
                &self,
                py: Python<'py>,
                texts: Vec<Bound<'py, PyString>>,
                languages: Option<Vec<Option<String>>>,
                allowed: Vec<bool>,
                num_threads: Option<usize>,
            ) -> PyResult<Vec<usize>> {
                batch(&self.inner, py, &texts, languages, &allowed, num_threads, |b| {
                    b.iter().map(Vec::len).collect()
                })
            }

            /// All texts' ids concatenated, and offsets (n + 1) where each text starts: the
            /// layout corpus writers want, with two allocations however many texts.
            #[pyo3(signature = (texts, languages=None, allowed=Vec::new(), num_threads=None))]
            fn encode_batch_flat<'py>(
                &self,
                py: Python<'py>,
                texts: Vec<Bound<'py, PyString>>,
                languages: Option<Vec<Option<String>>>,
                allowed: Vec<bool>,
                num_threads: Option<usize>,
            ) -> PyResult<FlatBatch<'py>> {
                let (ids, offsets) = batch(
                    &self.inner,
                    py,
                    &texts,
                    languages,
                    &allowed,
                    num_threads,
                    flatten,
                )?;
                Ok((ids.into_pyarray(py), offsets.into_pyarray(py)))
            }

            /// All texts' ids packed as a token shard stores them ([`packed`]: each text's ids
            /// then `eot_id`, `width` bytes each, little-endian), and each text's length in ids
            /// with its end-of-text id: what the corpus writer writes, without NumPy.
            #[pyo3(signature = (texts, languages=None, allowed=Vec::new(), num_threads=None, *, eot_id, width))]
            #[allow(clippy::too_many_arguments)]
            fn encode_batch_packed<'py>(
                &self,
                py: Python<'py>,
                texts: Vec<Bound<'py, PyString>>,
                languages: Option<Vec<Option<String>>>,
                allowed: Vec<bool>,
                num_threads: Option<usize>,
                eot_id: u32,
                width: usize,
            ) -> PyResult<(Bound<'py, PyBytes>, Vec<u64>)> {
                packed::check_width(width)?;
                let docs = batch(&self.inner, py, &texts, languages, &allowed, num_threads, |b| b)?;
                let (bytes, lengths) = pack_for_python(py, docs, eot_id, width, num_threads)?;
                Ok((bytes, lengths))
            }

            /// Reads local code files and encodes them as `encode_batch_packed` encodes texts,
            /// with no Python string made of them (the GIL released throughout): the files
            /// `read_code_files` would take (the first of `paths`, then those after it while the
            /// texts read hold under `budget` bytes; its rules and reasons), each in the
            /// language given for it. Returns how many of `paths` were taken, the packed ids and
            /// lengths of those read, in order, their UTF-8 sizes, and each taken path's reason
            /// it was not read (None: read).
            #[pyo3(signature = (paths, languages, max_bytes, budget, allowed=Vec::new(), num_threads=None, *, eot_id, width))]
            #[allow(clippy::too_many_arguments)]
            fn encode_files_packed<'py>(
                &self,
                py: Python<'py>,
                paths: Vec<PathBuf>,
                languages: Vec<Option<String>>,
                max_bytes: ByteLimit,
                budget: u64,
                allowed: Vec<bool>,
                num_threads: Option<usize>,
                eot_id: u32,
                width: usize,
            ) -> PyResult<FilesPacked<'py>> {
                packed::check_width(width)?;
                let langs = languages_of(&self.inner, paths.len(), Some(languages))?;
                let (docs, sizes, reasons) = py.detach(|| {
                    read_and_encode(&self.inner, &paths, langs, max_bytes.0, budget, &allowed, num_threads)
                })?;
                let (bytes, lengths) = pack_for_python(py, docs, eot_id, width, num_threads)?;
                Ok((reasons.len(), bytes, lengths, sizes, reasons))
            }

            /// Reads JSONL lines' records and encodes them as `encode_batch_packed` encodes texts,
            /// with no Python object made of a record (the GIL released throughout): each line's
            /// text and language as `RecordReader` takes them (`fields`: the text, path and
            /// language fields, each in order of preference), except the lines whose record only
            /// the Python reader decides ([`read_records`]). Returns the packed ids and lengths of
            /// the records, in order, the texts' UTF-8 sizes and languages, each line's skip
            /// reason (None: a record or a line left), and the indices of the lines left.
            #[pyo3(signature = (lines, fields, max_bytes, allowed=Vec::new(), num_threads=None, *, eot_id, width))]
            #[allow(clippy::too_many_arguments)]
            fn encode_records_packed<'py>(
                &self,
                py: Python<'py>,
                lines: Vec<Bound<'py, PyBytes>>,
                fields: (Vec<String>, Vec<String>, Vec<String>),
                max_bytes: ByteLimit,
                allowed: Vec<bool>,
                num_threads: Option<usize>,
                eot_id: u32,
                width: usize,
            ) -> PyResult<RecordsPacked<'py>> {
                packed::check_width(width)?;
                let fields = Fields::from(fields);
                let lines: Vec<&[u8]> = lines.iter().map(|b| b.as_bytes()).collect();
                let (docs, sizes, languages, reasons, left) = py.detach(|| {
                    records_and_encode(&self.inner, &lines, &fields, max_bytes.0, &allowed, num_threads)
                })?;
                let (bytes, lengths) = pack_for_python(py, docs, eot_id, width, num_threads)?;
                Ok((bytes, lengths, sizes, languages, reasons, left))
            }

            fn decode_bytes<'py>(
                &self,
                py: Python<'py>,
                ids: PyReadonlyArray1<'py, u32>,
            ) -> PyResult<Bound<'py, PyBytes>> {
                let ids = ids.as_slice()?;
                let bytes = py.detach(|| self.inner.decode_bytes(ids))?;
                Ok(PyBytes::new(py, &bytes))
            }

            fn token_bytes<'py>(&self, py: Python<'py>, id: u32) -> Option<Bound<'py, PyBytes>> {
                self.inner.token_bytes(id).map(|b| PyBytes::new(py, b))
            }
        }
    };
}

encoding_methods!(PyTokenizer);
encoding_methods!(PyBaseTokenizer);
