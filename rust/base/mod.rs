//! Base vocabularies: the tokenizers that models ship with (tiktoken rank files, byte-level
//! BPE `tokenizer.json`), encoded with their own ids, plus an optional identifier extension.
//!
//! Pipeline per text: added tokens (HF's non-normalized ones first, then normalized ones;
//! special ones only when the caller allows them) -> identifier extension (new ids after the
//! base vocabulary, matched at sub-identifier boundaries) -> pre-tokenizer (`split`) -> rank
//! BPE (`bpe`) through a per-thread piece cache. Decoding concatenates token bytes, so
//! `decode(encode(t)) == t` and every token covers a contiguous byte range of the text.
pub mod bpe;
pub mod classes;
pub mod extend;
pub mod split;

use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::lex::Lang;
use crate::parallel::each_doc;
use aho_corasick::{AhoCorasick, MatchKind};
use bpe::RankBpe;
use extend::Extension;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use split::Splitter;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// An added token of a `tokenizer.json` (or a tiktoken special token).
#[derive(Clone, Debug)]
pub struct Added {
    pub content: String,
    pub id: u32,
    /// Special tokens are produced only when the caller allows them.
    pub special: bool,
    /// HF matches non-normalized added tokens first, then normalized ones in the gaps.
    pub normalized: bool,
}

pub struct Spec {
    /// Base token bytes by id (None: an unused id).
    pub tokens: Vec<Option<Vec<u8>>>,
    /// Merges (left, right) in rank order, or None for a tiktoken rank file.
    pub merges: Option<Vec<(u32, u32)>>,
    /// A piece that is a whole token is emitted as that token (tiktoken; HF `ignore_merges`).
    pub whole_first: bool,
    pub splitter: Splitter,
    pub added: Vec<Added>,
    /// Identifier extension: token texts and their ids (after the base vocabulary).
    pub extension: Vec<(String, u32)>,
}

pub struct BaseTokenizer {
    uid: u64,
    bpe: RankBpe,
    splitter: Splitter,
    added: Vec<Added>,
    /// Indexes into `added` of the special tokens, in the order `allowed` flags refer to.
    specials: Vec<usize>,
    /// For each added token, its position in `specials` (None: not special).
    special_rank: Vec<Option<usize>>,
    /// (matcher, indexes into `added`) for non-normalized, then normalized added tokens.
    matchers: Vec<(AhoCorasick, Vec<usize>)>,
    ext: Option<Extension>,
    tokens: Vec<Option<Box<[u8]>>>,
    base_size: usize,
}

const CACHE_CAP: usize = 1 << 18;

#[derive(Default)]
struct Cache {
    owner: u64,
    pieces: FxHashMap<Box<[u8]>, Box<[u32]>>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache { owner: u64::MAX, ..Default::default() });
}

static NEXT_UID: AtomicU64 = AtomicU64::new(0);

