//! The scanner: a small state machine (code, string, comment) that yields one piece per step.
use super::lang::Quote;
use super::{Kind, Lang, Piece, Table};
use rustc_hash::FxHashSet;
use std::sync::OnceLock;

#[derive(Clone, Copy)]
enum Mode {
    Code,
    Str {
        close: &'static str,
        /// Rust raw strings close with `"` followed by this many `#`.
        hashes: usize,
        escapes: bool,
        multiline: bool,
    },
    LineComment,
    BlockComment {
        depth: u32,
    },
}

pub struct Scanner<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    lang: Lang,
    table: &'static Table,
    dispatch: &'static Dispatch,
    mode: Mode,
    at_line_start: bool,
    /// Tell keywords from identifiers (a set lookup per identifier); see `without_keywords`.
    keywords: bool,
}

/// Per-language lookup tables derived once from the `Table`: keywords as a set, operators by
/// first byte, and which bytes can open a comment or a string (most bytes can't, and then
/// none of those checks run).
struct Dispatch {
    keywords: FxHashSet<&'static str>,
    operators: Vec<Vec<&'static str>>,
    /// Per first byte, a bit per second byte: set if some operator starts with the two. Most
    /// punctuation (`(`, `.`, `=` before a space) fails this one test and is a single byte.
    operator_pairs: Vec<[u64; 4]>,
    /// What a byte starts in code: one table lookup instead of a chain of tests per piece.
    class: [Class; 256],
    /// ASCII bytes that continue an identifier (`WORD`, plus `$` where identifiers take it).
    ident: [bool; 256],
}

/// What a byte starts in code mode.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Newline,
    Space,
    Identifier,
    Digit,
    /// May open a comment or a string in this language: checked against the table.
    Opens,
    /// Punctuation (or, for bytes >= 0x80, a non-ASCII char: identifier or symbol).
    Other,
}

/// ASCII bytes that continue an identifier and make up prose words: letters, digits, `_`.
/// Bytes of non-ASCII chars are false here; the slow paths look at the whole char.
const WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric() || b == b'_' as usize;
        b += 1;
    }
    t
};

fn dispatch(lang: Lang) -> &'static Dispatch {
    static ALL: OnceLock<Vec<Dispatch>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        Lang::ALL
            .iter()
            .map(|l| {
                let t = l.table();
                let mut operators = vec![Vec::new(); 256];
                let mut operator_pairs = vec![[0u64; 4]; 256];
                for op in t.operators {
                    let b = op.as_bytes();
                    operators[b[0] as usize].push(*op);
                    if let Some(&c) = b.get(1) {
                        operator_pairs[b[0] as usize][usize::from(c >> 6)] |= 1 << (c & 63);
                    }
                }
                let mut class = [Class::Other; 256];
                let mut ident = WORD;
                for b in 0..=255u8 {
                    class[b as usize] = match b {
                        b'\n' | b'\r' => Class::Newline,
                        _ if is_hspace(b) => Class::Space,
                        b'0'..=b'9' => Class::Digit,
                        _ if WORD[b as usize] => Class::Identifier,
                        _ => Class::Other,
                    };
                }
                if t.dollar_ident {
                    class[b'$' as usize] = Class::Identifier;
                    ident[b'$' as usize] = true;
                }
                let firsts = t
                    .line_comments
                    .iter()
                    .chain(t.block_comment.iter().map(|b| &b.0));
                // Identifiers and numbers start no comment or quote (Rust's r"..." is found
                // from the identifier `r`); any other first byte of a marker is checked.
                for m in firsts.chain(t.quotes.iter().map(|q| &q.open)) {
                    let c = &mut class[m.as_bytes()[0] as usize];
                    if *c == Class::Other {
                        *c = Class::Opens;
                    }
                }
                if *l == Lang::Rust {
                    class[b'\'' as usize] = Class::Opens;
                }
                Dispatch {
                    keywords: t.keywords.iter().copied().collect(),
                    operators,
                    operator_pairs,
                    class,
                    ident,
                }
            })
            .collect()
    });
    &all[Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)]
}

