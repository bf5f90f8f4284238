//! MinHash: shingles of scanner pieces, signatures by permutation hashing, LSH banding.
//!
//! Shingles are n-grams of the scanner's non-whitespace pieces: reindenting or rewrapping a
//! file leaves its shingles unchanged, so reformatting alone never hides a duplicate.
//! A document with fewer such pieces than `ngram` (but at least one) gets one shingle made
//! of all its pieces, so tiny files still compare; a document with none has no shingles and
//! an all-`u32::MAX` signature, which callers keep out of LSH (see `Shingled::count`).
//!
//! Two signature schemes, each slot an unbiased MinHash of the shingle set:
//! - `Mersenne`: datasketch's, for permutation `i`, `h -> (a_i*h + b_i) mod p` with the
//!   Mersenne prime `p = 2^61 - 1`, kept to its low 32 bits, minimum over shingles. The
//!   product is taken in `u128` and reduced by Mersenne folding, so it never overflows.
//!   O(shingles x num_perm).
//! - `Bucket` (default): bucketed sketching after Dahlgaard, Knudsen and Thorup, "Fast
//!   Similarity Sketching" (2017). In round `r` (of 3) each shingle lands in one slot with
//!   value `(r, rank)`; slots still empty after the rounds get the Mersenne value for that
//!   slot with a larger prefix. Slot `j` is then `min over x of v_j(x)` for a fixed per-slot
//!   hash `v_j`, so `P[slot equal] = Jaccard` exactly as for `Mersenne`; the work is
//!   O(shingles) once documents are larger than ~num_perm. Rounds stop early when every slot
//!   holds a value no later round can beat, which does not change the result.
use crate::error::{Error, Result};
use crate::lex::{Lang, Scanner};
use rayon::prelude::*;

/// The Mersenne prime 2^61 - 1.
pub const MERSENNE_61: u64 = (1 << 61) - 1;

/// Folded multiply: the high and low halves of the 128-bit product xor-ed together.
/// The mixing step of wyhash/foldhash: one `mul` and a good avalanche.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x1319_8a2e_0370_7344;
const K2: u64 = 0xa409_3822_299f_31d0;

/// A fast 64-bit hash of bytes (wyhash-style folded multiplies, 8 bytes a step).
/// Not cryptographic: it only has to spread distinct shingles over 64 bits.
pub fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ K0 ^ (bytes.len() as u64).wrapping_mul(K1);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = fold_mul(h ^ u64::from_le_bytes(w), K1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = fold_mul(h ^ tail_word(rest), K2);
    }
    fold_mul(h ^ K2, K0)
}

/// The 1..=7 bytes `rest` as a little-endian word, zero-padded, with no copy: most pieces are
/// shorter than 8 bytes, and a copy of a variable length was a `memmove` call per piece.
#[inline(always)]
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    let le32 =
        |at: usize| u32::from_le_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]) as u64;
    if n >= 4 {
        // Two overlapping 4-byte reads: the bytes they share are the same at the same places.
        le32(0) | (le32(n - 4) << (8 * (n - 4)))
    } else {
        // Bytes 0, n/2 and n-1 cover every byte of 1 to 3.
        rest[0] as u64
            | (rest[n / 2] as u64) << (8 * (n / 2))
            | (rest[n - 1] as u64) << (8 * (n - 1))
    }
}

/// Shingle hashes of one document: n-grams of its non-whitespace pieces, in order (with
/// repeats; MinHash only needs the minimum, and `shingle_set` sorts and dedups).
pub fn shingles(text: &str, lang: Lang, ngram: usize, out: &mut Vec<u64>) {
    out.clear();
    let ngram = ngram.max(1);
    // One hash per piece; the piece kind is mixed in so `if` the keyword and `if` in a
    // string are different pieces.
    let mut pieces: Vec<u64> = Vec::new();
    for p in Scanner::new(text, lang) {
        if p.kind.is_whitespace() {
            continue;
        }
        pieces.push(hash_bytes(p.text(text).as_bytes(), p.kind as u64));
    }
    if pieces.is_empty() {
        return;
    }
    let n = ngram.min(pieces.len());
    for window in pieces.windows(n) {
        let mut h = K2 ^ n as u64;
        for &ph in window {
            h = fold_mul(h ^ ph, K1);
        }
        out.push(h);
    }
}

