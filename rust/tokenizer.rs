//! The tokenizer: scanner -> line chunks -> identifier-vocabulary symbols -> two-stage BPE;
//! decode; the versioned JSON file format; training.
//!
//! BPE runs in two stages. Stage 1 (`merges`) merges inside each scanner piece; pieces repeat
//! so much that a per-piece cache almost always answers. Stage 2 (`line_merges`) merges across
//! the pieces of a line (`self` `.` -> `self.`, `\n    ` `return` -> `\n    return`), starting
//! from a dozen stage-1 tokens instead of ~50 bytes. Training runs the same two stages, so the
//! encoder is exact, and the split costs little compression (see README) for ~4x speed.
//!
//! Files of format `/2` (what training writes now, and the bundled tokenizer) keep the same
//! vocabulary but encode by longest match with one token of lookahead (`segment.rs`): 1.8–3.6%
//! fewer tokens and about twice the speed on held-back code. Files of format `/1` still encode
//! by replaying the merges, to the same ids as before.
//!
//! Ids: 0..256 are bytes, then identifier-vocabulary entries, then stage-1 merges, then
//! stage-2 merges, then special tokens. Special tokens are only produced when the caller
//! allows them, so ordinary text that contains `<|endoftext|>` is encoded as text.
use crate::bloom::Bloom;
use crate::bpe::Bpe;
use crate::bpe_train::{self, Word};
use crate::cache::{hash_bytes, hash_u32s, short_key, SeqCache, ShortCache, SHORT_MAX};
use crate::chunk::{self, ChunkSink, Part, MAX_CHUNK};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::lex::{Lang, Scanner};
use crate::parallel::each_doc;
use crate::segment::{self, Segmenter};
use crate::vocab::{IdentifierVocab, Match};
use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The format training writes: `/2` plus the list of tokens whose second candidate is weighed.
/// `FORMAT_LOOKAHEAD` and `FORMAT_MERGES` files are still read (and written back as such).
pub const FORMAT: &str = "codemill-tokenizer/3";
/// Every second candidate weighed.
pub const FORMAT_LOOKAHEAD: &str = "codemill-tokenizer/2";
pub const FORMAT_MERGES: &str = "codemill-tokenizer/1";

/// How a tokenizer cuts text into its vocabulary, fixed by its file's format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `/1`: replay the two stages of merges over scanner pieces and lines.
    Merges,
    /// `/2`: longest match with one token of lookahead over lines (`segment.rs`).
    Lookahead,
    /// `/3`: as `/2`, the lookahead taken only after the longest tokens a list names (those
    /// whose second candidate won on the training text); made by `Tokenizer::weigh_only`.
    Weighed,
}

impl Encoding {
    pub fn format(self) -> &'static str {
        match self {
            Encoding::Merges => FORMAT_MERGES,
            Encoding::Lookahead => FORMAT_LOOKAHEAD,
            Encoding::Weighed => FORMAT,
        }
    }

    fn max_chunk(self) -> usize {
        match self {
            Encoding::Merges => MAX_CHUNK,
            Encoding::Lookahead | Encoding::Weighed => segment::MAX_CHUNK,
        }
    }
}
pub const DEFAULT_SPECIALS: [&str; 6] = [
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|file_sep|>",
    "<|repo_name|>",
];

pub struct Tokenizer {
    uid: u64,
    /// `Some` for `Encoding::Lookahead` and `Encoding::Weighed`.
    segmenter: Option<Segmenter>,
    /// `Encoding::Weighed`: the ids after which the second candidate is weighed, ascending.
    weighed: Option<Vec<u32>>,
    vocab: IdentifierVocab,
    piece_bpe: Bpe,
    line_bpe: Bpe,
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
    /// Share of the merges learned across pieces (stage 2); the rest are learned inside pieces.
    pub line_merge_fraction: f64,
    pub min_frequency: u64,
    pub special_tokens: Vec<String>,
    pub metadata: serde_json::Value,
}

/// Per-thread caches (bounded, see `cache.rs`): stage-1 tokens of pieces, and ids of runs:
/// the stretches of a chunk's stage-1 tokens between boundaries no stage-2 merge can cross
/// (see `Bpe::can_join`). Runs repeat far more than whole lines (a line seen for the first
/// time is mostly made of runs seen before), and merging them one by one gives exactly the
/// ids of merging the whole chunk. A cache of whole chunks was dropped: keying it cost a copy
/// and a hash of every line, and most lines of a first pass miss it; without it the first
/// pass was 12% faster and the steady state (a 4 MB input encoded again) 17% faster.
#[derive(Default)]
struct Caches {
    owner: u64,
    pieces: PieceCache,
    runs: SeqCache<u32>,
    /// `LineEncoder`'s working buffers, kept from call to call: a text between two special
    /// tokens or a short document of a batch is one call each, and allocating them (~22 KB)
    /// per call would cost more than encoding it.
    buffers: LineBuffers,
}

/// See `LineEncoder`'s fields of the same names.
#[derive(Default)]
struct LineBuffers {
    pending: Vec<PieceKey>,
    syms: Vec<u32>,
    runs: Vec<Run>,
    due_syms: Vec<u32>,
    due_runs: Vec<Run>,
    scratch: Vec<u32>,
}

impl LineBuffers {
    /// Empty, as every call starts (one that panicked may have left them filled).
    fn clear(&mut self) {
        self.pending.clear();
        self.syms.clear();
        self.runs.clear();
        self.due_syms.clear();
        self.due_runs.clear();
    }
}

thread_local! {
    static CACHES: RefCell<Caches> = RefCell::new(Caches { owner: u64::MAX, ..Default::default() });
}

static NEXT_UID: AtomicU64 = AtomicU64::new(0);

