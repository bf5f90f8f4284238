//! Pre-tokenizers of base vocabularies: hand-written scanners for the split patterns that
//! models ship with (GPT-2, cl100k / Llama-3, Qwen2, o200k), exact to the regex semantics
//! (leftmost-first alternation, greedy with backtracking), and fancy-regex for any other
//! pattern. A `Splitter` is a sequence of stages, as a `tokenizer.json` pre-tokenizer
//! sequence is: each stage splits every piece of the previous one (HF's `Isolated`).
use super::classes::{Classes, L, LO, N, UP, WS};
use crate::error::{Error, Result};

/// The split regexes recognised by name (tiktoken's names; `llama3` is cl100k's regex).
pub const KNOWN: [(&str, &str); 5] = [
    (
        "gpt2",
        r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s",
    ),
    (
        "cl100k",
        r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s",
    ),
    (
        "o200k",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
    (
        "qwen2",
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
    (
        "llama3",
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
];

/// Other spellings of the same patterns (GPT-2's original release, HF's ByteLevel).
const ALIASES: [(&str, &str); 2] = [
    (
        "gpt2",
        r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    ),
    (
        "gpt2",
        r"'s|'t|'re|'ve|'m|'ll|'d| ?[\p{L}]+| ?[\p{N}]+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    Gpt2,
    /// cl100k_base, Llama-3 (digits in runs of up to 3) and Qwen2 (single digits).
    /// tiktoken's cl100k spelling has `\s++$`: whitespace that ends the text is one piece.
    Cl100k {
        max_digits: usize,
        end_whole: bool,
    },
    O200k,
}

impl Known {
    pub fn from_name(name: &str) -> Option<Known> {
        Some(match name {
            "gpt2" | "r50k" | "p50k" | "r50k_base" | "p50k_base" | "p50k_edit" => Known::Gpt2,
            "cl100k" | "cl100k_base" => Known::Cl100k {
                max_digits: 3,
                end_whole: true,
            },
            "llama3" => Known::Cl100k {
                max_digits: 3,
                end_whole: false,
            },
            "qwen2" => Known::Cl100k {
                max_digits: 1,
                end_whole: false,
            },
            "o200k" | "o200k_base" => Known::O200k,
            _ => return None,
        })
    }

    /// The known scanner whose regex is exactly `pattern`, if any.
    pub fn from_regex(pattern: &str) -> Option<Known> {
        KNOWN
            .iter()
            .chain(ALIASES.iter())
            .find(|(_, re)| *re == pattern)
            .and_then(|(name, _)| Known::from_name(name))
    }

    /// Calls `f(start, end)` for each piece of `s`, in order, covering it exactly.
    pub fn split(self, s: &str, mut f: impl FnMut(usize, usize)) {
        let cls = Classes::get();
        let mut i = 0;
        while i < s.len() {
            let end = match self {
                Known::Gpt2 => gpt2(cls, s, i),
                Known::Cl100k {
                    max_digits,
                    end_whole,
                } => cl100k(cls, s, i, max_digits, end_whole),
                Known::O200k => o200k(cls, s, i),
            };
            debug_assert!(end > i);
            f(i, end);
            i = end;
        }
    }
}

#[inline]
fn at(s: &str, i: usize) -> Option<(char, usize)> {
    let b = *s.as_bytes().get(i)?;
    if b < 0x80 {
        return Some((b as char, 1));
    }
    let c = s[i..].chars().next()?;
    Some((c, c.len_utf8()))
}

/// End of the run of characters whose class has a bit of `mask`, from `i`.
#[inline]
fn run(cls: Classes, s: &str, mut i: usize, mask: u8) -> usize {
    while let Some((c, l)) = at(s, i) {
        if cls.of(c) & mask == 0 {
            break;
        }
        i += l;
    }
    i
}

/// `[^\s\p{L}\p{N}]`
#[inline]
fn is_punct(cls: Classes, c: char) -> bool {
    cls.of(c) & (WS | L | N) == 0
}

/// End of the run of `[^\s\p{L}\p{N}]` from `i`.
#[inline]
fn punct_run(cls: Classes, s: &str, mut i: usize) -> usize {
    while let Some((c, l)) = at(s, i) {
        if !is_punct(cls, c) {
            break;
        }
        i += l;
    }
    i
}

/// End of a run of the ASCII bytes in `set` from `i`.
#[inline]
fn byte_run(s: &str, mut i: usize, set: &[u8]) -> usize {
    while s.as_bytes().get(i).is_some_and(|b| set.contains(b)) {
        i += 1;
    }
    i
}

/// Does `c` equal the ASCII letter `lower` under Unicode simple case folding?
#[inline]
fn fold_eq(c: char, lower: u8, ignore_case: bool) -> bool {
    if c as u32 == u32::from(lower) {
        return true;
    }
    ignore_case
        && (c as u32 == u32::from(lower.to_ascii_uppercase()) || (lower == b's' && c == '\u{17F}'))
}

/// End of `'s|'t|'re|'ve|'m|'ll|'d` at `i` (which holds the apostrophe), if it matches.
fn contraction(s: &str, i: usize, ignore_case: bool) -> Option<usize> {
    if s.as_bytes().get(i) != Some(&b'\'') {
        return None;
    }
    let (c1, l1) = at(s, i + 1)?;
    for one in [b's', b't', b'm', b'd'] {
        if fold_eq(c1, one, ignore_case) {
            return Some(i + 1 + l1);
        }
    }
    let (c2, l2) = at(s, i + 1 + l1)?;
    for [a, b] in [*b"re", *b"ve", *b"ll"] {
        if fold_eq(c1, a, ignore_case) && fold_eq(c2, b, ignore_case) {
            return Some(i + 1 + l1 + l2);
        }
    }
    None
}

/// The whitespace alternatives shared by all patterns, at `i` (a whitespace character):
/// `\s*[\r\n]+` (when `newline_alt`), `\s+(?!\S)`, `\s+`.
/// With `end_whole`, `\s++$` comes first.
fn whitespace(cls: Classes, s: &str, i: usize, newline_alt: bool, end_whole: bool) -> usize {
    let mut j = i;
    let mut last_start = i;
    let mut after_newline = None;
    while let Some((c, l)) = at(s, j) {
        if cls.of(c) & WS == 0 {
            break;
        }
        last_start = j;
        j += l;
        if c == '\n' || c == '\r' {
            after_newline = Some(j);
        }
    }
    if end_whole && j == s.len() {
        return j;
    }
    if newline_alt {
        if let Some(e) = after_newline {
            return e;
        }
    }
    if j == s.len() || last_start == i {
        j
    } else {
        last_start
    }
}

/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
fn gpt2(cls: Classes, s: &str, i: usize) -> usize {
    if let Some(e) = contraction(s, i, false) {
        return e;
    }
    let (c, l) = at(s, i).expect("i < len");
    let (j, c) = if c == ' ' {
        match at(s, i + 1) {
            Some((c2, _)) if cls.of(c2) & WS == 0 => (i + 1, c2),
            _ => return whitespace(cls, s, i, false, false),
        }
    } else {
        (i, c)
    };
    let k = cls.of(c);
    if k & L != 0 {
        run(cls, s, j, L)
    } else if k & N != 0 {
        run(cls, s, j, N)
    } else if k & WS == 0 {
        punct_run(cls, s, j)
    } else {
        debug_assert_eq!(j, i);
        let _ = l;
        whitespace(cls, s, i, false, false)
    }
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
/// \s*[\r\n]+|\s+(?!\S)|\s+` with D = `max_digits`.
fn cl100k(cls: Classes, s: &str, i: usize, max_digits: usize, end_whole: bool) -> usize {
    if let Some(e) = contraction(s, i, true) {
        return e;
    }
    let (c, l) = at(s, i).expect("i < len");
    let k = cls.of(c);
    if k & L != 0 {
        return run(cls, s, i + l, L);
    }
    if k & N != 0 {
        let mut j = i + l;
        for _ in 1..max_digits {
            match at(s, j) {
                Some((d, dl)) if cls.of(d) & N != 0 => j += dl,
                _ => break,
            }
        }
        return j;
    }
    let next = at(s, i + l);
    if c != '\r' && c != '\n' {
        if let Some((c2, _)) = next {
            if cls.of(c2) & L != 0 {
                return run(cls, s, i + l, L);
            }
        }
    }
    if k & WS == 0 {
        return byte_run(s, punct_run(cls, s, i), b"\r\n");
    }
    if c == ' ' {
        if let Some((c2, _)) = next {
            if is_punct(cls, c2) {
                return byte_run(s, punct_run(cls, s, i + 1), b"\r\n");
            }
        }
    }
    whitespace(cls, s, i, true, end_whole)
}

/// `[^\r\n\p{L}\p{N}]?` then o200k's two word alternatives, at `i`.
fn o200k_word(cls: Classes, s: &str, i: usize) -> Option<usize> {
    let (c, l) = at(s, i)?;
    let prefix = c != '\r' && c != '\n' && cls.of(c) & (L | N) == 0;
    let starts: &[usize] = if prefix { &[i + l, i] } else { &[i] };
    // Alternative 1: prefix? UP* LO+ contraction?
    for &j in starts {
        let a = run(cls, s, j, UP);
        // Backtrack UP* until LO+ can start: the last position in [j, a] holding a LO char.
        let mut k = a;
        let start = loop {
            if at(s, k).is_some_and(|(ck, _)| cls.of(ck) & LO != 0) {
                break Some(k);
            }
            if k == j {
                break None;
            }
            k = prev_char(s, k);
        };
        if let Some(k) = start {
            let e = run(cls, s, k, LO);
            return Some(contraction(s, e, true).unwrap_or(e));
        }
    }
    // Alternative 2: prefix? UP+ LO* contraction?
    for &j in starts {
        let a = run(cls, s, j, UP);
        if a > j {
            let e = run(cls, s, a, LO);
            return Some(contraction(s, e, true).unwrap_or(e));
        }
    }
    None
}

#[inline]
fn prev_char(s: &str, mut k: usize) -> usize {
    k -= 1;
    while !s.is_char_boundary(k) {
        k -= 1;
    }
    k
}

/// o200k_base's pattern (see `KNOWN`).
fn o200k(cls: Classes, s: &str, i: usize) -> usize {
    if let Some(e) = o200k_word(cls, s, i) {
        return e;
    }
    let (c, l) = at(s, i).expect("i < len");
    let k = cls.of(c);
    if k & N != 0 {
        let mut j = i + l;
        for _ in 1..3 {
            match at(s, j) {
                Some((d, dl)) if cls.of(d) & N != 0 => j += dl,
                _ => break,
            }
        }
        return j;
    }
    if k & WS == 0 {
        return byte_run(s, punct_run(cls, s, i), b"\r\n/");
    }
    if c == ' ' {
        if let Some((c2, _)) = at(s, i + 1) {
            if is_punct(cls, c2) {
                return byte_run(s, punct_run(cls, s, i + 1), b"\r\n/");
            }
        }
    }
    whitespace(cls, s, i, true, false)
}

/// One stage of a pre-tokenizer sequence.
pub enum Stage {
    Known(Known),
    /// A regex whose matches and the gaps between them are pieces (HF `Split`, `Isolated`).
    Regex(Box<fancy_regex::Regex>),
    /// HF `Digits`: runs of `\p{N}` (or each one, when `individual`) are pieces.
    Digits {
        individual: bool,
    },
}

/// fancy-regex gives up on a search after a million backtracking steps (its default), and the
/// piece was then kept whole: ~111k characters no alternative of DeepSeek's pattern matches
/// (NUL, zero-width space) before code split it unlike HF. A search that runs out of even this
/// many steps still keeps the rest whole.
const BACKTRACK_LIMIT: usize = 1 << 32;

impl Stage {
    /// A hand-written scanner when `pattern` is a known one, else fancy-regex.
    pub fn regex(pattern: &str) -> Result<Stage> {
        match Known::from_regex(pattern) {
            Some(k) => Ok(Stage::Known(k)),
            None => Stage::fancy(pattern),
        }
    }

    /// Always fancy-regex (the scanners are tested against it).
    pub fn fancy(pattern: &str) -> Result<Stage> {
        fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map(|r| Stage::Regex(Box::new(r)))
            .map_err(|e| Error::Format(format!("split pattern {pattern:?}: {e}")))
    }

    fn split(&self, s: &str, base: usize, out: &mut Vec<(usize, usize)>) {
        match self {
            Stage::Known(k) => k.split(s, |a, b| out.push((base + a, base + b))),
            Stage::Regex(re) => {
                let mut last = 0;
                let mut pos = 0;
                while pos <= s.len() {
                    // A regex that fails at run time (backtrack limit) keeps the rest whole.
                    let Ok(Some(m)) = re.find_from_pos(s, pos) else {
                        break;
                    };
                    if m.start() == m.end() {
                        // Empty matches split nothing; step over one character.
                        pos = m.end() + at(s, m.end()).map_or(1, |(_, l)| l);
                        continue;
                    }
                    if m.start() > last {
                        out.push((base + last, base + m.start()));
                    }
                    out.push((base + m.start(), base + m.end()));
                    last = m.end();
                    pos = m.end();
                }
                if last < s.len() {
                    out.push((base + last, base + s.len()));
                }
            }
            Stage::Digits { individual } => {
                let cls = Classes::get();
                let mut i = 0;
                while i < s.len() {
                    let (c, l) = at(s, i).expect("i < len");
                    let end = if cls.of(c) & N != 0 {
                        if *individual {
                            i + l
                        } else {
                            run(cls, s, i, N)
                        }
                    } else {
                        let mut j = i;
                        while let Some((d, dl)) = at(s, j) {
                            if cls.of(d) & N != 0 {
                                break;
                            }
                            j += dl;
                        }
                        j
                    };
                    out.push((base + i, base + end));
                    i = end;
                }
            }
        }
    }
}

/// A pre-tokenizer: stages applied in turn. No stages: the text is one piece.
pub struct Splitter {
    stages: Vec<Stage>,
}

impl Splitter {
    pub fn new(stages: Vec<Stage>) -> Self {
        Splitter { stages }
    }

    /// The single hand-written scanner, when that is all this splitter is.
    pub fn known(&self) -> Option<Known> {
        match self.stages.as_slice() {
            [Stage::Known(k)] => Some(*k),
            _ => None,
        }
    }

    /// Calls `f(start, end)` for each piece of `s`, in order, covering it exactly.
    pub fn split(&self, s: &str, mut f: impl FnMut(usize, usize)) {
        if s.is_empty() {
            return;
        }
        match self.stages.as_slice() {
            [] => f(0, s.len()),
            [Stage::Known(k)] => k.split(s, f),
            stages => {
                let mut pieces = vec![(0, s.len())];
                let mut next = Vec::new();
                for stage in stages {
                    next.clear();
                    for &(a, b) in &pieces {
                        stage.split(&s[a..b], a, &mut next);
                    }
                    std::mem::swap(&mut pieces, &mut next);
                }
                for (a, b) in pieces {
                    f(a, b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(k: Known, s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        k.split(s, |a, b| out.push(&s[a..b]));
        out
    }

    fn by_regex<'a>(pattern: &str, s: &'a str) -> Vec<&'a str> {
        let re = fancy_regex::Regex::new(pattern).unwrap();
        re.find_iter(s).map(|m| m.unwrap().as_str()).collect()
    }

    const SAMPLES: [&str; 9] = [
        "def getUserById(self, user_id):\n    return self._users[user_id]  # it's 12345\n\n",
        "  x = 1;\r\n\t\tfoo(\"I'LL\") ++ \"ſ'S 'Ve\"   \n \n  ",
        "HTTPServerError größeWert ÀÉÎõ 中文字符 Ǆǅǆ a\u{301}b \u{301}x 12½ ①②③④",
        "x='ll'd'M'T  \u{3000}y\u{a0}z /* a/b */ //\n// c\r\n\r\n",
        "",
        " ",
        "   ",
        "a  ",
        "\n",
    ];

    #[test]
    fn hand_written_scanners_equal_their_regex() {
        for (name, re) in KNOWN.iter().chain(ALIASES.iter()) {
            let k = Known::from_name(name).unwrap();
            for s in SAMPLES {
                assert_eq!(pieces(k, s), by_regex(re, s), "{name} on {s:?}");
            }
        }
    }

    #[test]
    fn a_long_run_no_alternative_matches_does_not_stop_the_split() {
        // The run exhausted fancy-regex's default backtrack limit, and the code after it was
        // left as one piece.
        // DeepSeek-V3's third split pattern, whose alternatives NUL matches none of.
        let pattern = concat!(
            r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"##,
            r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
        );
        let tail = "\n\n    def getUserName(self):\n";
        let long = format!("{}{tail}", "\u{0}".repeat(300_000));
        let stage = Stage::fancy(pattern).unwrap();
        let mut got = Vec::new();
        stage.split(&long, 0, &mut got);
        let mut want = Vec::new();
        stage.split(tail, long.len() - tail.len(), &mut want);
        assert!(
            got.ends_with(&want),
            "{:?}",
            &got[got.len().saturating_sub(8)..]
        );
    }

    #[test]
    fn recognises_known_regexes() {
        assert_eq!(Known::from_regex(KNOWN[2].1), Some(Known::O200k));
        assert!(Known::from_regex("\\w+").is_none());
    }

    #[test]
    fn sequences_split_each_piece() {
        let sp = Splitter::new(vec![
            Stage::Digits { individual: true },
            Stage::Known(Known::Gpt2),
        ]);
        let s = "x12 ab";
        let mut out = Vec::new();
        sp.split(s, |a, b| out.push(&s[a..b]));
        assert_eq!(out, ["x", "1", "2", " ab"]);
    }
}