/// The distinct shingles of a document, sorted: the set exact Jaccard is computed on.
pub fn shingle_set(text: &str, lang: Lang, ngram: usize) -> Vec<u64> {
    let mut v = Vec::new();
    shingles(text, lang, ngram, &mut v);
    v.sort_unstable();
    v.dedup();
    v
}

/// Exact Jaccard similarity of two sorted, deduplicated sets. Two empty sets give 0: an
/// empty document is no evidence of duplication.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// Exact Jaccard of document pairs (ids index `docs`; the caller checks they are in range).
/// Shingle sets are built once per document that appears in a pair, in parallel.
pub fn exact_jaccard_pairs(docs: &[(&str, Lang)], ngram: usize, pairs: &[(u32, u32)]) -> Vec<f64> {
    let mut needed = vec![false; docs.len()];
    for &(a, b) in pairs {
        needed[a as usize] = true;
        needed[b as usize] = true;
    }
    let sets: Vec<Vec<u64>> = docs
        .par_iter()
        .zip(needed.par_iter())
        .map(|((text, lang), &need)| {
            if need {
                shingle_set(text, *lang, ngram)
            } else {
                Vec::new()
            }
        })
        .collect();
    pairs
        .par_iter()
        .map(|&(a, b)| jaccard(&sets[a as usize], &sets[b as usize]))
        .collect()
}

/// The first document of each distinct content hash, across a corpus's batches: an exact copy
/// takes its original's signature instead of being signed again (`near_dup.signing.Signer`).
/// 42 bytes a distinct text at 5 M of them, where a Python dict of the hashes took 130.
#[derive(Debug, Default)]
pub struct FirstSeen {
    first: rustc_hash::FxHashMap<[u64; 2], u64>,
}

impl FirstSeen {
    /// For documents `start, start + 1, ...` with `hashes`, each one's first document with its
    /// hash: itself for a hash not seen before (which is recorded), else the earlier one.
    pub fn first(&mut self, hashes: &[[u64; 2]], start: u64) -> Vec<u64> {
        hashes
            .iter()
            .zip(start..)
            .map(|(h, doc)| *self.first.entry(*h).or_insert(doc))
            .collect()
    }

    /// Distinct hashes seen.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

/// A 128-bit content hash for exact dedup. With `normalize_whitespace`, every run of
/// whitespace counts as one space and leading/trailing whitespace is ignored, so files
/// differing only in indentation width, line endings or trailing spaces are equal.
pub fn content_hash(text: &str, normalize_whitespace: bool) -> [u64; 2] {
    if !normalize_whitespace {
        return hash_bytes_twice(text.as_bytes());
    }
    let mut norm = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !norm.is_empty() {
            norm.push(' ');
        }
        norm.push_str(word);
    }
    hash_bytes_twice(norm.as_bytes())
}

/// `[hash_bytes(bytes, K1), hash_bytes(bytes, K2)]` in one pass. Each chain waits on its
/// multiply's latency; two independent chains in one loop run side by side (a whole text's
/// two passes were ~14% of a one-core dedup of 1 GB of JSONL).
fn hash_bytes_twice(bytes: &[u8]) -> [u64; 2] {
    let len = (bytes.len() as u64).wrapping_mul(K1);
    let (mut a, mut b) = (K1 ^ K0 ^ len, K2 ^ K0 ^ len);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        a = fold_mul(a ^ w, K1);
        b = fold_mul(b ^ w, K1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let w = tail_word(rest);
        a = fold_mul(a ^ w, K2);
        b = fold_mul(b ^ w, K2);
    }
    [fold_mul(a ^ K2, K0), fold_mul(b ^ K2, K0)]
}

/// Estimated Jaccard similarity: the fraction of equal signature slots.
pub fn estimate(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let eq = a.iter().zip(b).filter(|(x, y)| x == y).count();
    eq as f64 / a.len() as f64
}

/// splitmix64: the seeded generator of the permutation parameters.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline(always)]
fn reduce61(x: u64) -> u64 {
    let s = (x & MERSENNE_61) + (x >> 61);
    if s >= MERSENNE_61 {
        s - MERSENNE_61
    } else {
        s
    }
}

