//! UTF-8 from the fixed-width forms a Python string is stored in (PEP 393: a byte, two or four
//! a character), for the encoders, which read UTF-8.
//!
//! CPython gives a non-ASCII string's UTF-8 by converting it at ~1 GB/s here and keeping the
//! copy with the string; a fresh 2 MB text of code then cost ~2 ms of conversion and ~2 ms of
//! page faults for the new copy before an encode of ~17 ms. Code is mostly ASCII: here runs of
//! 16 ASCII characters are tested and narrowed as one block each (vectorised by the compiler),
//! into a buffer the caller reuses.

/// Characters narrowed at once when they are all ASCII.
const BLOCK: usize = 16;

/// Appends the UTF-8 of `src`, a string of characters U+0000..=U+00FF, one byte each.
pub fn from_ucs1(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(src.len() * 2);
    narrowed(src, out, u32::from).expect("every byte is a character");
}

/// Appends the UTF-8 of `src`, a string of characters U+0000..=U+FFFF, two bytes each. `Err`
/// holds the index of a surrogate (a lone one: UTF-8 has no form for it), `out` then partial.
pub fn from_ucs2(src: &[u16], out: &mut Vec<u8>) -> Result<(), usize> {
    out.reserve(src.len() * 3);
    narrowed(src, out, u32::from)
}

/// Appends the UTF-8 of `src`, one `u32` a character. `Err` holds the index of a value that is
/// no Unicode scalar (a surrogate), `out` then partial.
pub fn from_ucs4(src: &[u32], out: &mut Vec<u8>) -> Result<(), usize> {
    out.reserve(src.len() * 4);
    narrowed(src, out, |c| c)
}

/// Blocks of ASCII narrowed to bytes, other characters encoded one by one.
fn narrowed<T: Copy + std::ops::BitOr<Output = T> + Default>(
    src: &[T],
    out: &mut Vec<u8>,
    code: impl Fn(T) -> u32,
) -> Result<(), usize> {
    let mut bytes = [0u8; BLOCK];
    for (k, block) in src.chunks(BLOCK).enumerate() {
        if block.len() == BLOCK && code(block.iter().fold(T::default(), |a, &c| a | c)) < 0x80 {
            for (b, &c) in bytes.iter_mut().zip(block) {
                *b = code(c) as u8;
            }
            out.extend_from_slice(&bytes);
            continue;
        }
        for (i, &c) in block.iter().enumerate() {
            match char::from_u32(code(c)) {
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
