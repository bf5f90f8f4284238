//! The tokenizer: scanner -> line chunks -> identifier-vocabulary symbols -> BPE; decode; the
//! versioned JSON file format; training.
//!
//! Ids: 0..256 are bytes, then identifier-vocabulary entries, then BPE merges, then special
//! tokens. Special tokens are only produced when the caller allows them, so ordinary text
//! that happens to contain `<|endoftext|>` is encoded as text.
use crate::bpe::Bpe;
use crate::bpe_train::{self, Word};
use crate::chunk::{self, MAX_CHUNK};
use crate::error::{Error, Result};
use crate::lex::{Lang, Scanner};
use crate::vocab::{IdentifierVocab, Match};
use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

pub const FORMAT: &str = "codemill-tokenizer/1";
pub const DEFAULT_SPECIALS: [&str; 6] = [
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|file_sep|>",
    "<|repo_name|>",
];

/// Chunk -> ids cache entries per thread; cleared when full (code repeats lines a lot).
const CACHE_CAP: usize = 1 << 17;

pub struct Tokenizer {
    uid: u64,
    vocab: IdentifierVocab,
    bpe: Bpe,
    specials: Vec<String>,
    special_matcher: Option<AhoCorasick>,
    token_offsets: Vec<u32>,
    token_data: Vec<u8>,
    bytes_to_id: FxHashMap<Box<[u8]>, u32>,
    metadata: serde_json::Value,
}

pub struct TrainConfig {
    pub vocab_size: usize,
    pub identifier_vocab_size: usize,
    pub min_frequency: u64,
    pub special_tokens: Vec<String>,
    pub metadata: serde_json::Value,
}

struct ChunkCache {
    owner: u64,
    map: FxHashMap<Box<[u8]>, Box<[u32]>>,
}

thread_local! {
    static CACHE: RefCell<ChunkCache> =
        RefCell::new(ChunkCache { owner: u64::MAX, map: FxHashMap::default() });
}

static NEXT_UID: AtomicU64 = AtomicU64::new(0);

/// The symbols of one chunk before BPE: bytes, with identifier-vocabulary matches as one symbol.
fn chunk_symbols(
    vocab: &IdentifierVocab,
    chunk: &str,
    idents: &[(u16, u16)],
    syms: &mut Vec<u32>,
    matches: &mut Vec<Match>,
) {
    syms.clear();
    let bytes = chunk.as_bytes();
    let mut pos = 0;
    if !vocab.is_empty() {
        for &(a, b) in idents {
            let (a, b) = (a as usize, b as usize);
            matches.clear();
            vocab.find(&chunk[a..b], matches);
            for m in matches.iter() {
                syms.extend(bytes[pos..a + m.start].iter().map(|&x| u32::from(x)));
                syms.push(256 + m.entry);
                pos = a + m.end;
            }
        }
    }
    syms.extend(bytes[pos..].iter().map(|&x| u32::from(x)));
}