#[inline]
fn is_hspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c)
}

impl<'a> Scanner<'a> {
    pub fn new(src: &'a str, lang: Lang) -> Self {
        Scanner {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            lang,
            table: lang.table(),
            dispatch: dispatch(lang),
            mode: Mode::Code,
            at_line_start: true,
            keywords: true,
        }
    }

    /// Reports keywords as `Kind::Identifier`: for callers that treat both alike (the
    /// tokenizer's chunks), which then skip a hash-set lookup per identifier.
    pub fn without_keywords(mut self) -> Self {
        self.keywords = false;
        self
    }

    /// Inlined compare: the needles are 1-4 bytes, where a `memcmp` call costs more than it does.
    #[inline]
    fn starts_with(&self, at: usize, s: &str) -> bool {
        let needle = s.as_bytes();
        let Some(hay) = self.bytes.get(at..at + needle.len()) else {
            return false;
        };
        hay.iter().zip(needle).all(|(a, b)| a == b)
    }

    /// The char at byte offset `at` (always on a char boundary here).
    #[inline]
    fn char_at(&self, at: usize) -> char {
        self.src[at..].chars().next().unwrap_or('\0')
    }

    #[inline]
    fn char_len_at(&self, at: usize) -> usize {
        let b = self.bytes[at];
        if b < 0x80 {
            1
        } else {
            self.char_at(at).len_utf8()
        }
    }

    /// End of an identifier whose continuation starts at `at`: ASCII in a tight loop, other
    /// chars (rare in code) through the Unicode table.
    #[inline]
    fn ident_end(&self, mut at: usize) -> usize {
        let (bytes, ident) = (self.bytes, &self.dispatch.ident);
        loop {
            while at < bytes.len() && ident[bytes[at] as usize] {
                at += 1;
            }
            if at < bytes.len() && bytes[at] >= 0x80 {
                let c = self.char_at(at);
                if unicode_ident::is_xid_continue(c) {
                    at += c.len_utf8();
                    continue;
                }
            }
            return at;
        }
    }

    fn number_end(&self, mut at: usize) -> usize {
        let n = self.bytes.len();
        while at < n {
            let b = self.bytes[at];
            if WORD[b as usize] {
                at += 1;
                // Exponent sign: 1e-3, 0x1p+4.
                if matches!(b, b'e' | b'E' | b'p' | b'P')
                    && at + 1 < n
                    && matches!(self.bytes[at], b'+' | b'-')
                    && self.bytes[at + 1].is_ascii_digit()
                    && !self.bytes[at - 2].is_ascii_alphabetic()
                {
                    at += 1;
                }
            } else if b == b'.' && at + 1 < n && self.bytes[at + 1].is_ascii_digit() {
                at += 1;
            } else {
                break;
            }
        }
        at
    }

    fn piece(&mut self, end: usize, kind: Kind) -> Piece {
        let p = Piece {
            start: self.pos,
            end,
            kind,
        };
        self.pos = end;
        p
    }

    fn newline(&mut self) -> Piece {
        let end = if self.bytes[self.pos] == b'\r' && self.bytes.get(self.pos + 1) == Some(&b'\n') {
            self.pos + 2
        } else {
            self.pos + 1
        };
        self.at_line_start = true;
        self.piece(end, Kind::Newline)
    }

    fn space_run_end(&self, mut at: usize) -> usize {
        while at < self.bytes.len() && is_hspace(self.bytes[at]) {
            at += 1;
        }
        at
    }

