//! BPE words from scanner pieces: whole lines, each led by the line break and indentation
//! before it, and the pieces inside each line.
//!
//! BPE runs in two stages (see `tokenizer.rs`): inside each piece, then across the pieces of a
//! line. Merging across pieces inside a line is where the token savings on code are (`self.`,
//! `):`, `") {`), and joining the line break + indentation to the line lets `\n        return `
//! become one token. Chunks are capped at `MAX_CHUNK` bytes (cut at piece boundaries, and an
//! over-long piece at char boundaries), so BPE cost per chunk is bounded and encoding is linear.
use crate::lex::{Kind, Lang, Scanner};

pub const MAX_CHUNK: usize = 256;

/// A piece of a chunk: its end offset relative to the chunk start (it starts where the
/// previous part ends) and whether it is an identifier or keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub end: u16,
    pub ident: bool,
}

/// Where the chunker's output goes, part by part: each part of a chunk in order, then the
/// chunk's end. Parts are never empty and partition the text; a chunk is the parts since the
/// previous chunk. Parts are the BPE pieces, not the scanner's: a whitespace run is one part,
/// and an over-long piece arrives as windows of its own (`ident` false). The encoder encodes
/// each part as it comes (no list of parts to build and walk again).
pub trait ChunkSink {
    /// The part `[start, end)` of the text; `ident`: an identifier or keyword (not a window).
    fn piece(&mut self, start: usize, end: usize, ident: bool);
    /// The chunk `[start, end)` is complete: its pieces were the calls since the last one.
    fn end_chunk(&mut self, start: usize, end: usize);
}

/// The chunk in progress (a line, unless the cap cut it): `[start, end)`, `end` being where its
/// last part ends.
struct Line {
    start: usize,
    end: usize,
}

/// Calls `f(start, end, parts)` for each chunk of `text`, in order; chunks partition `text`.
/// A run of whitespace that holds a line break (with the indentation after it) is one part.
pub fn for_each_chunk(text: &str, lang: Lang, f: impl FnMut(usize, usize, &[Part])) {
    let mut parts = CollectParts {
        f,
        start: None,
        parts: Vec::new(),
    };
    chunk_pieces(text, lang, &mut parts);
}

/// The sink behind `for_each_chunk`: collects each chunk's parts as `Part`s and hands them on.
struct CollectParts<F> {
    f: F,
    start: Option<usize>,
    parts: Vec<Part>,
}

impl<F: FnMut(usize, usize, &[Part])> ChunkSink for CollectParts<F> {
    fn piece(&mut self, start: usize, end: usize, ident: bool) {
        let first = *self.start.get_or_insert(start);
        self.parts.push(Part {
            end: (end - first) as u16,
            ident,
        });
    }

    fn end_chunk(&mut self, start: usize, end: usize) {
        debug_assert_eq!(self.start, Some(start));
        (self.f)(start, end, &self.parts);
        self.parts.clear();
        self.start = None;
    }
}

/// The chunks of `text`, piece by piece, into `sink` (see `ChunkSink` and `for_each_chunk`).
pub fn chunk_pieces(text: &str, lang: Lang, sink: &mut impl ChunkSink) {
    let mut line = Line { start: 0, end: 0 };
    // Pending whitespace run: (start, end, contains a newline).
    let mut ws: Option<(usize, usize, bool)> = None;
    // Keywords and identifiers are alike here (`is_identifier_like`): skip telling them apart.
    for p in Scanner::new(text, lang).without_keywords() {
        if p.kind.is_whitespace() {
            let nl = p.kind == Kind::Newline;
            ws = Some(match ws {
                Some((s, _, had)) => (s, p.end, had || nl),
                None => (p.start, p.end, nl),
            });
            continue;
        }
        flush_ws(text, &mut ws, &mut line, sink);
        push_piece(
            text,
            &mut line,
            p.start,
            p.end,
            p.kind.is_identifier_like(),
            sink,
        );
    }
    flush_ws(text, &mut ws, &mut line, sink);
    flush_line(&mut line, sink);
}

