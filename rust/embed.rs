//! The built-in, weight-free embedder and the identifier-aware terms that keyword search uses.
//!
//! Terms: every identifier whole (lower-cased) and its sub-identifier parts (`getUserById` ->
//! `getuserbyid get user by id`), words of comments and strings likewise, keywords and a short
//! stop list dropped, plus a light suffix-stripped form of each part (`items` -> `item`), so
//! that prose queries meet code names. Vectors: the terms and the character trigrams of each
//! part, sublinear counts, feature-hashed with a sign bit into `dim` buckets, L2-normalised.
//! The hash is our own FNV-1a so vectors stay identical across builds and platforms: a saved
//! index must keep matching the queries embedded by a later version of the library.
use crate::error::{Error, Result};
use crate::lex::{identifier_parts, Kind, Lang, Scanner};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// English and code words so common that they only blur rankings.
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "cls", "for", "from", "if", "in", "into",
    "is", "it", "its", "of", "on", "or", "self", "that", "the", "this", "to", "was", "will",
    "with",
];

/// Weight of a character trigram relative to a whole term.
const NGRAM_WEIGHT: f32 = 0.35;

fn is_stop(w: &str) -> bool {
    w.len() < 2 || STOP.binary_search(&w).is_ok()
}

/// A crude suffix stripper: enough to meet `items`/`item`, `parsed`/`parse`, `copies`/`copy`.
pub fn stem(w: &str) -> &str {
    let n = w.len();
    if !w.is_ascii() || n < 4 {
        return w;
    }
    let mut s = w;
    for (suffix, min) in [("ing", 6), ("ies", 5), ("es", 5), ("ed", 5), ("s", 4)] {
        if n >= min && w.ends_with(suffix) && !w.ends_with("ss") {
            s = &w[..n - suffix.len()];
            break;
        }
    }
    if s.len() >= 4 && (s.ends_with('e') || s.ends_with('y')) {
        s = &s[..s.len() - 1];
    }
    s
}