    // Inlined into `next`, and `next` into its callers' loops: as calls they cost ~75M of
    // the 1,220M instructions of a first pass over 9 MB (`benches/encode_cost.py`).
    #[inline(always)]
    fn code(&mut self) -> Piece {
        let b = self.bytes[self.pos];
        let class = self.dispatch.class[b as usize];
        if class == Class::Space {
            let end = self.space_run_end(self.pos);
            let kind = if self.at_line_start {
                Kind::Indent
            } else {
                Kind::Space
            };
            return self.piece(end, kind);
        }
        if class == Class::Newline {
            return self.newline();
        }
        self.at_line_start = false;
        match class {
            Class::Identifier => self.identifier(),
            Class::Digit => {
                let end = self.number_end(self.pos);
                self.piece(end, Kind::Number)
            }
            Class::Opens => self.opening(b),
            _ => self.punctuation(b),
        }
    }

    /// A byte that may open a comment or a string in this language.
    fn opening(&mut self, b: u8) -> Piece {
        let t = self.table;
        // Comments before operators: `//` and `/*` must not lex as `/`.
        for marker in t.line_comments {
            if self.starts_with(self.pos, marker) {
                self.mode = Mode::LineComment;
                return self.piece(self.pos + marker.len(), Kind::CommentDelim);
            }
        }
        if let Some((open, _)) = t.block_comment {
            if self.starts_with(self.pos, open) {
                self.mode = Mode::BlockComment { depth: 1 };
                return self.piece(self.pos + open.len(), Kind::CommentDelim);
            }
        }
        if b == b'\'' && self.lang == Lang::Rust {
            return self.rust_quote();
        }
        for quote in t.quotes {
            if self.starts_with(self.pos, quote.open) {
                return self.open_string(quote, self.pos + quote.open.len(), 0);
            }
        }
        self.punctuation(b)
    }

    /// A non-identifier, non-number byte that opens no comment or string here.
    fn punctuation(&mut self, b: u8) -> Piece {
        if b >= 0x80 {
            let c = self.char_at(self.pos);
            if unicode_ident::is_xid_start(c) {
                return self.identifier();
            }
            return self.piece(self.pos + c.len_utf8(), Kind::Other);
        }
        // 0 at the end of the input: no operator has a NUL second byte (nor a single byte:
        // lang.rs's tests hold every operator to two or more).
        let next = self.bytes.get(self.pos + 1).copied().unwrap_or(0);
        let pairs = &self.dispatch.operator_pairs[b as usize];
        if pairs[usize::from(next >> 6)] >> (next & 63) & 1 != 0 {
            for op in &self.dispatch.operators[b as usize] {
                if self.starts_with(self.pos, op) {
                    return self.piece(self.pos + op.len(), Kind::Operator);
                }
            }
        }
        let kind = match b {
            b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' | b';' => Kind::Delimiter,
            _ if b.is_ascii_punctuation() => Kind::Operator,
            _ => Kind::Other,
        };
        self.piece(self.pos + 1, kind)
    }

    fn identifier(&mut self) -> Piece {
        let start = self.pos;
        // Bytes, not a `&str` of the word: most identifiers need neither char boundary checks
        // nor the word itself (keywords are only told apart when asked for).
        let first = if self.bytes[start] < 0x80 {
            1
        } else {
            self.char_at(start).len_utf8()
        };
        let end = self.ident_end(start + first);
        if self.lang == Lang::Rust && matches!(&self.bytes[start..end], b"r" | b"br" | b"cr") {
            // Raw string: r"..." or r#"..."# (any number of #).
            let mut at = end;
            while at < self.bytes.len() && self.bytes[at] == b'#' {
                at += 1;
            }
            if at < self.bytes.len() && self.bytes[at] == b'"' {
                let raw = Quote {
                    open: "\"",
                    close: "\"",
                    escapes: false,
                    multiline: true,
                };
                return self.open_string(&raw, at + 1, at - end);
            }
        }
        let kind = if self.keywords && self.dispatch.keywords.contains(&self.src[start..end]) {
            Kind::Keyword
        } else {
            Kind::Identifier
        };
        self.piece(end, kind)
    }

    fn open_string(&mut self, quote: &Quote, end: usize, hashes: usize) -> Piece {
        self.mode = Mode::Str {
            close: quote.close,
            hashes,
            escapes: quote.escapes,
            multiline: quote.multiline,
        };
        self.piece(end, Kind::StringDelim)
    }