impl BaseTokenizer {
    pub fn new(spec: Spec) -> Result<Self> {
        let bpe = RankBpe::new(&spec.tokens, spec.merges.as_deref(), spec.whole_first)
            .map_err(Error::Format)?;
        let base_size = spec.tokens.len();
        let mut tokens: Vec<Option<Box<[u8]>>> = spec
            .tokens
            .into_iter()
            .map(|t| t.map(Vec::into_boxed_slice))
            .collect();
        let mut put = |id: u32, bytes: &[u8], what: &str| -> Result<()> {
            let i = id as usize;
            if i >= tokens.len() {
                tokens.resize(i + 1, None);
            }
            // An added token may re-declare a base token with the same bytes (HF does this).
            match &tokens[i] {
                Some(old) if **old != *bytes => Err(Error::Format(format!(
                    "{what} {:?} reuses id {id} of another token",
                    String::from_utf8_lossy(bytes)
                ))),
                _ => {
                    tokens[i] = Some(bytes.into());
                    Ok(())
                }
            }
        };
        for a in &spec.added {
            if a.content.is_empty() {
                return Err(Error::Format(format!("added token {} is empty", a.id)));
            }
            put(a.id, a.content.as_bytes(), "added token")?;
        }
        for (text, id) in &spec.extension {
            put(*id, text.as_bytes(), "identifier token")?;
        }
        let specials: Vec<usize> = (0..spec.added.len())
            .filter(|&i| spec.added[i].special)
            .collect();
        let mut special_rank = vec![None; spec.added.len()];
        for (k, &i) in specials.iter().enumerate() {
            special_rank[i] = Some(k);
        }
        let mut matchers = Vec::new();
        for normalized in [false, true] {
            let idx: Vec<usize> = (0..spec.added.len())
                .filter(|&i| spec.added[i].normalized == normalized)
                .collect();
            if idx.is_empty() {
                continue;
            }
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(idx.iter().map(|&i| &spec.added[i].content))
                .map_err(|e| Error::Format(format!("added tokens: {e}")))?;
            matchers.push((ac, idx));
        }
        let ext = if spec.extension.is_empty() {
            None
        } else {
            Some(Extension::new(&spec.extension)?)
        };
        Ok(BaseTokenizer {
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            bpe,
            splitter: spec.splitter,
            added: spec.added,
            specials,
            special_rank,
            matchers,
            ext,
            tokens,
            base_size,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Ids below this are the base vocabulary's own.
    pub fn base_size(&self) -> usize {
        self.base_size
    }

    pub fn extension_size(&self) -> usize {
        self.ext.as_ref().map_or(0, Extension::len)
    }

    pub fn splitter(&self) -> &Splitter {
        &self.splitter
    }

    pub fn specials(&self) -> impl Iterator<Item = &Added> {
        self.specials.iter().map(|&i| &self.added[i])
    }

    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.tokens.get(id as usize)?.as_deref()
    }

    pub fn token_to_id(&self, bytes: &[u8]) -> Option<u32> {
        if let Some(id) = self.bpe.token_id(bytes) {
            return Some(id);
        }
        self.tokens
            .iter()
            .enumerate()
            .skip(self.base_size)
            .find(|(_, t)| t.as_deref() == Some(bytes))
            .map(|(i, _)| i as u32)
    }

    /// The pre-tokenizer's pieces of `text` (added tokens and extension not applied).
    pub fn pieces<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let mut out = Vec::new();
        self.splitter.split(text, |a, b| out.push(&text[a..b]));
        out
    }

    /// Ids of `text`; `allowed[k]` says whether the k-th special token may be produced.
    pub fn encode(&self, text: &str, allowed: &[bool]) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        CACHE.with(|c| {
            let mut cache = c.borrow_mut();
            if cache.owner != self.uid {
                cache.pieces.clear();
                cache.owner = self.uid;
            }
            self.encode_added(text, allowed, 0, &mut cache.pieces, &mut out);
        });
        out
    }

    pub fn encode_batch(&self, texts: &[&str], allowed: &[bool]) -> Vec<Vec<u32>> {
        each_doc(texts).map(|t| self.encode(t, allowed)).collect()
    }

    /// Added tokens of matcher `level` and above, then ordinary text in the gaps.
    fn encode_added(
        &self,
        text: &str,
        allowed: &[bool],
        level: usize,
        cache: &mut FxHashMap<Box<[u8]>, Box<[u32]>>,
        out: &mut Vec<u32>,
    ) {
        let Some((ac, idx)) = self.matchers.get(level) else {
            return self.encode_ordinary(text, cache, out);
        };
        let mut last = 0;
        for m in ac.find_iter(text) {
            let i = idx[m.pattern().as_usize()];
            if let Some(k) = self.special_rank[i] {
                if !allowed.get(k).copied().unwrap_or(false) {
                    continue;
                }
            }
            let a = &self.added[i];
            self.encode_added(&text[last..m.start()], allowed, level + 1, cache, out);
            out.push(a.id);
            last = m.end();
        }
        self.encode_added(&text[last..], allowed, level + 1, cache, out);
    }

