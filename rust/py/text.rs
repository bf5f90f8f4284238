//! A Python string's UTF-8 for the encoders, without CPython's conversion: an ASCII string's
//! own bytes, any other converted by `crate::utf8` (CPython converts at ~1 GB/s and keeps a new
//! copy with the string: on a fresh 2 MB text that was ~4 ms, faults included, of a ~21 ms
//! first encode). One text is converted into a buffer this thread keeps for the next call; a
//! batch's texts are converted in parallel with the GIL released.
use crate::utf8::{from_ucs1, from_ucs2, from_ucs4};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};
use std::borrow::Cow;
use std::cell::RefCell;

/// A buffer grown past this is not kept after the call (one huge text does not hold its size).
const KEEP_BYTES: usize = 64 << 20;

thread_local! {
    static UTF8: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A string's stored characters (PEP 393: one, two or four bytes each), read with the GIL held
/// and valid while the string is borrowed; immutable, so readable from any thread.
pub struct Stored<'a> {
    data: PyStringData<'a>,
    ascii: bool,
}

pub fn stored<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Stored<'a>> {
    // SAFETY: codemill is not built for the limited API; `data` reads the string's PEP 393
    // fields, and `text` is a str.
    let data = unsafe { text.data()? };
    let ascii = unsafe { ffi::PyUnicode_IS_ASCII(text.as_ptr()) } != 0;
    Ok(Stored { data, ascii })
}

impl<'a> Stored<'a> {
    /// The string's own bytes when it is ASCII.
    fn ascii(&self) -> Option<&'a str> {
        match self.data {
            // SAFETY: an ASCII string's characters are its UTF-8 bytes.
            PyStringData::Ucs1(b) if self.ascii => {
                Some(unsafe { std::str::from_utf8_unchecked(b) })
            }
            _ => None,
        }
    }

    /// Appends the UTF-8 to `buf`; false at a lone surrogate (no UTF-8 form).
    fn convert(&self, buf: &mut Vec<u8>) -> bool {
        match self.data {
            PyStringData::Ucs1(b) => {
                from_ucs1(b, buf);
                true
            }
            PyStringData::Ucs2(u) => from_ucs2(u, buf).is_ok(),
            PyStringData::Ucs4(u) => from_ucs4(u, buf).is_ok(),
        }
    }

    /// The UTF-8, borrowed when ASCII; None at a lone surrogate.
    pub fn utf8(&self) -> Option<Cow<'a, str>> {
        if let Some(s) = self.ascii() {
            return Some(Cow::Borrowed(s));
        }
        let mut buf = Vec::new();
        // SAFETY: `crate::utf8` writes UTF-8 only.
        self.convert(&mut buf)
            .then(|| Cow::Owned(unsafe { String::from_utf8_unchecked(buf) }))
    }
}

/// `f` of the UTF-8 of `text`. A lone surrogate raises Python's own `UnicodeEncodeError`, as
/// a `&str` argument does.
pub fn with_utf8<R>(text: &Bound<'_, PyString>, f: impl FnOnce(&str) -> R) -> PyResult<R> {
    let chars = stored(text)?;
    if let Some(s) = chars.ascii() {
        return Ok(f(s));
    }
    let converted = UTF8.with_borrow_mut(|buf| {
        buf.clear();
        chars.convert(buf).then(|| std::mem::take(buf))
    });
    let Some(buf) = converted else {
        return Err(not_utf8(text));
    };
    // SAFETY: `crate::utf8` writes UTF-8 only.
    let result = f(unsafe { std::str::from_utf8_unchecked(&buf) });
    if buf.capacity() <= KEEP_BYTES {
        UTF8.set(buf);
    }
    Ok(result)
}

/// The error for `text`, which had no UTF-8 form: CPython's own, as a `&str` argument gives.
pub fn not_utf8(text: &Bound<'_, PyString>) -> PyErr {
    match text.to_str() {
        Err(e) => e,
        Ok(_) => pyo3::exceptions::PyUnicodeEncodeError::new_err("text is not valid Unicode"),
    }
}
