//! Documents' token ids laid out as a token shard stores them: each document's ids, then one
//! end-of-text id, every id little-endian in 2 or 4 bytes. The corpus writer gets these bytes
//! and the documents' lengths straight from the encoder, so writing shards needs no NumPy (whose
//! import cost ~0.1 s of each tokenize process) and no second pass over the ids in Python.
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Bytes per id: 2 holds ids below 65,536, 4 any id.
pub fn check_width(width: usize) -> Result<()> {
    match width {
        2 | 4 => Ok(()),
        _ => Err(Error::Argument(format!(
            "width must be 2 or 4 bytes per token id, got {width}"
        ))),
    }
}

/// Each document's length in ids, its end-of-text id included.
pub fn lengths(docs: &[Vec<u32>]) -> Vec<u64> {
    docs.iter().map(|d| d.len() as u64 + 1).collect()
}

/// The packed size in bytes of documents of these `lengths`.
pub fn packed_len(lengths: &[u64], width: usize) -> usize {
    lengths.iter().sum::<u64>() as usize * width
}

/// Writes `docs` packed into `out` (exactly [`packed_len`] bytes, uninitialised), in parallel on
/// the current rayon pool, and frees them there. An id that does not fit in `width` bytes is an
/// error (the caller's width comes from the vocabulary size, so it means a mismatched writer).
pub fn pack(
    docs: Vec<Vec<u32>>,
    eot: u32,
    width: usize,
    out: &mut [MaybeUninit<u8>],
) -> Result<()> {
    check_width(width)?;
    let max = if width == 2 {
        u16::MAX as u32
    } else {
        u32::MAX
    };
    if eot > max {
        return Err(Error::Argument(format!(
            "end-of-text id {eot} does not fit in {width} bytes"
        )));
    }
    let need: usize = docs.iter().map(|d| (d.len() + 1) * width).sum();
    if out.len() != need {
        return Err(Error::Argument(format!(
            "packed output is {} bytes, its documents need {need}",
            out.len()
        )));
    }
    let mut parts = Vec::with_capacity(docs.len());
    let mut rest = out;
    for d in &docs {
        let (part, tail) = rest.split_at_mut((d.len() + 1) * width);
        parts.push(part);
        rest = tail;
    }
    let too_big = parts
        .into_par_iter()
        .zip(docs)
        .filter_map(|(part, ids)| {
            let ids = ids.iter().copied().chain(std::iter::once(eot));
            for (dst, id) in part.chunks_exact_mut(width).zip(ids) {
                if id > max {
                    return Some(id);
                }
                for (d, b) in dst.iter_mut().zip(id.to_le_bytes()) {
                    d.write(b);
                }
            }
            None
        })
        .min();
    match too_big {
        Some(id) => Err(Error::Argument(format!(
            "token id {id} does not fit in {width} bytes"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(docs: Vec<Vec<u32>>, eot: u32, width: usize) -> Result<Vec<u8>> {
        let n = packed_len(&lengths(&docs), width);
        let mut out = Vec::with_capacity(n);
        pack(docs, eot, width, &mut out.spare_capacity_mut()[..n])?;
        // SAFETY: `pack` wrote all `n` bytes.
        unsafe { out.set_len(n) };
        Ok(out)
    }

    #[test]
    fn documents_are_followed_by_the_end_of_text_id_little_endian() {
        let docs = vec![vec![1, 0x0203], vec![], vec![0xFFFF]];
        assert_eq!(lengths(&docs), [3, 1, 2]);
        assert_eq!(
            packed(docs.clone(), 9, 2).unwrap(),
            [1, 0, 3, 2, 9, 0, 9, 0, 0xFF, 0xFF, 9, 0]
        );
        let four = packed(vec![vec![0x0102_0304]], 7, 4).unwrap();
        assert_eq!(four, [4, 3, 2, 1, 7, 0, 0, 0]);
    }

    #[test]
    fn no_documents_pack_to_nothing() {
        assert_eq!(packed(vec![], 0, 2).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn an_id_too_big_for_the_width_is_an_error() {
        let e = packed(vec![vec![1], vec![70_000]], 0, 2).unwrap_err();
        assert!(e
            .to_string()
            .contains("token id 70000 does not fit in 2 bytes"));
        assert!(packed(vec![vec![1]], 65_536, 2).is_err());
        assert!(packed(vec![vec![1]], 0, 3)
            .unwrap_err()
            .to_string()
            .contains("width"));
        assert_eq!(packed(vec![vec![70_000]], 0, 4).unwrap().len(), 8);
    }
}