    fn encode_ordinary(
        &self,
        text: &str,
        cache: &mut FxHashMap<Box<[u8]>, Box<[u32]>>,
        out: &mut Vec<u32>,
    ) {
        match &self.ext {
            None => self.encode_plain(text, cache, out),
            Some(ext) => {
                let mut last = 0;
                ext.for_each_match(text, |start, end, id| {
                    self.encode_plain(&text[last..start], cache, out);
                    out.push(id);
                    last = end;
                });
                self.encode_plain(&text[last..], cache, out);
            }
        }
    }

    /// The base vocabulary alone: pre-tokenizer, then BPE per piece through the cache.
    pub(crate) fn encode_plain(
        &self,
        text: &str,
        cache: &mut FxHashMap<Box<[u8]>, Box<[u32]>>,
        out: &mut Vec<u32>,
    ) {
        self.splitter.split(text, |a, b| {
            let piece = &text.as_bytes()[a..b];
            if piece.len() == 1 {
                return self.bpe.encode(piece, out);
            }
            // Most code pieces are whole tokens: one lookup, nothing cached.
            if let Some(id) = self.bpe.whole_token(piece) {
                return out.push(id);
            }
            if let Some(ids) = cache.get(piece) {
                return out.extend_from_slice(ids);
            }
            let start = out.len();
            self.bpe.encode(piece, out);
            if cache.len() >= CACHE_CAP {
                cache.clear();
            }
            cache.insert(piece.into(), out[start..].into());
        });
    }

    /// Number of base tokens of `text` (no added tokens, no extension).
    pub fn count_plain(&self, text: &str) -> usize {
        let mut out = Vec::new();
        let mut cache = FxHashMap::default();
        self.encode_plain(text, &mut cache, &mut out);
        out.len()
    }
}

impl Encoder for BaseTokenizer {
    fn by_language(&self) -> bool {
        false
    }

    fn encode_text(&self, text: &str, _lang: Lang, allowed: &[bool]) -> Vec<u32> {
        self.encode(text, allowed)
    }

    fn encode_docs(&self, docs: &[(&str, Lang)], allowed: &[bool]) -> Vec<Vec<u32>> {
        let texts: Vec<&str> = docs.iter().map(|d| d.0).collect();
        self.encode_batch(&texts, allowed)
    }

    fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        BaseTokenizer::token_bytes(self, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use split::{Known, Stage};

    pub(crate) fn toy(extension: Vec<(String, u32)>) -> BaseTokenizer {
        let mut tokens: Vec<Option<Vec<u8>>> = (0..=255u8).map(|b| Some(vec![b])).collect();
        for t in [" g", " ge", " get", "Us", "er"] {
            tokens.push(Some(t.as_bytes().to_vec()));
        }
        BaseTokenizer::new(Spec {
            tokens,
            merges: None,
            whole_first: true,
            splitter: Splitter::new(vec![Stage::Known(Known::Cl100k {
                max_digits: 3,
                end_whole: true,
            })]),
            added: vec![Added {
                content: "<|eot|>".into(),
                id: 300,
                special: true,
                normalized: false,
            }],
            extension,
        })
        .unwrap()
    }

    #[test]
    fn encodes_losslessly_with_specials_only_when_allowed() {
        let tok = toy(Vec::new());
        let text = "x = getUser()<|eot|> ok";
        let ids = tok.encode(text, &[]);
        assert!(!ids.contains(&300));
        assert_eq!(tok.decode_bytes(&ids).unwrap(), text.as_bytes());
        let ids = tok.encode(text, &[true]);
        assert!(ids.contains(&300));
        assert_eq!(tok.decode_bytes(&ids).unwrap(), text.as_bytes());
        assert_eq!(tok.vocab_size(), 301);
    }

    #[test]
    fn extension_ids_come_after_the_base() {
        let tok = toy(vec![(" getUser".into(), 301)]);
        let text = "x = getUser() + getUsers";
        let ids = tok.encode(text, &[]);
        assert_eq!(ids.iter().filter(|&&i| i == 301).count(), 1);
        assert_eq!(tok.decode_bytes(&ids).unwrap(), text.as_bytes());
        assert_eq!(tok.base_size(), 261);
    }
}
