//! UTF-8 from the fixed-width forms a Python string is stored in (PEP 393: a byte, two or four
//! a character), for the encoders, which read UTF-8.
//!
//! CPython gives a non-ASCII string's UTF-8 by converting it at ~1 GB/s here and keeping the
//! copy with the string; a fresh 2 MB text of code then cost ~2 ms of conversion and ~2 ms of
//! page faults for the new copy before an encode of ~17 ms. Code is mostly ASCII: here runs of
//! 16 ASCII characters are tested and narrowed as one block each (vectorised),
//! into a buffer the caller reuses.

/// Characters narrowed at once when they are all ASCII.
const BLOCK: usize = 16;

/// Appends the UTF-8 of `src`, a string of characters U+0000..=U+00FF, one byte each.
pub fn from_ucs1(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(src.len() * 2);
    narrowed(src, out).expect("every byte is a character");
}

/// Appends the UTF-8 of `src`, a string of characters U+0000..=U+FFFF, two bytes each. `Err`
/// holds the index of a surrogate (a lone one: UTF-8 has no form for it), `out` then partial.
pub fn from_ucs2(src: &[u16], out: &mut Vec<u8>) -> Result<(), usize> {
    out.reserve(src.len() * 3);
    narrowed(src, out)
}

/// Appends the UTF-8 of `src`, one `u32` a character. `Err` holds the index of a value that is
/// no Unicode scalar (a surrogate), `out` then partial.
pub fn from_ucs4(src: &[u32], out: &mut Vec<u8>) -> Result<(), usize> {
    out.reserve(src.len() * 4);
    narrowed(src, out)
}

/// One character of a stored string, in one of its three widths.
trait Unit: Copy {
    fn code(self) -> u32;

    /// The block's characters as bytes, if all are ASCII.
    fn ascii(block: &[Self; BLOCK]) -> Option<[u8; BLOCK]> {
        // One test for the whole block (no early exit, so it vectorises).
        if block.iter().fold(0, |any, c| any | c.code()) >= 0x80 {
            return None;
        }
        Some(block.map(|c| c.code() as u8))
    }
}

impl Unit for u8 {
    fn code(self) -> u32 {
        u32::from(self)
    }
}

impl Unit for u16 {
    fn code(self) -> u32 {
        u32::from(self)
    }
}

impl Unit for u32 {
    fn code(self) -> u32 {
        self
    }

    /// With SSE2 (every x86-64 has it): the compiler's own form of the test and the narrowing
    /// took over twice as long over a four-byte string (2.1 M characters of held-back Rust:
    /// 1.50 ms against 0.65-0.72); the one- and two-byte forms it vectorises well itself.
    #[cfg(target_arch = "x86_64")]
    fn ascii(block: &[u32; BLOCK]) -> Option<[u8; BLOCK]> {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86-64; the four unaligned loads read the block's 64 bytes.
        unsafe {
            let p = block.as_ptr().cast::<__m128i>();
            let (a, b) = (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)));
            let (c, d) = (_mm_loadu_si128(p.add(2)), _mm_loadu_si128(p.add(3)));
            let high = _mm_andnot_si128(
                _mm_set1_epi32(0x7f),
                _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)),
            );
            if _mm_movemask_epi8(_mm_cmpeq_epi32(high, _mm_setzero_si128())) != 0xffff {
                return None;
            }
            // All under 0x80: the saturating packs keep each value as it is.
            let bytes = _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
            Some(std::mem::transmute::<__m128i, [u8; BLOCK]>(bytes))
        }
    }
}