/// `(a*h + b) mod (2^61 - 1)` for `a, h, b < 2^61 - 1`, exactly.
#[inline(always)]
fn affine61(a: u64, h: u64, b: u64) -> u64 {
    // a*h + b < 2^122, so it fits u128; two folds bring it below 2^61 + 1.
    let x = (a as u128) * (h as u128) + b as u128;
    let s = ((x as u64) & MERSENNE_61) + ((x >> 61) as u64);
    reduce61(s)
}

/// How signature slots are computed (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bucket,
    Mersenne,
}

impl Scheme {
    pub fn from_name(name: &str) -> Result<Scheme> {
        match name {
            "bucket" => Ok(Scheme::Bucket),
            "mersenne" => Ok(Scheme::Mersenne),
            _ => Err(Error::Argument(format!(
                "unknown MinHash scheme {name:?}; known: bucket, mersenne"
            ))),
        }
    }
}

/// Rounds of the bucket scheme and the bits of a slot value below its round prefix.
const ROUNDS: u32 = 3;
const FRACTION_BITS: u32 = 30;

/// The configuration of a signature: permutation count, shingle size, scheme and the seeded
/// parameters drawn from the seed. Same seed, same signatures, on every engine.
#[derive(Debug, Clone)]
pub struct MinHasher {
    pub num_perm: usize,
    pub ngram: usize,
    pub seed: u64,
    pub scheme: Scheme,
    a: Vec<u64>,
    b: Vec<u64>,
    round_seeds: [u64; ROUNDS as usize],
}

/// A strong 64-bit finaliser (splitmix64's): the per-round hash of a shingle.
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Permutations handled together: independent accumulators the CPU can overlap.
const LANES: usize = 4;

/// The widest signature a `MinHasher` makes (and `lsh_params` searches bands and rows for).
pub const MAX_NUM_PERM: usize = 1 << 16;
/// The longest shingle, in pieces.
pub const MAX_NGRAM: usize = 1024;

impl MinHasher {
    pub fn new(num_perm: usize, ngram: usize, seed: u64) -> Result<Self> {
        Self::with_scheme(num_perm, ngram, seed, Scheme::Bucket)
    }

    pub fn with_scheme(num_perm: usize, ngram: usize, seed: u64, scheme: Scheme) -> Result<Self> {
        if num_perm == 0 || num_perm > MAX_NUM_PERM {
            return Err(Error::Argument(format!(
                "num_perm must be in 1..={MAX_NUM_PERM}, got {num_perm}"
            )));
        }
        if ngram == 0 || ngram > MAX_NGRAM {
            return Err(Error::Argument(format!(
                "ngram must be in 1..={MAX_NGRAM}, got {ngram}"
            )));
        }
        let mut state = seed;
        let mut draw = |lo: u64| loop {
            let v = splitmix64(&mut state) >> 3; // < 2^61
            if v >= lo && v < MERSENNE_61 {
                return v;
            }
        };
        let mut a = Vec::with_capacity(num_perm);
        let mut b = Vec::with_capacity(num_perm);
        for _ in 0..num_perm {
            a.push(draw(1));
            b.push(draw(0));
        }
        let round_seeds = std::array::from_fn(|_| splitmix64(&mut state));
        Ok(MinHasher {
            num_perm,
            ngram,
            seed,
            scheme,
            a,
            b,
            round_seeds,
        })
    }

    /// The signature of a multiset of shingle hashes into `out` (`num_perm` slots).
    pub fn signature_of_hashes(&self, hashes: &[u64], out: &mut [u32]) {
        debug_assert_eq!(out.len(), self.num_perm);
        out.fill(u32::MAX);
        if hashes.is_empty() {
            return;
        }
        match self.scheme {
            Scheme::Mersenne => self.mersenne(hashes, out),
            Scheme::Bucket => self.bucket(hashes, out),
        }
    }