/// Calls `term(t)` for each term of `text` and `part(p)` for each identifier part.
fn visit(text: &str, lang: Lang, mut term: impl FnMut(&str), mut part: impl FnMut(&str)) {
    let word = |w: &str, term: &mut dyn FnMut(&str), part: &mut dyn FnMut(&str)| {
        let lower = w.to_lowercase();
        let mut parts = identifier_parts(w)
            .filter(|p| p.chars().any(char::is_alphanumeric))
            .map(str::to_lowercase)
            .peekable();
        let Some(first) = parts.next() else { return };
        let single = parts.peek().is_none();
        if !single && !is_stop(&lower) {
            term(&lower);
        }
        for p in std::iter::once(first).chain(parts) {
            if is_stop(&p) {
                continue;
            }
            term(&p);
            let s = stem(&p);
            if s != p {
                term(s);
            }
            part(&p);
        }
    };
    for piece in Scanner::new(text, lang) {
        let s = piece.text(text);
        match piece.kind {
            Kind::Identifier => word(s, &mut term, &mut part),
            Kind::StringText | Kind::CommentText => {
                for w in s.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                    if !w.is_empty() {
                        word(w, &mut term, &mut part);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The keyword-search terms of `text`, in order of appearance (repeats kept: BM25 counts them).
pub fn terms(text: &str, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    visit(text, lang, |t| out.push(t.to_string()), |_| {});
    out
}

/// 64-bit FNV-1a of a namespace byte and a string: stable across versions and platforms.
fn fnv1a(ns: u8, s: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&ns).chain(s) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The built-in embedder: a pure function of the text, its language and `dim`.
#[derive(Debug, Clone, Copy)]
pub struct HashEmbedder {
    pub dim: usize,
}

impl HashEmbedder {
    pub fn new(dim: usize) -> Result<Self> {
        if !(8..=65_536).contains(&dim) {
            return Err(Error::Argument(format!(
                "dim must be between 8 and 65536, got {dim}"
            )));
        }
        Ok(HashEmbedder { dim })
    }

    /// Writes the L2-normalised vector of `text` into `out` (length `dim`); an all-zero vector
    /// when the text has no terms.
    pub fn embed_into(&self, text: &str, lang: Lang, out: &mut [f32]) {
        out.iter_mut().for_each(|x| *x = 0.0);
        let mut counts: FxHashMap<u64, f32> = FxHashMap::default();
        let mut parts: Vec<String> = Vec::new();
        visit(
            text,
            lang,
            |t| *counts.entry(fnv1a(b't', t.as_bytes())).or_default() += 1.0,
            |p| parts.push(p.to_string()),
        );
        let mut buf = String::new();
        for p in &parts {
            let padded: Vec<char> = std::iter::once('^')
                .chain(p.chars())
                .chain(std::iter::once('$'))
                .collect();
            for w in padded.windows(3) {
                buf.clear();
                buf.extend(w);
                *counts.entry(fnv1a(b'g', buf.as_bytes())).or_default() += NGRAM_WEIGHT;
            }
        }
        let dim = self.dim as u64;
        // Fixed summation order: vectors are bit-identical from run to run.
        let mut counts: Vec<(u64, f32)> = counts.into_iter().collect();
        counts.sort_unstable_by_key(|&(h, _)| h);
        for (h, c) in counts {
            // Sublinear counts; the top bit of the hash picks the sign so collisions cancel
            // on average instead of piling up.
            let w = 1.0 + c.ln_1p();
            let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
            out[((h >> 1) % dim) as usize] += sign * w;
        }
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
    }

    /// Vectors of all texts, row-major (`texts.len() * dim`), computed in parallel.
    pub fn embed_batch(&self, texts: &[(&str, Lang)]) -> Vec<f32> {
        let mut out = vec![0.0f32; texts.len() * self.dim];
        out.par_chunks_mut(self.dim)
            .zip(texts.par_iter())
            .for_each(|(row, &(t, l))| self.embed_into(t, l, row));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_list_is_sorted_for_binary_search() {
        assert!(STOP.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn identifier_terms_have_whole_and_parts() {
        let t = terms("x = getUserById(items)", Lang::Python);
        assert_eq!(t, ["getuserbyid", "get", "user", "id", "items", "item"]);
    }

    #[test]
    fn comments_and_strings_are_words_keywords_dropped() {
        let t = terms(
            "def f():  # Parse the config_file\n    return 'Hello'",
            Lang::Python,
        );
        assert_eq!(
            t,
            [
                "parse",
                "pars",
                "config_file",
                "config",
                "file",
                "fil",
                "hello"
            ]
        );
    }

    #[test]
    fn stems() {
        for (a, b) in [
            ("items", "item"),
            ("parsed", "parse"),
            ("files", "file"),
            ("copies", "copy"),
            ("classes", "class"),
            ("loading", "load"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} / {b}");
        }
        assert_eq!(stem("class"), "class");
        assert_eq!(stem("bus"), "bus");
    }

    #[test]
    fn vectors_are_unit_deterministic_and_similar_for_related_text() {
        let e = HashEmbedder::new(256).unwrap();
        let docs = [
            ("def get_user_by_id(user_id): ...", Lang::Python),
            ("getUserById(userId)", Lang::JavaScript),
            ("matrix multiply transpose", Lang::Generic),
            ("", Lang::Generic),
        ];
        let v = e.embed_batch(&docs);
        let row = |i: usize| &v[i * 256..(i + 1) * 256];
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((dot(row(0), row(0)) - 1.0).abs() < 1e-5);
        assert!(dot(row(0), row(1)) > 0.5);
        assert!(dot(row(0), row(2)).abs() < 0.3);
        assert!(row(3).iter().all(|&x| x == 0.0));
        assert_eq!(v, e.embed_batch(&docs));
    }

    #[test]
    fn rejects_bad_dim() {
        assert!(HashEmbedder::new(0).is_err());
    }
}