impl Tokenizer {
    pub fn from_parts(
        identifiers: Vec<String>,
        merges: Vec<(u32, u32)>,
        specials: Vec<String>,
        metadata: serde_json::Value,
    ) -> Result<Self> {
        let vocab = IdentifierVocab::new(identifiers)?;
        let first_merge = 256 + vocab.len() as u32;
        let mut token_offsets = Vec::with_capacity(first_merge as usize + merges.len() + specials.len() + 1);
        let mut token_data = Vec::new();
        token_offsets.push(0u32);
        for b in 0..=255u8 {
            token_data.push(b);
            token_offsets.push(token_data.len() as u32);
        }
        for e in vocab.entries() {
            token_data.extend_from_slice(e.as_bytes());
            token_offsets.push(token_data.len() as u32);
        }
        for (k, &(a, b)) in merges.iter().enumerate() {
            let limit = first_merge + k as u32;
            if a >= limit || b >= limit {
                return Err(Error::Format(format!(
                    "merge {k} ({a}, {b}) refers to a token that does not exist yet"
                )));
            }
            for id in [a, b] {
                let (s, e) = (token_offsets[id as usize] as usize, token_offsets[id as usize + 1] as usize);
                token_data.extend_from_within(s..e);
            }
            token_offsets.push(token_data.len() as u32);
        }
        let mut seen = rustc_hash::FxHashSet::default();
        for s in &specials {
            if s.is_empty() || !seen.insert(s.as_str()) {
                return Err(Error::Format(format!("special token {s:?} is empty or repeated")));
            }
            token_data.extend_from_slice(s.as_bytes());
            token_offsets.push(token_data.len() as u32);
        }
        let special_matcher = if specials.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&specials)
                    .map_err(|e| Error::Format(format!("special tokens: {e}")))?,
            )
        };
        let n_tokens = token_offsets.len() - 1;
        let first_special = n_tokens - specials.len();
        let mut bytes_to_id: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        for id in 0..n_tokens {
            let t = &token_data[token_offsets[id] as usize..token_offsets[id + 1] as usize];
            if id >= first_special {
                bytes_to_id.insert(t.into(), id as u32);
            } else {
                bytes_to_id.entry(t.into()).or_insert(id as u32);
            }
        }
        Ok(Tokenizer {
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            vocab,
            bpe: Bpe::new(merges, first_merge),
            specials,
            special_matcher,
            token_offsets,
            token_data,
            bytes_to_id,
            metadata,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.token_offsets.len() - 1
    }

    pub fn identifier_vocab_size(&self) -> usize {
        self.vocab.len()
    }

    pub fn num_merges(&self) -> usize {
        self.bpe.merges().len()
    }

    /// The learned merges in rank order (merge `k` creates id `256 + identifiers + k`).
    pub fn merges(&self) -> &[(u32, u32)] {
        self.bpe.merges()
    }

    pub fn specials(&self) -> &[String] {
        &self.specials
    }

    pub fn special_id(&self, index: usize) -> u32 {
        (self.vocab_size() - self.specials.len() + index) as u32
    }

    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }

    /// Byte strings of the BPE-reachable tokens (bytes, identifiers, merges) with their ids,
    /// for building peers' encoders (tiktoken) over the same vocabulary.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        if i + 1 >= self.token_offsets.len() {
            return None;
        }
        Some(&self.token_data[self.token_offsets[i] as usize..self.token_offsets[i + 1] as usize])
    }

    pub fn token_to_id(&self, bytes: &[u8]) -> Option<u32> {
        self.bytes_to_id.get(bytes).copied()
    }

    /// Encodes `text`; `allowed[i]` says whether special token `i` may be produced.
    pub fn encode(&self, text: &str, lang: Lang, allowed: &[bool]) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_into(text, lang, allowed, &mut out);
        out
    }

    pub fn encode_into(&self, text: &str, lang: Lang, allowed: &[bool], out: &mut Vec<u32>) {
        match &self.special_matcher {
            Some(ac) if allowed.iter().any(|&a| a) => {
                let mut last = 0;
                for m in ac.find_iter(text) {
                    let i = m.pattern().as_usize();
                    if allowed.get(i).copied().unwrap_or(false) {
                        self.encode_ordinary(&text[last..m.start()], lang, out);
                        out.push(self.special_id(i));
                        last = m.end();
                    }
                }
                self.encode_ordinary(&text[last..], lang, out);
            }
            _ => self.encode_ordinary(text, lang, out),
        }
    }

    /// Encodes text in which special tokens are ordinary text.
    pub fn encode_ordinary(&self, text: &str, lang: Lang, out: &mut Vec<u32>) {
        CACHE.with(|cell| {
            let mut cache = cell.borrow_mut();
            if cache.owner != self.uid {
                cache.map.clear();
                cache.owner = self.uid;
            }
            let use_idents = !self.vocab.is_empty();
            let mut key: Vec<u8> = Vec::with_capacity(MAX_CHUNK + 64);
            let mut syms: Vec<u32> = Vec::with_capacity(MAX_CHUNK);
            let mut matches: Vec<Match> = Vec::new();
            chunk::for_each_chunk(text, lang, |s, e, idents| {
                let piece = &text[s..e];
                // The key holds where identifiers are: the same bytes inside a string
                // literal are not carved into identifier tokens.
                key.clear();
                if use_idents {
                    key.extend_from_slice(&(idents.len() as u16).to_le_bytes());
                    for &(a, b) in idents {
                        key.extend_from_slice(&a.to_le_bytes());
                        key.extend_from_slice(&b.to_le_bytes());
                    }
                }
                key.extend_from_slice(piece.as_bytes());
                if let Some(ids) = cache.map.get(key.as_slice()) {
                    out.extend_from_slice(ids);
                    return;
                }
                chunk_symbols(&self.vocab, piece, idents, &mut syms, &mut matches);
                self.bpe.merge(&mut syms);
                out.extend_from_slice(&syms);
                if cache.map.len() >= CACHE_CAP {
                    cache.map.clear();
                }
                cache.map.insert(key.as_slice().into(), syms.as_slice().into());
            });
        });
    }

    pub fn encode_batch(&self, texts: &[(&str, Lang)], allowed: &[bool]) -> Vec<Vec<u32>> {
        texts.par_iter().map(|&(t, l)| self.encode(t, l, allowed)).collect()
    }

    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            match self.token_bytes(id) {
                Some(b) => out.extend_from_slice(b),
                None => return Err(Error::InvalidTokenId(id)),
            }
        }
        Ok(out)
    }

    pub fn to_json(&self) -> String {
        let v = serde_json::json!({
            "format": FORMAT,
            "pretokenizer": {"chunks": "line", "max_chunk_bytes": MAX_CHUNK},
            "special_tokens": self.specials,
            "identifiers": self.vocab.entries(),
            "merges": self.bpe.merges(),
            "metadata": self.metadata,
        });
        v.to_string()
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Format(format!("not JSON: {e}")))?;
        let format = v.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != FORMAT {
            return Err(Error::Format(if format.starts_with("codemill-tokenizer/") {
                format!("unsupported format version {format:?}; this codemill reads {FORMAT:?}")
            } else {
                format!("not a codemill tokenizer (format is {format:?}, expected {FORMAT:?})")
            }));
        }
        let max_chunk = v.pointer("/pretokenizer/max_chunk_bytes").and_then(|m| m.as_u64());
        if max_chunk != Some(MAX_CHUNK as u64) {
            return Err(Error::Format(format!(
                "pretokenizer.max_chunk_bytes is {max_chunk:?}; this codemill uses {MAX_CHUNK}"
            )));
        }
        fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, name: &str) -> Result<T> {
            let f = v.get(name).ok_or_else(|| Error::Format(format!("missing field {name:?}")))?;
            T::deserialize(f).map_err(|e| Error::Format(format!("field {name:?}: {e}")))
        }
        Tokenizer::from_parts(
            field(&v, "identifiers")?,
            field(&v, "merges")?,
            field(&v, "special_tokens")?,
            v.get("metadata").cloned().unwrap_or(serde_json::Value::Null),
        )
    }

    /// Trains identifier vocabulary and BPE merges on `docs`. Deterministic for given inputs.
    pub fn train(docs: &[(&str, Lang)], cfg: TrainConfig) -> Result<Self> {
        let reserved = 256 + cfg.special_tokens.len();
        if cfg.vocab_size <= reserved {
            return Err(Error::Argument(format!(
                "vocab_size {} leaves no room: 256 byte tokens and {} special tokens need {reserved}",
                cfg.vocab_size,
                cfg.special_tokens.len()
            )));
        }
        let room = cfg.vocab_size - reserved;
        let ident_size = cfg.identifier_vocab_size.min(room);
        let min_count = cfg.min_frequency.max(1);

        let ident_counts = if ident_size > 0 {
            docs.par_iter()
                .fold(FxHashMap::<String, u64>::default, |mut m, &(text, lang)| {
                    for p in Scanner::new(text, lang) {
                        if p.kind.is_identifier_like() {
                            let s = p.text(text);
                            match m.get_mut(s) {
                                Some(c) => *c += 1,
                                None => {
                                    m.insert(s.to_string(), 1);
                                }
                            }
                        }
                    }
                    m
                })
                .reduce(FxHashMap::default, merge_counts)
        } else {
            FxHashMap::default()
        };
        let entries = if ident_size > 0 {
            // Rank candidates by the tokens they save: occurrences x (tokens a plain BPE of
            // the same size needs for them - 1). Measured better than raw frequency.
            let empty = IdentifierVocab::new(Vec::new())?;
            let mut words = count_words(docs, &empty);
            let plain = Bpe::new(bpe_train::train(&mut words, 256, room, min_count), 256);
            drop(words);
            IdentifierVocab::select_by(&ident_counts, ident_size, min_count, |s, c| {
                let mut syms: Vec<u32> = s.bytes().map(u32::from).collect();
                plain.merge(&mut syms);
                c * (syms.len() as u64 - 1)
            })
        } else {
            Vec::new()
        };
        let vocab = IdentifierVocab::new(entries)?;
        drop(ident_counts);

        let mut words = count_words(docs, &vocab);
        let first_merge = 256 + vocab.len() as u32;
        let merges = bpe_train::train(&mut words, first_merge, room - vocab.len(), min_count);
        let identifiers = vocab.entries().to_vec();
        Tokenizer::from_parts(identifiers, merges, cfg.special_tokens, cfg.metadata)
    }
}