    fn bucket(&self, hashes: &[u64], out: &mut [u32]) {
        let k = self.num_perm as u64;
        for (r, &seed) in self.round_seeds.iter().enumerate() {
            let prefix = (r as u32) << FRACTION_BITS;
            for &h in hashes {
                let m = mix64(h ^ seed);
                // Lemire's multiply-shift picks the slot from the low half, the rank is
                // the top FRACTION_BITS of the high half: independent bits of `m`.
                let slot = (((m & 0xffff_ffff) * k) >> 32) as usize;
                let v = prefix | (m >> (64 - FRACTION_BITS)) as u32;
                if let Some(o) = out.get_mut(slot) {
                    *o = (*o).min(v);
                }
            }
            let next = ((r as u32) + 1) << FRACTION_BITS;
            if out.iter().all(|&v| v < next) {
                return; // later rounds only offer larger values
            }
        }
        let fallback = ROUNDS << FRACTION_BITS;
        let hs: Vec<u64> = hashes.iter().map(|&h| reduce61(h)).collect();
        for (j, o) in out.iter_mut().enumerate() {
            if *o == u32::MAX {
                let (a, b) = (self.a[j], self.b[j]);
                let m = hs.iter().map(|&h| affine61(a, h, b)).min().unwrap_or(0);
                *o = fallback | (m >> (61 - FRACTION_BITS)) as u32;
            }
        }
    }

    fn mersenne(&self, hashes: &[u64], out: &mut [u32]) {
        // Reduce once so every product stays below 2^122.
        let hs: Vec<u64> = hashes.iter().map(|&h| reduce61(h)).collect();
        let mut i = 0;
        // Perms in blocks of LANES over the whole (L1-resident) shingle list: the running
        // minima stay in registers and the LANES multiplies are independent.
        while i + LANES <= self.num_perm {
            let a: [u64; LANES] = std::array::from_fn(|k| self.a[i + k]);
            let b: [u64; LANES] = std::array::from_fn(|k| self.b[i + k]);
            let mut m = [u32::MAX; LANES];
            for &h in &hs {
                for k in 0..LANES {
                    m[k] = m[k].min(affine61(a[k], h, b[k]) as u32);
                }
            }
            out[i..i + LANES].copy_from_slice(&m);
            i += LANES;
        }
        for (k, slot) in out.iter_mut().enumerate().skip(i) {
            let (a, b) = (self.a[k], self.b[k]);
            *slot = hs
                .iter()
                .map(|&h| affine61(a, h, b) as u32)
                .min()
                .unwrap_or(u32::MAX);
        }
    }

    /// Signature of one document; returns its number of shingles (0 for an empty one).
    pub fn signature(
        &self,
        text: &str,
        lang: Lang,
        scratch: &mut Vec<u64>,
        out: &mut [u32],
    ) -> usize {
        shingles(text, lang, self.ngram, scratch);
        self.signature_of_hashes(scratch, out);
        scratch.len()
    }

    /// Signatures of many documents in parallel: a row-major `docs × num_perm` matrix and
    /// each document's shingle count.
    pub fn signatures(&self, docs: &[(&str, Lang)]) -> (Vec<u32>, Vec<u32>) {
        let mut sigs = vec![0u32; docs.len() * self.num_perm];
        let mut counts = vec![0u32; docs.len()];
        sigs.par_chunks_mut(self.num_perm)
            .zip(counts.par_iter_mut())
            .zip(docs.par_iter())
            .for_each_init(Vec::new, |scratch, ((row, count), (text, lang))| {
                let n = self.signature(text, *lang, scratch, row);
                *count = u32::try_from(n).unwrap_or(u32::MAX);
            });
        (sigs, counts)
    }

    /// Signatures from pre-hashed shingles laid out flat, document `d` being
    /// `hashes[offsets[d]..offsets[d + 1]]` (the layout rensa and Arrow use).
    pub fn signatures_of_flat(&self, hashes: &[u64], offsets: &[u64]) -> Result<Vec<u32>> {
        if offsets.is_empty() {
            return Err(Error::Argument(
                "offsets must hold at least one entry".into(),
            ));
        }
        let bad = offsets.windows(2).any(|w| w[0] > w[1])
            || offsets[0] != 0
            || offsets[offsets.len() - 1] != hashes.len() as u64;
        if bad {
            return Err(Error::Argument(format!(
                "offsets must rise from 0 to len(hashes) = {}",
                hashes.len()
            )));
        }
        let n = offsets.len() - 1;
        let mut sigs = vec![0u32; n * self.num_perm];
        sigs.par_chunks_mut(self.num_perm)
            .enumerate()
            .for_each(|(d, row)| {
                let (s, e) = (offsets[d] as usize, offsets[d + 1] as usize);
                self.signature_of_hashes(&hashes[s..e], row);
            });
        Ok(sigs)
    }
}