/// Stage-1 symbols of one piece: bytes, with identifier-vocabulary matches as one symbol.
fn piece_symbols(
    vocab: &IdentifierVocab,
    piece: &str,
    ident: bool,
    syms: &mut Vec<u32>,
    matches: &mut Vec<Match>,
) {
    syms.clear();
    let bytes = piece.as_bytes();
    let mut pos = 0;
    if ident && !vocab.is_empty() {
        matches.clear();
        vocab.find(piece, matches);
        for m in matches.iter() {
            syms.extend(bytes[pos..m.start].iter().map(|&x| u32::from(x)));
            syms.push(256 + m.entry);
            pos = m.end;
        }
    }
    syms.extend(bytes[pos..].iter().map(|&x| u32::from(x)));
}

/// Stage-1 tokens of pieces, keyed by their bytes and whether the piece is an identifier (the
/// same bytes match the identifier vocabulary only as an identifier). Short pieces of up to
/// three tokens, nearly all, live in `short`, whose slots hold the key itself; the rest in
/// `long`, one cache per kind so that the key is the piece itself and needs no copy.
struct PieceCache {
    short: ShortCache,
    long: [SeqCache<u8>; 2],
    /// The short pieces in each `long` cache (those of more than three tokens). A short piece
    /// that misses `short` is nearly always new (72k of 91k on a first pass of 9 MB), and with
    /// its bit clear it skips a probe of `long`, a likely cache miss: first pass +2.3% (on and
    /// off in alternate passes inside one process, 54 pairs, twice). Sized for ~8k keys: past
    /// that more absent keys pass (never a wrong answer); it restarts with its cache.
    short_in_long: [Bloom; 2],
}

impl Default for PieceCache {
    fn default() -> Self {
        PieceCache {
            short: ShortCache::default(),
            long: Default::default(),
            short_in_long: [Bloom::new(1 << 13), Bloom::new(1 << 13)],
        }
    }
}

impl PieceCache {
    fn clear(&mut self) {
        self.short.clear();
        self.long.iter_mut().for_each(SeqCache::clear);
        self.short_in_long.iter_mut().for_each(Bloom::clear);
    }
}

/// A short piece's key for `PieceCache::short_in_long` (the filter of its `long`, by `ident`).
#[inline(always)]
fn short_bloom_key(k: (u64, u64), len: usize) -> u64 {
    k.0 ^ k.1.rotate_left(23) ^ (len as u64).rotate_left(47)
}

/// Encodes pieces with stage-1 BPE through a cache; the scratch buffers are reused.
struct PieceEncoder<'a> {
    vocab: &'a IdentifierVocab,
    bpe: &'a Bpe,
    syms: Vec<u32>,
    matches: Vec<Match>,
}

impl<'a> PieceEncoder<'a> {
    fn new(vocab: &'a IdentifierVocab, bpe: &'a Bpe) -> Self {
        PieceEncoder {
            vocab,
            bpe,
            syms: Vec::with_capacity(64),
            matches: Vec::new(),
        }
    }

    /// Appends the stage-1 tokens of every part of `chunk` to `out`.
    fn encode_parts(
        &mut self,
        chunk: &str,
        parts: &[Part],
        caches: &mut PieceCache,
        out: &mut Vec<u32>,
    ) {
        let mut at = 0;
        for p in parts {
            self.encode_piece(chunk, at, p.end as usize, p.ident, caches, out);
            at = p.end as usize;
        }
    }

    /// Appends the stage-1 tokens of the piece `text[start..end]` to `out`.
    #[inline(always)]
    fn encode_piece(
        &mut self,
        text: &str,
        start: usize,
        end: usize,
        ident: bool,
        caches: &mut PieceCache,
        out: &mut Vec<u32>,
    ) {
        let key = self.key(text, start, end, ident, caches);
        self.encode_keyed(text, key, caches, out);
    }

    /// Where the piece `text[start..end]` is looked up; starts loading that cache line.
    #[inline(always)]
    fn key(
        &self,
        text: &str,
        start: usize,
        end: usize,
        ident: bool,
        caches: &PieceCache,
    ) -> PieceKey {
        // Bytes, not `&str`: slicing a str checks char boundaries, per piece; only a cache
        // miss needs the piece as text (pieces end on char boundaries).
        let key = &text.as_bytes()[start..end];
        let mut k = PieceKey {
            start,
            end,
            ident,
            at: Lookup::Itself,
        };
        if key.len() == 1 && (!ident || self.vocab.is_empty()) {
            // A one-byte piece (most operators, delimiters, single spaces) is itself.
            return k;
        }
        if (2..=SHORT_MAX).contains(&key.len()) {
            let sk = short_key(key);
            caches.short.prefetch(sk, key.len(), ident);
            k.at = Lookup::Short(sk);
        } else {
            let h = hash_bytes(key);
            caches.long[usize::from(ident)].prefetch(h);
            k.at = Lookup::Long(h);
        }
        k
    }