/// Blocks of ASCII narrowed to bytes, other characters encoded one by one.
fn narrowed<T: Unit>(src: &[T], out: &mut Vec<u8>) -> Result<(), usize> {
    for (k, block) in src.chunks(BLOCK).enumerate() {
        if let Some(bytes) = block.try_into().ok().and_then(T::ascii) {
            out.extend_from_slice(&bytes);
            continue;
        }
        for (i, &c) in block.iter().enumerate() {
            match char::from_u32(c.code()) {
                Some(ch) => out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
                None => return Err(k * BLOCK + i),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(seed: u64, n: usize, pool: &[char]) -> String {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                pool[(x >> 33) as usize % pool.len()]
            })
            .collect()
    }

    #[test]
    fn every_width_gives_the_strings_own_utf8() {
        let narrow = ['a', ' ', '\n', '{', '\u{7f}', '\u{80}', 'é', 'ÿ'];
        let wide = [
            'x', '\t', 'é', '—', '\u{ffff}', '中', '\u{d7ff}', '\u{e000}',
        ];
        let widest = ['y', '(', 'ß', '→', '😀', '\u{10ffff}', '\u{1f388}'];
        // Lengths around the block size, and ASCII runs long enough to take the block path.
        for n in [0, 1, 15, 16, 17, 31, 33, 100, 1000] {
            for seed in 0..20 {
                for (pool, ascii_run) in [(&narrow[..], 0), (&narrow[..], 40)] {
                    let s = format!("{}{}", "a".repeat(ascii_run), chars(seed, n, pool));
                    let src: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
                    let mut out = b"kept".to_vec();
                    from_ucs1(&src, &mut out);
                    assert_eq!(out, [b"kept", s.as_bytes()].concat());
                }
                let s = format!("{}{}", "b".repeat(37), chars(seed, n, &wide));
                let src: Vec<u16> = s.chars().map(|c| c as u32 as u16).collect();
                let mut out = Vec::new();
                assert_eq!(from_ucs2(&src, &mut out), Ok(()));
                assert_eq!(out, s.as_bytes());
                let s = chars(seed, n, &widest);
                let src: Vec<u32> = s.chars().map(|c| c as u32).collect();
                let mut out = Vec::new();
                assert_eq!(from_ucs4(&src, &mut out), Ok(()));
                assert_eq!(out, s.as_bytes());
            }
        }
    }

    #[test]
    fn one_character_past_ascii_anywhere_in_a_block() {
        // Each lane of the block test, in each width, with the values around its limits.
        for at in 0..2 * BLOCK + 1 {
            for c in [
                '\u{7f}',
                '\u{80}',
                '\u{ff}',
                '\u{100}',
                '\u{ffff}',
                '\u{10000}',
                '\u{10ffff}',
            ] {
                let mut s: Vec<char> = "x".repeat(3 * BLOCK).chars().collect();
                s[at] = c;
                let s: String = s.into_iter().collect();
                let mut out = Vec::new();
                assert_eq!(
                    from_ucs4(&s.chars().map(|c| c as u32).collect::<Vec<_>>(), &mut out),
                    Ok(())
                );
                assert_eq!(out, s.as_bytes());
                if (c as u32) <= 0xffff {
                    let mut out = Vec::new();
                    let src: Vec<u16> = s.chars().map(|c| c as u32 as u16).collect();
                    assert_eq!(from_ucs2(&src, &mut out), Ok(()));
                    assert_eq!(out, s.as_bytes());
                }
            }
            for bad in [0xd800, 0xdfff, 0x11_0000, 0x8000_0000, u32::MAX] {
                let mut src = vec![u32::from(b'x'); 3 * BLOCK];
                src[at] = bad;
                assert_eq!(from_ucs4(&src, &mut Vec::new()), Err(at));
            }
        }
    }

    #[test]
    fn a_lone_surrogate_is_found_where_it_is() {
        let mut src: Vec<u16> = "a".repeat(40).encode_utf16().collect();
        src[33] = 0xDC80;
        assert_eq!(from_ucs2(&src, &mut Vec::new()), Err(33));
        src[33] = u16::from(b'a');
        src[3] = 0xD800;
        assert_eq!(from_ucs2(&src, &mut Vec::new()), Err(3));
        let mut src = vec![u32::from(b'z'); 20];
        src[17] = 0xDFFF;
        assert_eq!(from_ucs4(&src, &mut Vec::new()), Err(17));
        src[17] = 0x11_0000; // past the last code point
        assert_eq!(from_ucs4(&src, &mut Vec::new()), Err(17));
    }
}