    /// Rust `'`: a char literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime / label (`'a`).
    fn rust_quote(&mut self) -> Piece {
        let start = self.pos;
        let n = self.bytes.len();
        let mut at = start + 1;
        if at < n && self.bytes[at] == b'\\' {
            // Escaped char literal: look for the closing quote within a short window.
            let limit = (at + 12).min(n);
            at += 1;
            while at < limit && self.bytes[at] != b'\'' && self.bytes[at] != b'\n' {
                at += 1;
            }
            if at < limit && self.bytes[at] == b'\'' {
                return self.piece(at + 1, Kind::StringText);
            }
        } else if at < n {
            let c_end = at + self.char_len_at(at);
            if c_end < n && self.bytes[c_end] == b'\'' && self.bytes[at] != b'\n' {
                return self.piece(c_end + 1, Kind::StringText);
            }
        }
        self.piece(start + 1, Kind::Operator)
    }

    fn string(
        &mut self,
        close: &'static str,
        hashes: usize,
        escapes: bool,
        multiline: bool,
    ) -> Piece {
        let at = self.pos;
        if self.starts_with(at, close) {
            let after = at + close.len();
            let ok = hashes == 0
                || (after + hashes <= self.bytes.len()
                    && self.bytes[after..after + hashes].iter().all(|&b| b == b'#'));
            if ok {
                self.mode = Mode::Code;
                return self.piece(after + hashes, Kind::StringDelim);
            }
        }
        let b = self.bytes[at];
        if b == b'\n' || b == b'\r' {
            if !multiline {
                // Unterminated single-line string: the newline ends it.
                self.mode = Mode::Code;
            }
            return self.newline();
        }
        if escapes && b == b'\\' {
            let end = if at + 1 < self.bytes.len() {
                at + 1 + self.char_len_at(at + 1)
            } else {
                at + 1
            };
            return self.piece(end, Kind::StringText);
        }
        let stop = close.as_bytes()[0];
        self.prose(Kind::StringText, stop)
    }

    fn block_comment(&mut self, depth: u32) -> Piece {
        let (open, close) = self.table.block_comment.unwrap_or(("/*", "*/"));
        let at = self.pos;
        if self.starts_with(at, close) {
            self.mode = if depth <= 1 {
                Mode::Code
            } else {
                Mode::BlockComment { depth: depth - 1 }
            };
            return self.piece(at + close.len(), Kind::CommentDelim);
        }
        if self.table.nested_comments && self.starts_with(at, open) {
            self.mode = Mode::BlockComment { depth: depth + 1 };
            return self.piece(at + open.len(), Kind::CommentDelim);
        }
        let b = self.bytes[at];
        if b == b'\n' || b == b'\r' {
            return self.newline();
        }
        self.prose(Kind::CommentText, close.as_bytes()[0])
    }

    /// One prose piece inside a string or comment: a word with at most one leading space, a
    /// run of spaces, or a run of one punctuation character (never the closing delimiter's).
    fn prose(&mut self, kind: Kind, stop: u8) -> Piece {
        let at = self.pos;
        let b = self.bytes[at];
        if is_hspace(b) {
            let end = self.space_run_end(at);
            if end < self.bytes.len() && self.is_word_char_at(end) {
                if end - at == 1 {
                    let word_end = self.word_end(end);
                    return self.piece(word_end, kind);
                }
                // Leave the last space to lead the word, as prose tokenizers do.
                return self.piece(end - 1, Kind::Space);
            }
            return self.piece(end, Kind::Space);
        }
        if self.is_word_char_at(at) {
            let end = self.word_end(at);
            return self.piece(end, kind);
        }
        if b < 0x80 {
            let mut end = at + 1;
            if b != stop && b != b'\\' {
                while end < self.bytes.len() && self.bytes[end] == b {
                    end += 1;
                }
            }
            return self.piece(end, kind);
        }
        let len = self.char_len_at(at);
        self.piece(at + len, kind)
    }

