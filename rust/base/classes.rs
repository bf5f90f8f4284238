//! Unicode classes of the split patterns (`\p{L}`, `\p{N}`, `\s`, ...), built from
//! regex-syntax's tables so the hand-written scanners agree with the regex engines on every
//! character, one table lookup per character.
use regex_syntax::hir::{Class, HirKind};
use std::sync::OnceLock;

pub const L: u8 = 1; // \p{L}
pub const N: u8 = 2; // \p{N}
pub const WS: u8 = 4; // \s (White_Space)
/// o200k's "upper" class: `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
pub const UP: u8 = 8;
/// o200k's "lower" class: `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
pub const LO: u8 = 16;
pub const M: u8 = 32; // \p{M}
/// `[\p{P}\p{S}]` (DeepSeek's punctuation class).
pub const PS: u8 = 64;

const CLASSES: [(&str, u8); 7] = [
    (r"\p{L}", L),
    (r"\p{N}", N),
    (r"\s", WS),
    (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", UP),
    (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", LO),
    (r"\p{M}", M),
    (r"[\p{P}\p{S}]", PS),
];

fn table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; 0x11_0000];
        for (pattern, bit) in CLASSES {
            let hir = regex_syntax::Parser::new()
                .parse(pattern)
                .expect("class patterns are valid");
            let HirKind::Class(Class::Unicode(cls)) = hir.kind() else {
                unreachable!("{pattern} is a Unicode class")
            };
            for r in cls.ranges() {
                for c in u32::from(r.start())..=u32::from(r.end()) {
                    t[c as usize] |= bit;
                }
            }
        }
        t
    })
}

/// The class bits of `c`.
#[inline]
pub fn of(c: char) -> u8 {
    table()[c as usize]
}

/// A handle that skips the `OnceLock` check in scanning loops.
#[derive(Clone, Copy)]
pub struct Classes(&'static [u8]);

impl Classes {
    pub fn get() -> Self {
        Classes(table())
    }

    #[inline]
    pub fn of(self, c: char) -> u8 {
        // SAFETY-free: a char is always below 0x110000, the table's length.
        self.0[c as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_unicode() {
        assert_eq!(of('a'), L | LO);
        assert_eq!(of('A'), L | UP);
        assert_eq!(of('7'), N);
        assert_eq!(of('²'), N);
        assert_eq!(of(' ') & WS, WS);
        assert_eq!(of('\u{3000}') & WS, WS);
        assert_eq!(of('\u{301}'), UP | LO | M);
        assert_eq!(of('('), PS);
        assert_eq!(of('中') & (L | UP | LO), L | UP | LO);
    }
}
