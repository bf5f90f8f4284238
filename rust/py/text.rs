//! A Python string's UTF-8 for the encoders, without CPython's conversion: an ASCII string's
//! own bytes, any other converted by `crate::utf8` into a buffer this thread keeps for the
//! next call (CPython converts at ~1 GB/s and keeps a new copy with the string: on a fresh
//! 2 MB text that was ~4 ms, faults included, of a ~21 ms first encode).
use crate::utf8::{from_ucs1, from_ucs2, from_ucs4};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};
use std::cell::RefCell;

/// A buffer grown past this is not kept after the call (one huge text does not hold its size).
const KEEP_BYTES: usize = 64 << 20;

thread_local! {
    static UTF8: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `f` of the UTF-8 of `text`. A lone surrogate raises Python's own `UnicodeEncodeError`, as
/// a `&str` argument does.
pub fn with_utf8<R>(text: &Bound<'_, PyString>, f: impl FnOnce(&str) -> R) -> PyResult<R> {
    // SAFETY: codemill is not built for the limited API; `data` reads the string's PEP 393
    // fields, valid while `text` lives (it is borrowed for the whole call).
    let data = unsafe { text.data()? };
    if let PyStringData::Ucs1(bytes) = data {
        // SAFETY: `text` is a str; an ASCII one's characters are its UTF-8 bytes.
        if unsafe { ffi::PyUnicode_IS_ASCII(text.as_ptr()) } != 0 {
            return Ok(f(unsafe { std::str::from_utf8_unchecked(bytes) }));
        }
    }
    let converted = UTF8.with_borrow_mut(|buf| {
        buf.clear();
        let done = match data {
            PyStringData::Ucs1(b) => {
                from_ucs1(b, buf);
                Ok(())
            }
            PyStringData::Ucs2(u) => from_ucs2(u, buf),
            PyStringData::Ucs4(u) => from_ucs4(u, buf),
        };
        done.is_ok().then(|| std::mem::take(buf))
    });
    let Some(buf) = converted else {
        return text.to_str().map(f); // a lone surrogate: the error CPython gives
    };
    // SAFETY: `crate::utf8` writes UTF-8 only.
    let result = f(unsafe { std::str::from_utf8_unchecked(&buf) });
    if buf.capacity() <= KEEP_BYTES {
        UTF8.set(buf);
    }
    Ok(result)
}