/// LSH parameters `(bands, rows)` for a threshold, chosen as datasketch does: the pair with
/// `bands * rows <= num_perm` minimising the weighted false-positive area (the S-curve below
/// the threshold) plus false-negative area (its complement above).
pub fn optimal_params(
    threshold: f64,
    num_perm: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> Result<(usize, usize)> {
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(Error::Argument(format!(
            "threshold must be strictly between 0 and 1, got {threshold}"
        )));
    }
    if num_perm == 0 || num_perm > MAX_NUM_PERM {
        // Past the limit no signature is made, and the search (every band and row count that
        // fits) ran for minutes before the MinHasher said so.
        return Err(Error::Argument(format!(
            "num_perm must be in 1..={MAX_NUM_PERM}, got {num_perm}"
        )));
    }
    let mut best = (f64::INFINITY, (1, 1));
    for b in 1..=num_perm {
        for r in 1..=num_perm / b {
            let p = |s: f64| candidate_probability(s, b, r);
            let fp = integrate(p, 0.0, threshold);
            let fne = integrate(|s| 1.0 - p(s), threshold, 1.0);
            let err = fp * fp_weight + fne * fn_weight;
            if err < best.0 {
                best = (err, (b, r));
            }
        }
    }
    Ok(best.1)
}

/// Probability that two documents of Jaccard `s` share at least one of `b` bands of `r` rows.
pub fn candidate_probability(s: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
}

/// Composite Simpson's rule; the integrands are smooth polynomials, so 200 panels give
/// datasketch's (quadpack) values to far better than the gaps between candidates.
fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    const N: usize = 200;
    let h = (hi - lo) / N as f64;
    let mut sum = f(lo) + f(hi);
    for k in 1..N {
        let w = if k % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(lo + k as f64 * h);
    }
    sum * h / 3.0
}

/// The key of band `j` from that band's rows, with `j` mixed in: equal keys mean equal
/// bands at the same position (up to 64-bit collisions).
#[inline]
pub fn band_key(rows: &[u32], j: usize) -> u64 {
    let mut h = K0 ^ (j as u64).wrapping_mul(K1);
    for pair in rows.chunks(2) {
        let w = pair[0] as u64 | (pair.get(1).copied().unwrap_or(0) as u64) << 32;
        h = fold_mul(h ^ w, K2);
    }
    fold_mul(h ^ rows.len() as u64, K0)
}

/// All `bands` keys of one signature (`bands * rows <= sig.len()`).
pub fn band_keys(sig: &[u32], bands: usize, rows: usize, out: &mut [u64]) {
    for (j, key) in out.iter_mut().enumerate().take(bands) {
        *key = band_key(&sig[j * rows..(j + 1) * rows], j);
    }
}