#[inline(always)]
fn flush_ws(
    text: &str,
    ws: &mut Option<(usize, usize, bool)>,
    line: &mut Line,
    sink: &mut impl ChunkSink,
) {
    let Some((s, e, has_newline)) = ws.take() else {
        return;
    };
    if has_newline {
        // The line ends here; the line break and indentation lead the next line's chunk (or,
        // past the cap, are windows of their own, as any over-long piece).
        flush_line(line, sink);
    }
    push_piece(text, line, s, e, false, sink);
}

#[inline(always)]
fn push_piece(
    text: &str,
    line: &mut Line,
    start: usize,
    end: usize,
    ident: bool,
    sink: &mut impl ChunkSink,
) {
    if line.end > line.start && end - line.start > MAX_CHUNK {
        flush_line(line, sink);
    }
    if line.end == line.start {
        line.start = start;
    }
    if end - start > MAX_CHUNK {
        // One over-long piece (a huge identifier or run): windows of its own, no vocab match.
        for_each_window(text, start, end, sink);
        line.start = end;
        line.end = end;
        return;
    }
    // An empty part would reach the sink with no chunk end after it (`flush_line` ends only
    // non-empty chunks); the scanner never yields one.
    debug_assert!(end > start);
    sink.piece(start, end, ident);
    line.end = end;
}

// Not inlined: it ends a chunk (for the encoder, stage 2 of a whole line); inlined into the
// per-piece path it made every piece pay for that frame's register saves.
#[inline(never)]
fn flush_line(line: &mut Line, sink: &mut impl ChunkSink) {
    if line.end > line.start {
        sink.end_chunk(line.start, line.end);
    }
    line.start = line.end;
}

/// Cuts `[start, end)` into one-piece chunks of at most `MAX_CHUNK` bytes at char boundaries.
#[inline(never)]
fn for_each_window(text: &str, start: usize, end: usize, sink: &mut impl ChunkSink) {
    windows(text, start, end, MAX_CHUNK, |s, e| {
        sink.piece(s, e, false);
        sink.end_chunk(s, e);
    });
}

/// Calls `f(s, e)` for consecutive windows of `[start, end)` of at most `max` bytes (at least
/// 4, a char's longest), each cut at a char boundary.
pub fn windows(text: &str, start: usize, end: usize, max: usize, mut f: impl FnMut(usize, usize)) {
    let mut s = start;
    while s < end {
        let mut e = (s + max).min(end);
        while !text.is_char_boundary(e) {
            e -= 1;
        }
        f(s, e);
        s = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str, lang: Lang) -> Vec<(&str, Vec<(&str, bool)>)> {
        let mut out = Vec::new();
        for_each_chunk(text, lang, |s, e, parts| {
            let c = &text[s..e];
            let mut at = 0;
            let mut ps = Vec::new();
            for p in parts {
                ps.push((&c[at..p.end as usize], p.ident));
                at = p.end as usize;
            }
            assert_eq!(at, c.len(), "parts cover the chunk");
            out.push((c, ps));
        });
        out
    }

    #[test]
    fn lines_and_indentation() {
        let src = "def f(x):  \n\n    return x.y\n";
        let c = chunks(src, Lang::Python);
        let texts: Vec<&str> = c.iter().map(|x| x.0).collect();
        assert_eq!(texts, ["def f(x):", "  \n\n    return x.y", "\n"]);
        assert_eq!(
            c[1].1,
            [
                ("  \n\n    ", false),
                ("return", true),
                (" ", false),
                ("x", true),
                (".", false),
                ("y", true)
            ]
        );
    }

    #[test]
    fn chunks_partition_and_respect_the_cap() {
        let long_line = format!("x = [{}]\n", "abc, ".repeat(200));
        let huge = "é".repeat(1000);
        let blank = "\n".repeat(1000);
        for src in [
            long_line.as_str(),
            huge.as_str(),
            blank.as_str(),
            "\n\n\n",
            "",
            "  lead",
        ] {
            let mut at = 0;
            for_each_chunk(src, Lang::Python, |s, e, parts| {
                assert_eq!(s, at);
                assert!(e > s && e - s <= MAX_CHUNK);
                assert_eq!(parts.last().map(|p| p.end as usize), Some(e - s));
                at = e;
            });
            assert_eq!(at, src.len());
        }
    }
}