    /// Appends the stage-1 tokens of the piece `key` describes to `out`.
    #[inline(always)]
    fn encode_keyed(
        &mut self,
        text: &str,
        key: PieceKey,
        caches: &mut PieceCache,
        out: &mut Vec<u32>,
    ) {
        let PieceKey {
            start,
            end,
            ident,
            at,
        } = key;
        let bytes = &text.as_bytes()[start..end];
        let (short, sk, h) = match at {
            Lookup::Itself => {
                out.push(u32::from(bytes[0]));
                return;
            }
            Lookup::Short(sk) => {
                if caches.short.get(sk, bytes.len(), ident, out) {
                    return;
                }
                (true, sk, hash_bytes(bytes))
            }
            Lookup::Long(h) => (false, (0, 0), h),
        };
        let (cache, filter) = (
            &mut caches.long[usize::from(ident)],
            &mut caches.short_in_long[usize::from(ident)],
        );
        if !short || filter.may_contain(short_bloom_key(sk, bytes.len())) {
            if let Some(ids) = cache.get(h, bytes) {
                // Most pieces are one token: a push beats a memcpy call.
                match *ids {
                    [x] => out.push(x),
                    _ => out.extend_from_slice(ids),
                }
                return;
            }
        }
        piece_symbols(
            self.vocab,
            &text[start..end],
            ident,
            &mut self.syms,
            &mut self.matches,
        );
        self.bpe.merge(&mut self.syms);
        out.extend_from_slice(&self.syms);
        if short && self.syms.len() <= 3 {
            caches.short.insert(sk, bytes.len(), ident, &self.syms);
        } else {
            cache.insert(h, bytes, &self.syms);
            if cache.len() == 1 {
                filter.clear(); // the cache started again (it clears itself when full)
            }
            if short {
                filter.insert(short_bloom_key(sk, bytes.len()));
            }
        }
    }
}

/// A piece and where its stage-1 tokens are cached (see `PieceEncoder::key`).
#[derive(Clone, Copy)]
struct PieceKey {
    start: usize,
    end: usize,
    ident: bool,
    at: Lookup,
}

#[derive(Clone, Copy)]
enum Lookup {
    /// A one-byte piece, its own token.
    Itself,
    /// In `PieceCache::short` under this `short_key` (or, past three tokens, in `long`).
    Short((u64, u64)),
    /// In `PieceCache::long` under this hash.
    Long(u32),
}

/// The encoder of one text as a `ChunkSink`: stage 1 of each chunk when it ends, and stage 2
/// one chunk later (see `end_chunk`).
struct LineEncoder<'a, 'c> {
    text: &'a str,
    pieces: PieceEncoder<'a>,
    line_bpe: &'a Bpe,
    piece_cache: &'c mut PieceCache,
    run_cache: &'c mut SeqCache<u32>,
    /// `pending`: the pieces of the chunk in progress, keyed as they come (their cache lines
    /// loading meanwhile) and encoded at its end: a line's ~13 lookups overlap instead of
    /// waiting on memory one after another. `syms`, `runs`: stage-1 tokens of the chunk that
    /// ended last, and its runs, for stage 2; `due_syms`, `due_runs`: the same for the chunk
    /// before it, whose stage 2 is due. `scratch`: stage 2's working copy of a run that missed
    /// the cache.
    b: &'c mut LineBuffers,
    out: &'c mut Vec<u32>,
}

impl ChunkSink for LineEncoder<'_, '_> {
    #[inline(always)]
    fn piece(&mut self, start: usize, end: usize, ident: bool) {
        let key = self
            .pieces
            .key(self.text, start, end, ident, self.piece_cache);
        self.b.pending.push(key);
    }

    /// Stage 1 of this chunk and its runs (which starts loading their cache slots), then stage
    /// 2 of the chunk before it: the slots of one chunk load while the next is scanned and
    /// looked up, rather than each stage 2 waiting on memory at once.
    fn end_chunk(&mut self, _start: usize, _end: usize) {
        let b = &mut *self.b;
        for &key in &b.pending {
            self.pieces
                .encode_keyed(self.text, key, self.piece_cache, &mut b.syms);
        }
        b.pending.clear();
        split_runs(self.line_bpe, &b.syms, self.run_cache, &mut b.runs);
        self.merge_due();
        let b = &mut *self.b;
        std::mem::swap(&mut b.syms, &mut b.due_syms);
        std::mem::swap(&mut b.runs, &mut b.due_runs);
    }
}

impl LineEncoder<'_, '_> {
    /// Stage 2 of the chunk that waits for it, if any; the last one is merged once the text ends.
    fn merge_due(&mut self) {
        let b = &mut *self.b;
        merge_split(
            self.line_bpe,
            &b.due_syms,
            &b.due_runs,
            self.run_cache,
            &mut b.scratch,
            self.out,
        );
        b.due_syms.clear();
        b.due_runs.clear();
    }
}

/// A run of a chunk's stage-1 tokens, `syms[start..end]` (see `split_runs`), and for one of
/// three tokens or more its hash in the run cache.
#[derive(Clone, Copy)]
struct Run {
    start: u32,
    end: u32,
    hash: u32,
}

/// Stage 2 of one chunk, first half: cuts `syms` (stage-1 tokens) into `runs` at the
/// boundaries no merge of `bpe` can cross, so that merging each run alone gives exactly
/// `bpe.merge(syms)`, and starts loading the cache slot of each run of three tokens or more
/// (one- and two-token runs need no cache). `merge_split` is the second half.
fn split_runs(bpe: &Bpe, syms: &[u32], cache: &SeqCache<u32>, runs: &mut Vec<Run>) {
    let Some(&first) = syms.first() else {
        return;
    };
    let mut push = |start: usize, end: usize| {
        let hash = if end - start > 2 {
            let h = hash_u32s(&syms[start..end]);
            cache.prefetch(h);
            h
        } else {
            0
        };
        runs.push(Run {
            start: start as u32,
            end: end as u32,
            hash,
        });
    };
    // The run in progress is `syms[start..i]`, its last token in `prev`: the boundary test
    // works from registers, with no slice per step.
    let (mut start, mut prev) = (0, first);
    for (i, &cur) in syms.iter().enumerate().skip(1) {
        if !bpe.can_join(prev, cur) {
            push(start, i);
            start = i;
        }
        prev = cur;
    }
    push(start, syms.len());
}