/// Check `(bands, rows)` against a signature width.
pub fn check_bands(bands: usize, rows: usize, num_perm: usize) -> Result<()> {
    if bands == 0 || rows == 0 || bands.saturating_mul(rows) > num_perm {
        return Err(Error::Argument(format!(
            "bands ({bands}) x rows ({rows}) must be positive and at most num_perm ({num_perm})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(h: &MinHasher, text: &str) -> Vec<u32> {
        let mut out = vec![0; h.num_perm];
        h.signature(text, Lang::Python, &mut Vec::new(), &mut out);
        out
    }

    #[test]
    fn tail_word_is_the_zero_padded_word() {
        let bytes: Vec<u8> = (0..7u8).map(|i| 0x81 ^ i.wrapping_mul(37)).collect();
        for n in 1..=7 {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(tail_word(&bytes[..n]), u64::from_le_bytes(w), "{n} bytes");
        }
        // Pinned: a signature's hashes must not change between versions.
        assert_eq!(hash_bytes(b"", 0), 0x82ff_95c5_8569_45be);
        assert_eq!(hash_bytes(b"abc", 1), 0x23e8_f347_717f_161c);
        assert_eq!(hash_bytes(b"identifier_x", 2), 0x4823_3967_4413_84a0);
    }

    #[test]
    fn affine_is_exact_mod_p() {
        let cases = [
            (1, 0, 0),
            (MERSENNE_61 - 1, MERSENNE_61 - 1, MERSENNE_61 - 1),
            (12345, MERSENNE_61 - 2, 7),
            (0x1234_5678_9abc, 0x0fed_cba9_8765_4321 & MERSENNE_61, 99),
        ];
        for (a, h, b) in cases {
            let want = ((a as u128 * h as u128 + b as u128) % MERSENNE_61 as u128) as u64;
            assert_eq!(affine61(a, h, b), want, "a={a} h={h} b={b}");
        }
        assert_eq!(
            reduce61(u64::MAX),
            (u64::MAX as u128 % MERSENNE_61 as u128) as u64
        );
        assert_eq!(reduce61(MERSENNE_61), 0);
    }

    #[test]
    fn first_seen_gives_each_hash_its_first_document() {
        let mut seen = FirstSeen::default();
        let (a, b, c) = ([1, 2], [1, 3], [2, 2]);
        assert_eq!(seen.first(&[a, b, a], 10), vec![10, 11, 10]);
        assert_eq!(seen.first(&[c, b, c, a], 13), vec![13, 11, 13, 10]);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen.first(&[], 17), Vec::<u64>::new());
    }

    #[test]
    fn reformatting_keeps_shingles() {
        let a = "def f(x):\n    return x + 1\n";
        let b = "def f( x ):\n\n        return x+1\n";
        assert_eq!(
            shingle_set(a, Lang::Python, 3),
            shingle_set(b, Lang::Python, 3)
        );
        let c = "def f(x):\n    return x + 2\n";
        assert_ne!(
            shingle_set(a, Lang::Python, 3),
            shingle_set(c, Lang::Python, 3)
        );
    }

    #[test]
    fn tiny_and_empty_documents() {
        let mut v = Vec::new();
        shingles("", Lang::Python, 5, &mut v);
        assert!(v.is_empty());
        shingles("  \n\t\n", Lang::Python, 5, &mut v);
        assert!(v.is_empty());
        shingles("x = 1", Lang::Python, 5, &mut v);
        assert_eq!(v.len(), 1, "fewer pieces than n: one shingle of them all");
        let h = MinHasher::new(16, 5, 1).unwrap();
        assert!(sig(&h, "").iter().all(|&x| x == u32::MAX));
        assert_eq!(sig(&h, "x = 1"), sig(&h, "x  =  1\n"));
    }

    #[test]
    fn deterministic_for_a_seed() {
        let text = "for i in range(10):\n    print(i * i)\n";
        let h1 = MinHasher::new(64, 3, 7).unwrap();
        let h2 = MinHasher::new(64, 3, 7).unwrap();
        let h3 = MinHasher::new(64, 3, 8).unwrap();
        assert_eq!(sig(&h1, text), sig(&h2, text));
        assert_ne!(sig(&h1, text), sig(&h3, text));
        let docs = vec![(text, Lang::Python); 3];
        let (all, counts) = h1.signatures(&docs);
        assert_eq!(&all[64..128], sig(&h1, text).as_slice());
        let mut v = Vec::new();
        shingles(text, Lang::Python, 3, &mut v);
        assert_eq!(counts, vec![v.len() as u32; 3]);
    }

    #[test]
    fn exact_pairs_and_content_hash() {
        let docs = [
            ("a = 1\nb = 2\nc = 3\n", Lang::Python),
            ("a = 1\nb = 2\nc = 4\n", Lang::Python),
            ("", Lang::Python),
        ];
        let j = exact_jaccard_pairs(&docs, 2, &[(0, 0), (0, 1), (0, 2)]);
        assert_eq!(j[0], 1.0);
        assert!(j[1] > 0.3 && j[1] < 1.0);
        assert_eq!(j[2], 0.0);
        assert_ne!(content_hash("a  b\n", false), content_hash("a b", false));
        assert_eq!(content_hash("a  b\r\n", true), content_hash("a b", true));
        assert_ne!(content_hash("ab", true), content_hash("a b", true));
    }

    #[test]
    fn content_hash_is_two_seeded_hashes() {
        // One pass computes what two `hash_bytes` passes did: the same values, every length.
        let mut state = 7u64;
        let bytes: Vec<u8> = (0..300).map(|_| splitmix64(&mut state) as u8).collect();
        for n in 0..bytes.len() {
            let b = &bytes[..n];
            assert_eq!(
                hash_bytes_twice(b),
                [hash_bytes(b, K1), hash_bytes(b, K2)],
                "{n} bytes"
            );
        }
        let text = "def f(x):\n    return x  # é\n";
        assert_eq!(
            content_hash(text, false),
            [
                hash_bytes(text.as_bytes(), K1),
                hash_bytes(text.as_bytes(), K2)
            ]
        );
    }

    #[test]
    fn estimate_tracks_exact_jaccard() {
        // Two synthetic sets with Jaccard 1/3: the estimate with 1024 perms is within
        // 4 standard errors (sqrt(J(1-J)/k) ~ 0.0147).
        let a: Vec<u64> = (0..3000).collect();
        let b: Vec<u64> = (1500..4500).collect();
        let exact = jaccard(&a, &b);
        assert!((exact - 1.0 / 3.0).abs() < 1e-12);
        let h = MinHasher::new(1024, 5, 3).unwrap();
        let hashed = |v: &[u64]| {
            v.iter()
                .map(|x| hash_bytes(&x.to_le_bytes(), 0))
                .collect::<Vec<_>>()
        };
        let (mut sa, mut sb) = (vec![0; 1024], vec![0; 1024]);
        h.signature_of_hashes(&hashed(&a), &mut sa);
        h.signature_of_hashes(&hashed(&b), &mut sb);
        assert!((estimate(&sa, &sb) - exact).abs() < 4.0 * 0.0148);
    }

    #[test]
    fn bucket_fallback_fills_small_sets() {
        // 5 shingles cannot fill 256 slots in 3 rounds: the rest come from the fallback,
        // still a MinHash per slot, so identical sets agree everywhere and a superset
        // agrees on about J of the slots.
        let h = MinHasher::new(256, 5, 9).unwrap();
        let small: Vec<u64> = (0..5u64).map(|x| mix64(x + 1)).collect();
        let (mut s1, mut s2) = (vec![0; 256], vec![0; 256]);
        h.signature_of_hashes(&small, &mut s1);
        h.signature_of_hashes(&small, &mut s2);
        assert_eq!(s1, s2);
        assert!(s1.iter().all(|&v| v != u32::MAX));
        let bigger: Vec<u64> = (0..10u64).map(|x| mix64(x + 1)).collect();
        h.signature_of_hashes(&bigger, &mut s2);
        let est = estimate(&s1, &s2);
        assert!((est - 0.5).abs() < 4.0 * (0.25f64 / 256.0).sqrt(), "{est}");
    }

    #[test]
    fn flat_layout_matches_and_rejects_bad_offsets() {
        let h = MinHasher::new(8, 5, 1).unwrap();
        let hashes = [5u64, 6, 7, 8, 9];
        let sigs = h.signatures_of_flat(&hashes, &[0, 2, 2, 5]).unwrap();
        let mut one = vec![0; 8];
        h.signature_of_hashes(&hashes[2..5], &mut one);
        assert_eq!(&sigs[16..24], one.as_slice());
        assert!(sigs[8..16].iter().all(|&x| x == u32::MAX));
        assert!(h.signatures_of_flat(&hashes, &[0, 3, 2, 5]).is_err());
        assert!(h.signatures_of_flat(&hashes, &[0, 4]).is_err());
        assert!(h.signatures_of_flat(&hashes, &[]).is_err());
    }

    #[test]
    fn params_like_datasketch() {
        // The Python tests compare against datasketch itself; here the S-curve's shape.
        let (b, r) = optimal_params(0.7, 256, 0.5, 0.5).unwrap();
        assert!(b * r <= 256);
        let at = |s| candidate_probability(s, b, r);
        assert!(at(0.9) > 0.99 && at(0.3) < 0.05);
        assert!(optimal_params(1.0, 256, 0.5, 0.5).is_err());
        // Refused before the search, which takes minutes at a million.
        assert!(optimal_params(0.7, 1_000_000, 0.5, 0.5).is_err());
        assert!(MinHasher::new(0, 5, 1).is_err());
        assert!(MinHasher::new(MAX_NUM_PERM + 1, 5, 1).is_err());
        assert!(check_bands(10, 30, 256).is_err());
    }

    #[test]
    fn band_keys_depend_on_band_position() {
        let sig = [1u32, 2, 1, 2, 3, 3];
        let mut keys = [0u64; 3];
        band_keys(&sig, 3, 2, &mut keys);
        assert_ne!(keys[0], keys[1], "same rows, different band");
        let mut again = [0u64; 3];
        band_keys(&sig, 3, 2, &mut again);
        assert_eq!(keys, again);
    }
}
