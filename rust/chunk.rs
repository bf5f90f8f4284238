//! BPE words from scanner pieces: whole lines, each led by the line break and indentation
//! before it.
//!
//! Letting BPE merge across pieces inside a line is where the token savings on code are
//! (`self.`, `):`, `") {`), and joining the line break + indentation to the line lets
//! `\n        return ` become one token (measured: 24.7% fewer tokens than a GPT-4-regex BPE
//! of the same size, against 19.5% with line breaks apart; see README). Chunks are capped at `MAX_CHUNK` bytes (cut at piece boundaries, and an over-long
//! piece at char boundaries) so BPE cost per chunk is bounded and encoding stays linear.
use crate::lex::{Lang, Scanner};

pub const MAX_CHUNK: usize = 256;

/// The byte ranges, relative to the chunk start, of identifier-like pieces inside a chunk.
pub type IdentRanges = Vec<(u16, u16)>;

struct Line {
    start: usize,
    end: usize,
    idents: IdentRanges,
}

/// Calls `f(start, end, idents)` for each chunk of `text`, in order; chunks partition `text`.
pub fn for_each_chunk(text: &str, lang: Lang, mut f: impl FnMut(usize, usize, &[(u16, u16)])) {
    let mut line = Line {
        start: 0,
        end: 0,
        idents: Vec::new(),
    };
    // Pending whitespace run: (start, end, contains a newline).
    let mut ws: Option<(usize, usize, bool)> = None;
    for p in Scanner::new(text, lang) {
        if p.kind.is_whitespace() {
            let nl = p.kind == crate::lex::Kind::Newline;
            ws = Some(match ws {
                Some((s, _, had)) => (s, p.end, had || nl),
                None => (p.start, p.end, nl),
            });
            continue;
        }
        flush_ws(text, &mut ws, &mut line, &mut f);
        push_piece(
            text,
            &mut line,
            p.start,
            p.end,
            p.kind.is_identifier_like(),
            &mut f,
        );
    }
    flush_ws(text, &mut ws, &mut line, &mut f);
    flush_line(&mut line, &mut f);
}

fn flush_ws(
    text: &str,
    ws: &mut Option<(usize, usize, bool)>,
    line: &mut Line,
    f: &mut impl FnMut(usize, usize, &[(u16, u16)]),
) {
    if let Some((s, e, has_newline)) = ws.take() {
        if has_newline {
            flush_line(line, f);
            if e - s <= MAX_CHUNK {
                // The line break and indentation lead the next line's chunk.
                line.start = s;
                line.end = e;
                return;
            }
            for_each_window(text, s, e, |a, b| f(a, b, &[]));
            line.start = e;
            line.end = e;
        } else {
            push_piece(text, line, s, e, false, f);
        }
    }
}

fn push_piece(
    text: &str,
    line: &mut Line,
    start: usize,
    end: usize,
    ident: bool,
    f: &mut impl FnMut(usize, usize, &[(u16, u16)]),
) {
    if line.end > line.start && end - line.start > MAX_CHUNK {
        flush_line(line, f);
    }
    if line.end == line.start {
        line.start = start;
    }
    if end - start > MAX_CHUNK {
        // One over-long piece (a huge identifier or run): windows of its own, no vocab match.
        for_each_window(text, start, end, |a, b| f(a, b, &[]));
        line.start = end;
        line.end = end;
        return;
    }
    if ident {
        line.idents
            .push(((start - line.start) as u16, (end - line.start) as u16));
    }
    line.end = end;
}

fn flush_line(line: &mut Line, f: &mut impl FnMut(usize, usize, &[(u16, u16)])) {
    if line.end > line.start {
        f(line.start, line.end, &line.idents);
    }
    line.start = line.end;
    line.idents.clear();
}

/// Cuts `[start, end)` into windows of at most `MAX_CHUNK` bytes at char boundaries.
fn for_each_window(text: &str, start: usize, end: usize, mut f: impl FnMut(usize, usize)) {
    let mut s = start;
    while s < end {
        let mut e = (s + MAX_CHUNK).min(end);
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

    fn chunks(text: &str, lang: Lang) -> Vec<(&str, Vec<&str>)> {
        let mut out = Vec::new();
        for_each_chunk(text, lang, |s, e, ids| {
            let c = &text[s..e];
            out.push((
                c,
                ids.iter()
                    .map(|&(a, b)| &c[a as usize..b as usize])
                    .collect(),
            ));
        });
        out
    }

    #[test]
    fn lines_and_indentation() {
        let src = "def f(x):  \n\n    return x.y\n";
        let c = chunks(src, Lang::Python);
        let texts: Vec<&str> = c.iter().map(|x| x.0).collect();
        assert_eq!(texts, ["def f(x):", "  \n\n    return x.y", "\n"]);
        assert_eq!(c[0].1, ["def", "f", "x"]);
        assert_eq!(c[1].1, ["return", "x", "y"]);
    }

    #[test]
    fn chunks_partition_and_respect_the_cap() {
        let long_line = format!("x = [{}]\n", "abc, ".repeat(200));
        let huge = "é".repeat(1000);
        for src in [long_line.as_str(), huge.as_str(), "\n\n\n", "", "  lead"] {
            let mut at = 0;
            for_each_chunk(src, Lang::Python, |s, e, _| {
                assert_eq!(s, at);
                assert!(e > s && e - s <= MAX_CHUNK);
                at = e;
            });
            assert_eq!(at, src.len());
        }
    }
}