/// Stage 2 of one chunk, second half: appends to `out` the ids of `syms` merged run by run
/// (`runs` from `split_runs`), through `cache`.
fn merge_split(
    bpe: &Bpe,
    syms: &[u32],
    runs: &[Run],
    cache: &mut SeqCache<u32>,
    scratch: &mut Vec<u32>,
    out: &mut Vec<u32>,
) {
    for r in runs {
        let (start, end) = (r.start as usize, r.end as usize);
        let last = syms[end - 1];
        if end - start == 1 {
            out.push(last);
            continue;
        }
        if end - start == 2 {
            let x = syms[start];
            match bpe.pair(x, last) {
                Some(t) => out.push(t),
                None => out.extend([x, last]),
            }
            continue;
        }
        let run = &syms[start..end];
        if let Some(ids) = cache.get(r.hash, run) {
            out.extend_from_slice(ids);
            continue;
        }
        scratch.clear();
        scratch.extend_from_slice(run);
        bpe.merge(scratch);
        out.extend_from_slice(scratch);
        cache.insert(r.hash, run, scratch);
    }
}

impl Tokenizer {
    pub fn from_parts(
        identifiers: Vec<String>,
        merges: Vec<(u32, u32)>,
        line_merges: Vec<(u32, u32)>,
        specials: Vec<String>,
        metadata: serde_json::Value,
        encoding: Encoding,
    ) -> Result<Self> {
        let vocab = IdentifierVocab::new(identifiers)?;
        let first_merge = 256 + vocab.len() as u32;
        let first_line_merge = first_merge + merges.len() as u32;
        let mut token_offsets =
            Vec::with_capacity(first_line_merge as usize + line_merges.len() + specials.len() + 1);
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
        for (k, &(a, b)) in merges.iter().chain(&line_merges).enumerate() {
            let limit = first_merge + k as u32;
            if a >= limit || b >= limit {
                return Err(Error::Format(format!(
                    "merge {k} ({a}, {b}) refers to a token that does not exist yet"
                )));
            }
            for id in [a, b] {
                let (s, e) = (
                    token_offsets[id as usize] as usize,
                    token_offsets[id as usize + 1] as usize,
                );
                token_data.extend_from_within(s..e);
            }
            token_offsets.push(token_data.len() as u32);
        }
        let total = token_offsets.len() - 1 + specials.len();
        if total > crate::bpe::MAX_ID as usize {
            return Err(Error::Format(format!(
                "{total} tokens; codemill supports at most {}",
                crate::bpe::MAX_ID
            )));
        }
        let mut seen = rustc_hash::FxHashSet::default();
        for s in &specials {
            if s.is_empty() || !seen.insert(s.as_str()) {
                return Err(Error::Format(format!(
                    "special token {s:?} is empty or repeated"
                )));
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
        // The sub-identifier boundaries each token needs where it starts and ends (`/2`): an
        // identifier-vocabulary token both; a merge its left part's start and its right part's
        // end, as `/1` formed such merges only from boundary-aligned identifier symbols.
        let mut edges = vec![0u8; first_special];
        edges[256..first_merge as usize].fill(segment::START | segment::END);
        for (k, &(a, b)) in merges.iter().chain(&line_merges).enumerate() {
            edges[first_merge as usize + k] =
                (edges[a as usize] & segment::START) | (edges[b as usize] & segment::END);
        }
        // Bytes that two tokens share map to one id, the one encoding produces: for `/1` the
        // lower; for `/2` the one that needs fewer boundaries (it matches wherever the other
        // could), then the lower.
        let needs = |id: usize| match encoding {
            Encoding::Lookahead | Encoding::Weighed => edges[id].count_ones(),
            Encoding::Merges => 0,
        };
        let token =
            |id: usize| &token_data[token_offsets[id] as usize..token_offsets[id + 1] as usize];
        let mut bytes_to_id: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        for id in 0..first_special {
            let old = bytes_to_id.entry(token(id).into()).or_insert(id as u32);
            if needs(id) < needs(*old as usize) {
                *old = id as u32;
            }
        }
        let segmenter = (encoding != Encoding::Merges)
            .then(|| {
                Segmenter::new((0..first_special).filter_map(|id| {
                    let t = token(id);
                    (bytes_to_id[t] == id as u32).then_some((t, id as u32, edges[id]))
                }))
            })
            .transpose()?;
        // A special token's text names it, even where an ordinary token has the same bytes.
        for id in first_special..n_tokens {
            bytes_to_id.insert(token(id).into(), id as u32);
        }
        Ok(Tokenizer {
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            segmenter,
            weighed: None,
            vocab,
            piece_bpe: Bpe::new(merges, first_merge),
            line_bpe: Bpe::new(line_merges, first_line_merge),
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

    /// Stage-1 merges (inside pieces) in rank order; merge `k` creates id `256 + identifiers + k`.
    pub fn merges(&self) -> &[(u32, u32)] {
        self.piece_bpe.merges()
    }

    /// Stage-2 merges (across the pieces of a line), numbered after the stage-1 merges.
    pub fn line_merges(&self) -> &[(u32, u32)] {
        self.line_bpe.merges()
    }

    pub fn num_merges(&self) -> usize {
        self.piece_bpe.merges().len() + self.line_bpe.merges().len()
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

    /// The bytes of a token (special tokens: their text).
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

    pub fn encoding(&self) -> Encoding {
        match (&self.segmenter, &self.weighed) {
            (None, _) => Encoding::Merges,
            (Some(_), None) => Encoding::Lookahead,
            (Some(_), Some(_)) => Encoding::Weighed,
        }
    }

    /// Makes this a `/3` tokenizer that weighs the second candidate only after the longest
    /// tokens `ids` names (any order, repeats allowed). Error: a `/1` tokenizer, or an id that
    /// is no ordinary token.
    pub fn weigh_only(mut self, ids: Vec<u32>) -> Result<Self> {
        let ordinary = self.vocab_size() - self.specials.len();
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= ordinary) {
            return Err(Error::Format(format!(
                "lookahead lists {bad}, which is no ordinary token (there are {ordinary})"
            )));
        }
        let Some(seg) = self.segmenter.as_mut() else {
            return Err(Error::Format(format!(
                "a {FORMAT_MERGES} tokenizer has no lookahead to restrict"
            )));
        };
        let mut keep = vec![false; ordinary];
        for &id in &ids {
            keep[id as usize] = true;
        }
        seg.weigh_only(|id| keep[id as usize]);
        self.weighed = Some(
            (0..ordinary as u32)
                .filter(|&id| keep[id as usize])
                .collect(),
        );
        Ok(self)
    }

    /// The longest tokens whose second candidate won somewhere in `docs`, every second weighed
    /// (`Segmenter::count_second_wins`), ascending: the list `weigh_only` takes. Empty for `/1`.
    pub fn second_winners(&self, docs: &[&str]) -> Vec<u32> {
        let Some(seg) = &self.segmenter else {
            return Vec::new();
        };
        let wins = docs
            .par_iter()
            .fold(
                || vec![0u32; self.vocab_size()],
                |mut wins, text| {
                    seg.count_second_wins(text, &mut wins);
                    wins
                },
            )
            .reduce(
                || vec![0u32; self.vocab_size()],
                |mut a, b| {
                    a.iter_mut()
                        .zip(b)
                        .for_each(|(x, y)| *x = x.saturating_add(y));
                    a
                },
            );
        (0..wins.len() as u32)
            .filter(|&id| wins[id as usize] > 0)
            .collect()
    }

    /// Encodes text in which special tokens are ordinary text. `lang` matters only to
    /// `Encoding::Merges`, whose pieces come from the language's scanner table.
    pub fn encode_ordinary(&self, text: &str, lang: Lang, out: &mut Vec<u32>) {
        if let Some(seg) = &self.segmenter {
            seg.encode(text, out);
            return;
        }
        CACHES.with(|cell| {
            let mut caches = cell.borrow_mut();
            let caches = &mut *caches;
            if caches.owner != self.uid {
                caches.pieces.clear();
                caches.runs.clear();
                caches.owner = self.uid;
            }
            caches.buffers.clear();
            let mut sink = LineEncoder {
                text,
                pieces: PieceEncoder::new(&self.vocab, &self.piece_bpe),
                line_bpe: &self.line_bpe,
                piece_cache: &mut caches.pieces,
                run_cache: &mut caches.runs,
                b: &mut caches.buffers,
                out,
            };
            chunk::chunk_pieces(text, lang, &mut sink);
            sink.merge_due();
        });
    }

    pub fn encode_batch(&self, texts: &[(&str, Lang)], allowed: &[bool]) -> Vec<Vec<u32>> {
        each_doc(texts)
            .map(|&(t, l)| self.encode(t, l, allowed))
            .collect()
    }

    pub fn to_json(&self) -> String {
        self.to_json_as(self.encoding())
    }

    /// The file of this vocabulary encoded as `encoding` (`/3` only with a list).
    fn to_json_as(&self, encoding: Encoding) -> String {
        let mut v = serde_json::json!({
            "format": encoding.format(),
            "pretokenizer": {"chunks": "line", "max_chunk_bytes": encoding.max_chunk()},
            "special_tokens": self.specials,
            "identifiers": self.vocab.entries(),
            "merges": self.merges(),
            "line_merges": self.line_merges(),
            "metadata": self.metadata,
        });
        if let (Encoding::Weighed, Some(ids)) = (encoding, &self.weighed) {
            v["lookahead"] = serde_json::json!(ids);
        }
        v.to_string()
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Format(format!("not JSON: {e}")))?;
        let format = v.get("format").and_then(|f| f.as_str()).unwrap_or("");
        let encoding = match format {
            FORMAT => Encoding::Weighed,
            FORMAT_LOOKAHEAD => Encoding::Lookahead,
            FORMAT_MERGES => Encoding::Merges,
            _ => {
                return Err(Error::Format(
                    if format.starts_with("codemill-tokenizer/") {
                        format!(
                            "unsupported format version {format:?}; this codemill reads \
                         {FORMAT:?}, {FORMAT_LOOKAHEAD:?} and {FORMAT_MERGES:?}"
                        )
                    } else {
                        format!(
                            "not a codemill tokenizer (format is {format:?}, expected {FORMAT:?})"
                        )
                    },
                ))
            }
        };
        let max_chunk = v
            .pointer("/pretokenizer/max_chunk_bytes")
            .and_then(|m| m.as_u64());
        let want = encoding.max_chunk();
        if max_chunk != Some(want as u64) {
            return Err(Error::Format(format!(
                "pretokenizer.max_chunk_bytes is {max_chunk:?}; a {format} file has {want}"
            )));
        }
        fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, name: &str) -> Result<T> {
            let f = v
                .get(name)
                .ok_or_else(|| Error::Format(format!("missing field {name:?}")))?;
            T::deserialize(f).map_err(|e| Error::Format(format!("field {name:?}: {e}")))
        }
        let tok = Tokenizer::from_parts(
            field(&v, "identifiers")?,
            field(&v, "merges")?,
            field(&v, "line_merges")?,
            field(&v, "special_tokens")?,
            v.get("metadata")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
            encoding,
        )?;
        match encoding {
            Encoding::Weighed => tok.weigh_only(field(&v, "lookahead")?),
            _ => Ok(tok),
        }
    }

    /// Trains identifier vocabulary and both BPE stages on `docs`. Deterministic.
    pub fn train(docs: &[(&str, Lang)], cfg: TrainConfig) -> Result<Self> {
        let reserved = 256 + cfg.special_tokens.len();
        if cfg.vocab_size <= reserved {
            return Err(Error::Argument(format!(
                "vocab_size {} leaves no room: 256 byte tokens and {} special tokens need {reserved}",
                cfg.vocab_size,
                cfg.special_tokens.len()
            )));
        }
        if cfg.vocab_size > crate::bpe::MAX_ID as usize {
            return Err(Error::Argument(format!(
                "vocab_size {} is above the maximum {}",
                cfg.vocab_size,
                crate::bpe::MAX_ID
            )));
        }
        if !(0.0..=1.0).contains(&cfg.line_merge_fraction) {
            return Err(Error::Argument(format!(
                "line_merge_fraction must be in [0, 1], got {}",
                cfg.line_merge_fraction
            )));
        }
        let room = cfg.vocab_size - reserved;
        let min_count = cfg.min_frequency.max(1);
        let line_room = ((room as f64) * cfg.line_merge_fraction).round() as usize;
        let piece_room = room - line_room;
        // Identifiers are stage-1 tokens, taken out of its share: capped at the whole budget,
        // more of them than that share made a vocabulary larger than `vocab_size`.
        let ident_size = cfg.identifier_vocab_size.min(piece_room);

        let vocab = IdentifierVocab::new(if ident_size > 0 {
            let counts = identifier_counts(docs);
            // Rank candidates by the tokens they save: occurrences x (tokens a plain stage-1
            // BPE of the same size needs for them - 1). Measured better than raw frequency.
            let empty = IdentifierVocab::new(Vec::new())?;
            let mut words = piece_words(docs, &empty);
            let plain = Bpe::new(
                bpe_train::train(&mut words, 256, piece_room, min_count),
                256,
            );
            drop(words);
            IdentifierVocab::select_by(&counts, ident_size, min_count, |s, c| {
                let mut syms: Vec<u32> = s.bytes().map(u32::from).collect();
                plain.merge(&mut syms);
                c * (syms.len() as u64 - 1)
            })
        } else {
            Vec::new()
        })?;
        let first_merge = 256 + vocab.len() as u32;
        let piece_merges = piece_room.saturating_sub(vocab.len());
        let mut words = piece_words(docs, &vocab);
        let merges = bpe_train::train(&mut words, first_merge, piece_merges, min_count);
        drop(words);
        let piece_bpe = Bpe::new(merges, first_merge);
        let first_line_merge = first_merge + piece_bpe.merges().len() as u32;
        let mut words = line_words(docs, &vocab, &piece_bpe);
        let line_merges = bpe_train::train(&mut words, first_line_merge, line_room, min_count);
        let tok = Tokenizer::from_parts(
            vocab.entries().to_vec(),
            piece_bpe.merges().to_vec(),
            line_merges,
            cfg.special_tokens,
            cfg.metadata,
            Encoding::Lookahead,
        )?;
        // The lookahead walk is kept after the tokens whose second candidate won somewhere in
        // the training text: for the bundled vocabulary, 0.04–0.22% more tokens on held-back
        // code than weighing every second, and 5–7% more speed (README, stop 50).
        let texts: Vec<&str> = docs.iter().map(|d| d.0).collect();
        let winners = tok.second_winners(&texts);
        tok.weigh_only(winners)
    }
}

fn identifier_counts(docs: &[(&str, Lang)]) -> FxHashMap<String, u64> {
    docs.par_iter()
        .fold(FxHashMap::<String, u64>::default, |mut m, &(text, lang)| {
            for p in Scanner::new(text, lang).without_keywords() {
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
}

/// Stage-1 training words: the distinct pieces of `docs` as symbols, with their counts.
fn piece_words(docs: &[(&str, Lang)], vocab: &IdentifierVocab) -> Vec<Word> {
    let counts = docs
        .par_iter()
        .fold(
            FxHashMap::<Vec<u32>, u64>::default,
            |mut m, &(text, lang)| {
                let (mut syms, mut matches) = (Vec::new(), Vec::new());
                chunk::for_each_chunk(text, lang, |s, _, parts| {
                    let mut at = s;
                    for p in parts {
                        let end = s + p.end as usize;
                        piece_symbols(vocab, &text[at..end], p.ident, &mut syms, &mut matches);
                        at = end;
                        count(&mut m, &syms);
                    }
                });
                m
            },
        )
        .reduce(FxHashMap::default, merge_counts);
    sorted_words(counts)
}

/// Stage-2 training words: the distinct chunks of `docs` as stage-1 tokens, with their counts.
fn line_words(docs: &[(&str, Lang)], vocab: &IdentifierVocab, piece_bpe: &Bpe) -> Vec<Word> {
    let counts = docs
        .par_iter()
        .fold(
            || (FxHashMap::<Vec<u32>, u64>::default(), PieceCache::default()),
            |(mut m, mut cache), &(text, lang)| {
                let mut enc = PieceEncoder::new(vocab, piece_bpe);
                let mut syms = Vec::new();
                chunk::for_each_chunk(text, lang, |s, e, parts| {
                    syms.clear();
                    enc.encode_parts(&text[s..e], parts, &mut cache, &mut syms);
                    count(&mut m, &syms);
                });
                (m, cache)
            },
        )
        .map(|(m, _)| m)
        .reduce(FxHashMap::default, merge_counts);
    sorted_words(counts)
}

fn count(m: &mut FxHashMap<Vec<u32>, u64>, syms: &[u32]) {
    match m.get_mut(syms) {
        Some(c) => *c += 1,
        None => {
            m.insert(syms.to_vec(), 1);
        }
    }
}

/// Words in a fixed order, so training is reproducible whatever the thread interleaving.
fn sorted_words(counts: FxHashMap<Vec<u32>, u64>) -> Vec<Word> {
    let mut words: Vec<Word> = counts
        .into_iter()
        .map(|(syms, count)| Word { syms, count })
        .collect();
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

impl Encoder for Tokenizer {
    fn by_language(&self) -> bool {
        true
    }

    fn encode_text(&self, text: &str, lang: Lang, allowed: &[bool]) -> Vec<u32> {
        self.encode(text, lang, allowed)
    }

    fn encode_docs(&self, docs: &[(&str, Lang)], allowed: &[bool]) -> Vec<Vec<u32>> {
        self.encode_batch(docs, allowed)
    }

    fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        Tokenizer::token_bytes(self, id)
    }
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
                line_merge_fraction: 0.5,
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
        assert!(
            ids.len() * 4 < SAMPLE.len(),
            "{} tokens for {} bytes",
            ids.len(),
            SAMPLE.len()
        );
        for text in [
            SAMPLE,
            "",
            "x",
            "metadata = user_data\n",
            "\u{1F600} é\r\n\t",
            "<|endoftext|>",
        ] {
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
        assert_eq!(
            again.encode(SAMPLE, Lang::Python, &[]),
            tok.encode(SAMPLE, Lang::Python, &[])
        );
        assert!(matches!(Tokenizer::from_json("{"), Err(Error::Format(_))));
        let wrong = tok.to_json().replace(FORMAT, "codemill-tokenizer/9");
        let err = Tokenizer::from_json(&wrong).err().unwrap().to_string();
        assert!(err.contains("unsupported format version"), "{err}");
        let bad = r#"{"format":"codemill-tokenizer/1","pretokenizer":{"max_chunk_bytes":256},
            "identifiers":[],"merges":[[300,1]],"line_merges":[],"special_tokens":[]}"#;
        assert!(matches!(Tokenizer::from_json(bad), Err(Error::Format(_))));
        assert_eq!(
            tok.decode_bytes(&[u32::MAX]),
            Err(Error::InvalidTokenId(u32::MAX))
        );
    }

    /// The run-by-run stage 2 with its cache (cold and warm) equals plain stage-2 BPE.
    #[test]
    fn merging_run_by_run_equals_merge() {
        let tok = trained();
        let mut pieces = PieceEncoder::new(&tok.vocab, &tok.piece_bpe);
        let mut piece_cache = PieceCache::default();
        let mut runs = SeqCache::default();
        let (mut syms, mut split, mut scratch, mut out) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let text = format!("{SAMPLE}x = self.users[user_id] + get_user(self)\n  ({{}})\n");
        for pass in 0..2 {
            let mut n = 0;
            chunk::for_each_chunk(&text, Lang::Python, |s, e, parts| {
                syms.clear();
                pieces.encode_parts(&text[s..e], parts, &mut piece_cache, &mut syms);
                let mut want = syms.clone();
                tok.line_bpe.merge(&mut want);
                out.clear();
                split.clear();
                split_runs(&tok.line_bpe, &syms, &runs, &mut split);
                merge_split(
                    &tok.line_bpe,
                    &syms,
                    &split,
                    &mut runs,
                    &mut scratch,
                    &mut out,
                );
                assert_eq!(out, want, "pass {pass}: {:?}", &text[s..e]);
                n += 1;
            });
            assert!(n > 5);
        }
        assert!(!runs.is_empty());
    }

    /// Stage 1 through both piece caches (short keys in their slots, long ones in arenas),
    /// cold and warm, equals merging each piece from scratch.
    #[test]
    fn cached_pieces_equal_uncached() {
        let tok = trained();
        let mut pieces = PieceEncoder::new(&tok.vocab, &tok.piece_bpe);
        let mut cache = PieceCache::default();
        let mut got = Vec::new();
        let text = format!(
            "{SAMPLE}user_id_user_store = get_user_by_identifier_and_name(\"users users\")\n\
             # the user store keeps every user by id\nx=1;yy=22;zzz=333\n"
        );
        for pass in 0..2 {
            chunk::for_each_chunk(&text, Lang::Python, |s, e, parts| {
                got.clear();
                pieces.encode_parts(&text[s..e], parts, &mut cache, &mut got);
                let want = reference_stage1(&tok, &text, s, parts);
                assert_eq!(got, want, "pass {pass}: {:?}", &text[s..e]);
            });
        }
        assert!(
            cache.long.iter().any(|c| !c.is_empty()),
            "a long piece was cached"
        );
    }

    /// Stage 1 of the chunk starting at `start` with `parts`, each piece merged from scratch.
    fn reference_stage1(tok: &Tokenizer, text: &str, start: usize, parts: &[Part]) -> Vec<u32> {
        let (mut out, mut syms, mut matches) = (Vec::new(), Vec::new(), Vec::new());
        let mut at = start;
        for p in parts {
            let end = start + p.end as usize;
            piece_symbols(&tok.vocab, &text[at..end], p.ident, &mut syms, &mut matches);
            tok.piece_bpe.merge(&mut syms);
            out.extend_from_slice(&syms);
            at = end;
        }
        out
    }

    /// The same vocabulary, encoded by replaying its merges (a `/1` file).
    fn as_merges(tok: &Tokenizer) -> Tokenizer {
        Tokenizer::from_parts(
            tok.vocab.entries().to_vec(),
            tok.merges().to_vec(),
            tok.line_merges().to_vec(),
            tok.specials.clone(),
            tok.metadata.clone(),
            Encoding::Merges,
        )
        .unwrap()
    }

    #[test]
    fn every_encoding_is_lossless_and_keeps_its_format() {
        let tok = trained();
        let old = as_merges(&tok);
        let full = Tokenizer::from_json(&tok.to_json_as(Encoding::Lookahead)).unwrap();
        assert_eq!(tok.encoding(), Encoding::Weighed);
        assert_eq!(full.encoding(), Encoding::Lookahead);
        let text = format!(
            "{SAMPLE}\n\tmetadata = user_data  \r\n\n\n    é😀{}",
            "x".repeat(5000)
        );
        let (new_ids, old_ids) = (
            tok.encode(&text, Lang::Python, &[]),
            old.encode(&text, Lang::Python, &[]),
        );
        assert_eq!(tok.decode_bytes(&new_ids).unwrap(), text.as_bytes());
        assert_eq!(old.decode_bytes(&old_ids).unwrap(), text.as_bytes());
        assert!(
            new_ids.len() <= old_ids.len(),
            "{} > {}",
            new_ids.len(),
            old_ids.len()
        );
        let full_ids = full.encode(&text, Lang::Python, &[]);
        assert_eq!(full.decode_bytes(&full_ids).unwrap(), text.as_bytes());
        // Listed, the tokens whose second won on a text give `/2`'s ids on it (the training
        // text here lists none: its tokenizer weighs no second, and still round-trips).
        let code = include_str!("chunk_cache.rs");
        let winners = full.second_winners(&[code]);
        assert!(!winners.is_empty() && winners.len() < tok.vocab_size() / 2);
        let listed = Tokenizer::from_json(&full.to_json())
            .unwrap()
            .weigh_only(winners.clone())
            .unwrap();
        assert_eq!(listed.weighed.as_ref(), Some(&winners));
        assert_eq!(
            listed.second_winners(&[code]),
            winners,
            "counted as by `/2`"
        );
        let want = full.encode(code, Lang::Rust, &[]);
        assert_eq!(listed.encode(code, Lang::Rust, &[]), want);
        assert!(tok.encode(code, Lang::Rust, &[]).len() > want.len());
        for t in [&tok, &full, &listed, &old] {
            let back = Tokenizer::from_json(&t.to_json()).unwrap();
            assert_eq!(back.encoding(), t.encoding());
            assert_eq!(
                back.encode(&text, Lang::Python, &[]),
                t.encode(&text, Lang::Python, &[])
            );
        }
    }

    #[test]
    fn a_one_byte_special_token_leaves_the_byte_to_ordinary_text() {
        let specials = vec!["x".to_string()];
        for encoding in [Encoding::Lookahead, Encoding::Merges] {
            let tok = Tokenizer::from_parts(
                vec![],
                vec![],
                vec![],
                specials.clone(),
                serde_json::Value::Null,
                encoding,
            )
            .unwrap();
            let ids = tok.encode("xyx", Lang::Python, &[]);
            assert_eq!(ids, [u32::from(b'x'), u32::from(b'y'), u32::from(b'x')]);
            assert_eq!(
                tok.encode("xyx", Lang::Python, &[true]),
                [256, u32::from(b'y'), 256]
            );
        }
    }

    /// The encoder (pieces encoded as the chunker yields them, through both caches) equals the
    /// reference: chunks as parts, each piece merged from scratch, each chunk merged whole.
    #[test]
    fn encode_equals_reference_path() {
        let tok = as_merges(&trained());
        let long_line = format!("x = [{}]\n", "user_id, ".repeat(60));
        let texts = [
            SAMPLE.to_string(),
            long_line,
            format!("{}\n\tget_user()", " \n".repeat(300)),
            format!("y = {}\n", "user_store_".repeat(40)),
            "s = \"users users\" # the user store\n/* c */ 'a'\r\n".to_string(),
            "é".repeat(300),
            String::new(),
        ];
        for text in &texts {
            for lang in [Lang::Python, Lang::Rust, Lang::C, Lang::Generic] {
                let mut want = Vec::new();
                chunk::for_each_chunk(text, lang, |s, _, parts| {
                    let mut line = reference_stage1(&tok, text, s, parts);
                    tok.line_bpe.merge(&mut line);
                    want.extend_from_slice(&line);
                });
                for pass in 0..2 {
                    assert_eq!(
                        tok.encode(text, lang, &[]),
                        want,
                        "pass {pass} {lang:?}: {text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn training_is_deterministic() {
        assert_eq!(trained().to_json(), trained().to_json());
    }

    #[test]
    fn training_never_makes_more_tokens_than_vocab_size() {
        // More identifiers asked for than the stage-1 share holds: they took the whole budget
        // and the line merges came on top (vocab_size 500 gave 619 tokens).
        let text: String = (0..300)
            .map(|i| format!("value_{i} = compute_{i}(value_{i}, other_{i})\n"))
            .collect();
        let docs: Vec<(&str, Lang)> = (0..3).map(|_| (text.as_str(), Lang::Python)).collect();
        for (vocab_size, identifiers) in [(320, 1024), (500, 1024), (500, 100), (1000, 700)] {
            let tok = Tokenizer::train(
                &docs,
                TrainConfig {
                    vocab_size,
                    identifier_vocab_size: identifiers,
                    line_merge_fraction: 0.5,
                    min_frequency: 2,
                    special_tokens: DEFAULT_SPECIALS.iter().map(|s| s.to_string()).collect(),
                    metadata: serde_json::Value::Null,
                },
            )
            .unwrap();
            assert!(
                tok.vocab_size() <= vocab_size,
                "{} tokens for vocab_size {vocab_size}, {identifiers} identifiers",
                tok.vocab_size()
            );
        }
    }
}