/// Distinct chunk symbol sequences of `docs` with their counts, in a fixed order so training is
/// reproducible whatever the thread interleaving.
fn count_words(docs: &[(&str, Lang)], vocab: &IdentifierVocab) -> Vec<Word> {
    let word_counts = docs
        .par_iter()
        .fold(FxHashMap::<Vec<u32>, u64>::default, |mut m, &(text, lang)| {
            let mut syms = Vec::new();
            let mut matches = Vec::new();
            chunk::for_each_chunk(text, lang, |s, e, idents| {
                chunk_symbols(vocab, &text[s..e], idents, &mut syms, &mut matches);
                match m.get_mut(&syms) {
                    Some(c) => *c += 1,
                    None => {
                        m.insert(syms.clone(), 1);
                    }
                }
            });
            m
        })
        .reduce(FxHashMap::default, merge_counts);
    let mut words: Vec<Word> = word_counts.into_iter().map(|(syms, count)| Word { syms, count }).collect();
    words.par_sort_unstable_by(|a, b| a.syms.cmp(&b.syms));
    words
}

fn merge_counts<K: std::hash::Hash + Eq>(
    mut a: FxHashMap<K, u64>,
    b: FxHashMap<K, u64>,
) -> FxHashMap<K, u64> {
    if a.len() < b.len() {
        return merge_counts(b, a);
    }
    for (k, v) in b {
        *a.entry(k).or_default() += v;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "def get_user(user_id):\n    return self.users[user_id]\n\n\
        class UserStore:\n    def __init__(self):\n        self.users = {}\n\n    \
        def add_user(self, user):\n        self.users[user.user_id] = user\n";

    fn trained() -> Tokenizer {
        let docs: Vec<(&str, Lang)> = (0..20).map(|_| (SAMPLE, Lang::Python)).collect();
        Tokenizer::train(
            &docs,
            TrainConfig {
                vocab_size: 400,
                identifier_vocab_size: 16,
                min_frequency: 2,
                special_tokens: DEFAULT_SPECIALS.iter().map(|s| s.to_string()).collect(),
                metadata: serde_json::Value::Null,
            },
        )
        .unwrap()
    }

    fn roundtrip(tok: &Tokenizer, text: &str, lang: Lang) {
        let ids = tok.encode(text, lang, &[]);
        assert_eq!(tok.decode_bytes(&ids).unwrap(), text.as_bytes(), "{text:?}");
    }

    #[test]
    fn round_trips_and_compresses() {
        let tok = trained();
        assert!(tok.identifier_vocab_size() > 0 && tok.num_merges() > 0);
        let ids = tok.encode(SAMPLE, Lang::Python, &[]);
        assert!(ids.len() * 4 < SAMPLE.len(), "{} tokens for {} bytes", ids.len(), SAMPLE.len());
        for text in [SAMPLE, "", "x", "metadata = user_data\n", "\u{1F600} é\r\n\t", "<|endoftext|>"] {
            for lang in [Lang::Python, Lang::Rust, Lang::Generic] {
                roundtrip(&tok, text, lang);
            }
        }
    }

    #[test]
    fn specials_only_when_allowed() {
        let tok = trained();
        let text = "a<|endoftext|>b";
        let eot = tok.special_id(0);
        assert!(!tok.encode(text, Lang::Python, &[]).contains(&eot));
        let ids = tok.encode(text, Lang::Python, &[true]);
        assert!(ids.contains(&eot));
        assert_eq!(tok.decode_bytes(&ids).unwrap(), text.as_bytes());
        assert_eq!(tok.token_to_id(b"<|endoftext|>"), Some(eot));
    }

    #[test]
    fn file_format_round_trip_and_errors() {
        let tok = trained();
        let again = Tokenizer::from_json(&tok.to_json()).unwrap();
        assert_eq!(again.encode(SAMPLE, Lang::Python, &[]), tok.encode(SAMPLE, Lang::Python, &[]));
        assert!(matches!(Tokenizer::from_json("{"), Err(Error::Format(_))));
        let wrong = tok.to_json().replace(FORMAT, "codemill-tokenizer/9");
        let err = Tokenizer::from_json(&wrong).err().unwrap().to_string();
        assert!(err.contains("unsupported format version"), "{err}");
        let bad = r#"{"format":"codemill-tokenizer/1","pretokenizer":{"max_chunk_bytes":256},
            "identifiers":[],"merges":[[300,1]],"special_tokens":[]}"#;
        assert!(matches!(Tokenizer::from_json(bad), Err(Error::Format(_))));
        assert_eq!(tok.decode_bytes(&[u32::MAX]), Err(Error::InvalidTokenId(u32::MAX)));
    }

    #[test]
    fn training_is_deterministic() {
        assert_eq!(trained().to_json(), trained().to_json());
    }
}