    #[inline(always)]
    fn is_word_char_at(&self, at: usize) -> bool {
        let b = self.bytes[at];
        if b < 0x80 {
            WORD[b as usize]
        } else {
            self.char_at(at).is_alphanumeric()
        }
    }

    /// End of a prose word starting at `at`: ASCII in a tight loop, other chars one by one.
    #[inline(always)]
    fn word_end(&self, mut at: usize) -> usize {
        let bytes = self.bytes;
        loop {
            while at < bytes.len() && WORD[bytes[at] as usize] {
                at += 1;
            }
            if at < bytes.len() && bytes[at] >= 0x80 {
                let c = self.char_at(at);
                if c.is_alphanumeric() {
                    at += c.len_utf8();
                    continue;
                }
            }
            return at;
        }
    }
}

impl Iterator for Scanner<'_> {
    type Item = Piece;

    #[inline(always)]
    fn next(&mut self) -> Option<Piece> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        Some(match self.mode {
            Mode::Code => self.code(),
            Mode::Str {
                close,
                hashes,
                escapes,
                multiline,
            } => self.string(close, hashes, escapes, multiline),
            Mode::LineComment => {
                let b = self.bytes[self.pos];
                if b == b'\n' || b == b'\r' {
                    self.mode = Mode::Code;
                    self.newline()
                } else {
                    self.prose(Kind::CommentText, b'\n')
                }
            }
            Mode::BlockComment { depth } => self.block_comment(depth),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::pretokenize;
    use super::*;

    fn lex(src: &str, lang: Lang) -> Vec<(&str, Kind)> {
        pretokenize(src, lang)
            .iter()
            .map(|p| (p.text(src), p.kind))
            .collect()
    }

    fn texts(src: &str, lang: Lang) -> Vec<&str> {
        lex(src, lang).into_iter().map(|(t, _)| t).collect()
    }

    fn assert_partition(src: &str, lang: Lang) {
        let mut at = 0;
        for p in Scanner::new(src, lang) {
            assert_eq!(p.start, at, "gap or overlap in {src:?}");
            assert!(p.end > p.start);
            assert!(src.is_char_boundary(p.end));
            at = p.end;
        }
        assert_eq!(at, src.len());
    }

    #[test]
    fn python_pieces() {
        let src = "def f(x):\n    return x ** 2  # square it\n";
        assert_eq!(
            texts(src, Lang::Python),
            [
                "def", " ", "f", "(", "x", ")", ":", "\n", "    ", "return", " ", "x", " ", "**",
                " ", "2", "  ", "#", " square", " it", "\n"
            ]
        );
        let kinds = lex(src, Lang::Python);
        assert_eq!(kinds[0].1, Kind::Keyword);
        assert_eq!(kinds[8].1, Kind::Indent);
        assert_eq!(kinds[12].1, Kind::Space);
        assert_eq!(kinds[13].1, Kind::Operator);
        assert_eq!(kinds[17].1, Kind::CommentDelim);
    }

    #[test]
    fn strings_split_like_prose() {
        let src = "s = \"Hello,  big world\\n\"";
        assert_eq!(
            texts(src, Lang::Python),
            ["s", " ", "=", " ", "\"", "Hello", ",", " ", " big", " world", "\\n", "\""]
        );
        let doc = "'''Doc line.\n   more'''\nx";
        let l = lex(doc, Lang::Python);
        assert_eq!(l.first().unwrap(), &("'''", Kind::StringDelim));
        assert!(l.contains(&("'''", Kind::StringDelim)));
        assert_eq!(l.last().unwrap(), &("x", Kind::Identifier));
    }

    #[test]
    fn unterminated_strings_and_comments_end_cleanly() {
        assert_eq!(
            lex("'abc\nx", Lang::C).last().unwrap(),
            &("x", Kind::Identifier)
        );
        for lang in [
            Lang::Python,
            Lang::C,
            Lang::Rust,
            Lang::JavaScript,
            Lang::Go,
            Lang::Java,
        ] {
            for src in [
                "\"", "'", "/*", "\"\"\"", "r#\"", "`", "\\", "'\\", "/* /* */",
            ] {
                assert_partition(src, lang);
            }
        }
    }

    #[test]
    fn operators_longest_first() {
        assert_eq!(texts("a>>>=b", Lang::JavaScript), ["a", ">>>=", "b"]);
        assert_eq!(texts("a===b", Lang::JavaScript), ["a", "===", "b"]);
        assert_eq!(
            texts("x := <-ch", Lang::Go),
            ["x", " ", ":=", " ", "<-", "ch"]
        );
        assert_eq!(texts("a::b->c", Lang::C), ["a", "::", "b", "->", "c"]);
        assert_eq!(texts("x //= 2", Lang::Python), ["x", " ", "//=", " ", "2"]);
    }

    #[test]
    fn comments_per_language() {
        let l = lex("x // note\n/* a */y", Lang::Go);
        assert_eq!(l[2], ("//", Kind::CommentDelim));
        assert_eq!(l[3], (" note", Kind::CommentText));
        assert!(l.contains(&("*/", Kind::CommentDelim)));
        assert_eq!(l.last().unwrap(), &("y", Kind::Identifier));
        // Rust block comments nest.
        let r = lex("/* a /* b */ c */z", Lang::Rust);
        assert_eq!(r.last().unwrap(), &("z", Kind::Identifier));
        assert_eq!(r.iter().filter(|p| p.1 == Kind::CommentDelim).count(), 4);
    }

    #[test]
    fn rust_lifetimes_chars_and_raw_strings() {
        assert_eq!(
            texts("fn f<'a>(c: char) { 'x'; '\\n'; }", Lang::Rust)[..6],
            ["fn", " ", "f", "<", "'", "a"]
        );
        let l = lex("'x' '\\n' r#\"a\"b\"# q", Lang::Rust);
        assert_eq!(l[0], ("'x'", Kind::StringText));
        assert_eq!(l[2], ("'\\n'", Kind::StringText));
        assert_eq!(l[4], ("r#\"", Kind::StringDelim));
        assert!(l.contains(&("\"#", Kind::StringDelim)));
        assert_eq!(l.last().unwrap(), &("q", Kind::Identifier));
    }

    #[test]
    fn numbers() {
        assert_eq!(texts("1.5e-3+0xFF", Lang::C), ["1.5e-3", "+", "0xFF"]);
        assert_eq!(texts("0..10", Lang::Rust), ["0", "..", "10"]);
        assert_eq!(texts("1_000u32", Lang::Rust), ["1_000u32"]);
    }

    #[test]
    fn unicode_identifiers_and_symbols() {
        let l = lex("größe = «π»", Lang::Python);
        assert_eq!(l[0], ("größe", Kind::Identifier));
        assert_eq!(l[4], ("«", Kind::Other));
        assert_eq!(l[5], ("π", Kind::Identifier));
    }

    #[test]
    fn crlf_and_indentation() {
        let l = lex("a\r\n\tb\r", Lang::Generic);
        assert_eq!(
            l,
            [
                ("a", Kind::Identifier),
                ("\r\n", Kind::Newline),
                ("\t", Kind::Indent),
                ("b", Kind::Identifier),
                ("\r", Kind::Newline)
            ]
        );
    }

    #[test]
    fn pathological_inputs_partition() {
        let big = "a".repeat(100_000);
        assert_eq!(pretokenize(&big, Lang::Python).len(), 1);
        for src in [
            " ".repeat(10_000),
            "\n".repeat(10_000),
            "(".repeat(10_000),
            "\"".repeat(10_001),
            "/*".repeat(5_000),
            "'".repeat(9_999),
        ] {
            for lang in [Lang::Python, Lang::Rust, Lang::C, Lang::Generic] {
                assert_partition(&src, lang);
            }
        }
    }
}
