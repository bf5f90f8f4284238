//! The wanted fields of a flat JSON object, read in one pass over its line: the fast path of
//! `jsonl_record`'s parse, for the records data sets write. serde_json reads a string of code a
//! piece between escapes at a time (a call per `\n`, then a copy out of its scratch buffer):
//! with the text unescaped here instead, that parse was ~1/3 of a one-core dedup of JSONL.
//!
//! What is read here is read as serde_json reads it (the same strings, escapes, numbers,
//! nesting, duplicate keys); anything outside the plain case is not decided here (None), and
//! the caller parses the line with serde: a control character anywhere in the line, a number
//! serde could find out of range or outside JSON's grammar, a surrogate escape that is not a
//! pair, a wanted field that is neither a string nor null, nesting past [`MOST_DEPTH`], and
//! every error.
use serde_json::{Map, Value};

/// Nested arrays and objects passed over here, at most (serde refuses past 128).
const MOST_DEPTH: usize = 64;
/// A number's length read here, at most, and only without an exponent: such a number is
/// finite as an f64, so serde takes it (a longer one, or `1e400`, serde may refuse).
const MOST_NUMBER: usize = 20;

/// The fields of `line` (a JSON object, then JSON whitespace) that `wanted` names, each its
/// last value, as serde_json parses them into a `Map`; None where the line is not read here.
pub fn wanted_fields(line: &str, wanted: impl Fn(&str) -> bool) -> Option<Map<String, Value>> {
    let bytes = line.as_bytes();
    // Strings hold no control character, and whitespace is rarely more than spaces: with none
    // in the line (but its end), a string ends at its first unescaped quote.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    if has_control(body) {
        return None;
    }
    let mut s = Scan {
        s: line,
        b: bytes,
        at: 0,
    };
    s.spaces();
    s.expect(b'{')?;
    let mut rec = Map::new();
    s.spaces();
    if s.peek() == Some(b'}') {
        s.at += 1;
    } else {
        loop {
            s.expect(b'"')?;
            let key = s.string()?;
            s.spaces();
            s.expect(b':')?;
            s.spaces();
            if wanted(&key) {
                let value = match s.peek()? {
                    b'"' => {
                        s.at += 1;
                        Value::String(s.string()?)
                    }
                    b'n' => {
                        s.literal(b"null")?;
                        Value::Null
                    }
                    _ => return None, // serde's own `Value` of it
                };
                rec.insert(key, value);
            } else {
                s.skip_value(0)?;
            }
            s.spaces();
            match s.next()? {
                b',' => s.spaces(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.spaces();
    (s.at == bytes.len()).then_some(rec)
}

/// Whether `b` holds a byte under 0x20 (in 32-byte blocks the compiler vectorizes).
fn has_control(b: &[u8]) -> bool {
    let mut blocks = b.chunks_exact(32);
    let found = blocks
        .by_ref()
        .any(|block| block.iter().fold(false, |any, &c| any | (c < 0x20)));
    found || blocks.remainder().iter().any(|&c| c < 0x20)
}

/// The high bit of each byte of `word` (8 bytes) that is a quote or a backslash, and maybe of
/// bytes after the first such (never before it).
fn specials(word: &[u8]) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    let mut w = [0u8; 8];
    w.copy_from_slice(word);
    let w = u64::from_le_bytes(w);
    let (quote, slash) = (w ^ (ONES * b'"' as u64), w ^ (ONES * b'\\' as u64));
    (quote.wrapping_sub(ONES) & !quote | slash.wrapping_sub(ONES) & !slash) & (ONES << 7)
}

/// Where the first quote or backslash of `b` is, 8 bytes a step: the runs between a string of
/// code's escapes are short (a line of code each), too short for `memchr2` to pay its way.
fn special(b: &[u8]) -> Option<usize> {
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let found = specials(word);
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = words.remainder();
    rest.iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|i| at + i)
}

/// A position in a line known to be UTF-8 with no control character inside its strings.
struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// JSON's whitespace (serde's: space, tab, newline, carriage return).
    fn spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.b.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// The rest of a string whose opening quote was read, unescaped.
    fn string(&mut self) -> Option<String> {
        let b = self.b;
        let start = self.at;
        let mut at = start + special(&b[start..])?;
        if b[at] == b'"' {
            self.at = at + 1;
            return Some(self.s[start..at].to_owned()); // no escape: the line's own text
        }
        // At most the rest of the line: an escape is longer than what it stands for.
        let mut out = Vec::with_capacity(b.len() - start);
        out.extend_from_slice(&b[start..at]);
        // At a quote or a backslash, each time round.
        while b[at] == b'\\' {
            // The escapes of code (a newline, a quote, a backslash, a tab) inline, the rest by
            // `escape`: through `escape` every time, the bench corpus parsed 1.1x serde's speed
            // against 1.27x.
            let plain = match b.get(at + 1) {
                Some(b'n') => b'\n',
                Some(b'"') => b'"',
                Some(b'\\') => b'\\',
                Some(b't') => b'\t',
                _ => 0,
            };
            if plain != 0 {
                out.push(plain);
                at += 2;
            } else {
                self.at = at + 1;
                out.extend_from_slice(self.escape()?.encode_utf8(&mut [0; 4]).as_bytes());
                at = self.at;
            }
            // The run to the next quote or backslash, copied a word at a time (the bytes of
            // a word past it are copied, then dropped: no copy of a length known only here).
            loop {
                let Some(word) = b.get(at..at + 8) else {
                    let run = special(&b[at..])?;
                    out.extend_from_slice(&b[at..at + run]);
                    at += run;
                    break;
                };
                let found = specials(word);
                out.extend_from_slice(word);
                if found != 0 {
                    let run = found.trailing_zeros() as usize / 8;
                    out.truncate(out.len() - 8 + run);
                    at += run;
                    break;
                }
                at += 8;
            }
        }
        self.at = at + 1;
        // Whole UTF-8 sequences of the line (cut only at ASCII quotes and backslashes) and
        // the UTF-8 of escaped chars.
        String::from_utf8(out).ok()
    }

    /// Passes over the rest of a string whose opening quote was read, its escapes checked.
    fn skip_string(&mut self) -> Option<()> {
        loop {
            let stop = self.at + special(&self.b[self.at..])?;
            self.at = stop + 1;
            if self.b[stop] == b'"' {
                return Some(());
            }
            self.escape()?;
        }
    }

    /// The char of the escape after a backslash; None for one serde refuses (a surrogate
    /// escape that is not a leading one followed by a trailing one, among them).
    fn escape(&mut self) -> Option<char> {
        Some(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\x08',
            b'f' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                if (0xD800..0xDC00).contains(&first) {
                    self.literal(b"\\u")?;
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))?
                } else {
                    char::from_u32(first)? // None for a trailing surrogate alone
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.at..self.at + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n * 16 + (d as char).to_digit(16)?;
        }
        self.at += 4;
        Some(n)
    }

    /// Passes over a value (`depth`: the arrays and objects it is inside).
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.skip_string()
            }
            b'{' => self.skip_nested(depth, b'}', true),
            b'[' => self.skip_nested(depth, b']', false),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    /// Passes over an object (`keys`) or an array, `close` its closing bracket.
    fn skip_nested(&mut self, depth: usize, close: u8, keys: bool) -> Option<()> {
        if depth >= MOST_DEPTH {
            return None;
        }
        self.at += 1;
        self.spaces();
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            if keys {
                self.expect(b'"')?;
                self.skip_string()?;
                self.spaces();
                self.expect(b':')?;
                self.spaces();
            }
            self.skip_value(depth + 1)?;
            self.spaces();
            match self.next()? {
                b',' => self.spaces(),
                c if c == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// Passes over a number of JSON's grammar, of at most `MOST_NUMBER` bytes, no exponent.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        let ends = !matches!(self.peek(), Some(b'e' | b'E' | b'0'..=b'9'));
        (ends && self.at - start <= MOST_NUMBER).then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(key: &str) -> bool {
        matches!(key, "content" | "path" | "lang")
    }

    /// What serde_json gives of the line: every field, so that the wanted ones compare.
    fn by_serde(line: &str) -> Option<Map<String, Value>> {
        let mut de = serde_json::Deserializer::from_str(line);
        let all: Map<String, Value> = serde::Deserialize::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(all.into_iter().filter(|(k, _)| wanted(k)).collect())
    }

    /// Read here, a line gives what serde gives; serde refusing it, it is not read here.
    fn agrees(line: &str) -> bool {
        let fast = wanted_fields(line, wanted);
        if let Some(fast) = &fast {
            assert_eq!(Some(fast), by_serde(line).as_ref(), "{line:?}");
        }
        fast.is_some()
    }

    #[test]
    fn plain_records_are_read_here() {
        for line in [
            "{\"content\": \"def f():\\n\\treturn \\\"x\\\" \\\\ \\/ \\b\\f\\r\", \"path\": \"a.py\"}\n",
            "{\"content\":\"\\u00e9\\u4e2d\\ud83d\\ude00 é\",\"lang\":null}\r\n",
            " {\"n\": -0.5, \"m\": 12345678901234567890, \"t\": true, \"f\": false, \"z\": null,\
              \"a\": [1, [], {}, {\"k\": [\"v\", 2.25]}], \"o\": {\"x\": \"\\\"\"}, \"content\": \"a\"} ",
            "{}",
            "{\"content\": \"a\", \"content\": \"b\", \"con\\u0074ent\": \"c\"}",
            "{\"content\": \"\\u0000\"}",
        ] {
            assert!(agrees(line), "{line:?}");
        }
    }

    #[test]
    fn what_is_not_plain_is_left_to_serde() {
        for line in [
            "{\"content\": \"a\\tb\"}\t",               // a tab between tokens
            "{\"content\": \"a\tb\"}",                  // a raw tab in a string: serde refuses
            "{\"content\": \"\\ud800\"}",               // a lone leading surrogate
            "{\"content\": \"\\ud800\\u0041\"}",        // not followed by a trailing one
            "{\"x\": \"\\udc00\", \"content\": \"a\"}", // a lone trailing surrogate
            "{\"content\": \"\\x\"}",                   // no such escape
            "{\"content\": \"\\u12g4\"}",               // not hex
            "{\"content\": 5}",                         // serde's Number
            "{\"content\": \"a\", \"n\": 1e400}",       // out of range for serde
            "{\"content\": \"a\", \"n\": 1e2}",         // an exponent: not read here
            "{\"content\": \"a\", \"n\": 012}",         // not JSON
            "{\"content\": \"a\", \"n\": 1.}",
            "{\"content\": \"a\", \"n\": -}",
            "{\"content\": \"a\", \"n\": NaN}",
            "{\"content\": \"a\", \"n\": 123456789012345678901}", // longer than MOST_NUMBER
            "{\"content\": \"a\",}",                              // a trailing comma
            "{\"content\": \"a\"} x",                             // trailing text
            "{\"content\": \"a\"",                                // cut short
            "{\"content\" \"a\"}",
            "[\"content\"]",
            "\u{feff}{\"content\": \"a\"}",
            "{\"content\": \"a\", \"t\": tru}",
            "{\"content\": \"a\", \"a\": [1 2]}",
        ] {
            assert!(!agrees(line), "{line:?}");
        }
        let deep = format!("{{\"x\": {}1{}}}", "[".repeat(80), "]".repeat(80));
        assert!(!agrees(&deep));
        let nested = format!("{{\"x\": {}1{}}}", "[".repeat(60), "]".repeat(60));
        assert!(agrees(&nested));
    }

    /// A xorshift generator: the same lines every run.
    struct Rand(u64);

    impl Rand {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// A random JSON value (`depth` deep at most), mostly valid, its pieces as serde meets them.
    fn value(r: &mut Rand, depth: usize, out: &mut String) {
        let space = [" ", "", "", "\t", "\n", "\r", "  "];
        match r.below(if depth == 0 { 4 } else { 6 }) {
            0 | 1 => {
                out.push('"');
                for _ in 0..r.below(8) {
                    out.push_str(r.pick(&[
                        "a",
                        "é",
                        "中",
                        "😀",
                        "\\n",
                        "\\\"",
                        "\\\\",
                        "\\/",
                        "\\b",
                        "\\f",
                        "\\r",
                        "\\t",
                        "\\u0041",
                        "\\u00e9",
                        "\\ud83d\\ude00",
                        "\\ud800",
                        "\\udc00",
                        "\\ud800\\u0041",
                        "\\u12",
                        "\\x",
                        "\t",
                        "\u{7f}",
                        "'",
                        " ",
                    ]));
                }
                out.push('"');
            }
            2 => out.push_str(r.pick(&[
                "0",
                "-0",
                "12",
                "-3.25",
                "0.5",
                "1e2",
                "1E-2",
                "1e400",
                "012",
                "1.",
                "-",
                ".5",
                "12345678901234567890",
                "123456789012345678901",
                "18446744073709551616",
                "NaN",
                "Infinity",
                "+1",
                "0x1",
            ])),
            3 => out.push_str(r.pick(&["true", "false", "null", "tru", "nul", "True"])),
            k => {
                let (open, close) = if k == 4 { ('[', ']') } else { ('{', '}') };
                out.push(open);
                for i in 0..r.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(r.pick(&space));
                    if k == 5 {
                        out.push_str(r.pick(&["\"k\"", "\"content\"", "\"\\u006b\""]));
                        out.push_str(r.pick(&space));
                        out.push(':');
                    }
                    value(r, depth - 1, out);
                }
                out.push_str(r.pick(&space));
                out.push(close);
            }
        }
    }

    /// A random record line, now and then broken (a byte cut out, or a piece put in).
    fn record(r: &mut Rand) -> String {
        let space = [" ", "", "", "\t", "\r"];
        let mut line = String::from(r.pick(&["", "", " ", "\u{feff}", "["]));
        line.push('{');
        for i in 0..r.below(5) {
            if i > 0 {
                line.push(',');
            }
            line.push_str(r.pick(&space));
            line.push_str(r.pick(&[
                "\"content\"",
                "\"path\"",
                "\"lang\"",
                "\"x\"",
                "\"con\\u0074ent\"",
                "\"pa\\th\"",
                "\"é\"",
                "content",
            ]));
            line.push_str(r.pick(&space));
            line.push(':');
            line.push_str(r.pick(&space));
            value(r, 3, &mut line);
        }
        line.push('}');
        line.push_str(r.pick(&["", "\n", "\r\n", " \n", "\t", " x", ","]));
        if r.below(4) == 0 && !line.is_empty() {
            let mut at = r.below(line.len());
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            match r.below(2) {
                0 => {
                    if let Some(c) = line[at..].chars().next() {
                        line.replace_range(at..at + c.len_utf8(), "");
                    }
                }
                _ => line.insert_str(at, r.pick(&["\"", "\\", ",", "{", "]", "1", "\t", " "])),
            }
        }
        line
    }

    #[test]
    fn random_lines_agree_with_serde() {
        // Wherever a line is read here, it reads as serde reads it; and of the lines serde
        // takes, most are read here.
        let mut r = Rand(0x9e37_79b9_7f4a_7c15);
        let (mut here, mut serde_takes) = (0, 0);
        for _ in 0..300_000 {
            let line = record(&mut r);
            here += agrees(&line) as usize;
            serde_takes += by_serde(&line).is_some() as usize;
        }
        assert!(
            here > serde_takes / 3 && here > 15_000,
            "{here} of {serde_takes}"
        );
        // Plain records of code are all read here.
        for i in 0..2000 {
            let mut text = String::new();
            for _ in 0..r.below(12) {
                text.push_str(r.pick(&["a", "\\n", "\\\"", "é", "\\u00e9", "\\ud83d\\ude00", " "]));
            }
            let line = format!("{{\"i\": {i}, \"content\": \"{text}\", \"path\": \"p{i}.py\"}}\n");
            assert!(agrees(&line), "{line}");
        }
    }
}
