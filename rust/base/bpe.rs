//! Byte-level BPE over an existing vocabulary: merge the adjacent pair of lowest rank,
//! leftmost on ties, until none is left. One algorithm covers both sources: tiktoken rank
//! files (a pair's rank is the rank of the token it makes) and `tokenizer.json` merge lists
//! (a pair's rank is its merge's position). Pieces up to `SCAN` symbols merge by scanning a
//! small array; longer ones through a heap over a linked list (O(n log n)).
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const SCAN: usize = 128;
const NONE: u32 = u32::MAX;

/// ((left id, right id), (rank, merged id)): one merge rule.
type PairRule = ((u32, u32), (u32, u32));

/// (left id, right id) -> (rank, merged id), open addressing over parallel arrays.
struct PairTable {
    keys: Vec<u64>,
    vals: Vec<u64>,
    mask: usize,
}

const EMPTY: u64 = u64::MAX;

impl PairTable {
    fn new(pairs: &[PairRule]) -> Self {
        let cap = (pairs.len() * 2).next_power_of_two().max(16);
        let mut t = PairTable {
            keys: vec![EMPTY; cap],
            vals: vec![0; cap],
            mask: cap - 1,
        };
        for &((a, b), (rank, id)) in pairs {
            let k = key(a, b);
            let mut i = t.index(k);
            loop {
                if t.keys[i] == EMPTY {
                    t.keys[i] = k;
                    t.vals[i] = (u64::from(rank) << 32) | u64::from(id);
                    break;
                }
                if t.keys[i] == k {
                    // The same pair twice: the lower rank wins, as it would in the encoder.
                    if (t.vals[i] >> 32) as u32 > rank {
                        t.vals[i] = (u64::from(rank) << 32) | u64::from(id);
                    }
                    break;
                }
                i = (i + 1) & t.mask;
            }
        }
        t
    }

    #[inline]
    fn index(&self, k: u64) -> usize {
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize & self.mask
    }

    /// (rank, merged id) of the pair, rank `NONE` when it never merges.
    #[inline]
    fn get(&self, a: u32, b: u32) -> (u32, u32) {
        let k = key(a, b);
        let mut i = self.index(k);
        loop {
            let slot = self.keys[i];
            if slot == k {
                let v = self.vals[i];
                return ((v >> 32) as u32, v as u32);
            }
            if slot == EMPTY {
                return (NONE, NONE);
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[inline]
fn key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

pub struct RankBpe {
    pairs: PairTable,
    byte_ids: [u32; 256],
    /// Whole tokens by their bytes: tiktoken (and HF with `ignore_merges`) emit a piece that
    /// is itself a token as that token, before any merging.
    whole: FxHashMap<Box<[u8]>, u32>,
    /// The same for tokens of up to 15 bytes, keyed inline (bytes + length): the hot lookup
    /// of encoding touches one table slot instead of a slot and a heap key.
    short: FxHashMap<u128, u32>,
    whole_first: bool,
}

/// A piece of up to 15 bytes as one integer (its bytes, then its length in the top byte).
#[inline]
fn short_key(piece: &[u8]) -> Option<u128> {
    if piece.len() > 15 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..piece.len()].copy_from_slice(piece);
    buf[15] = piece.len() as u8;
    Some(u128::from_le_bytes(buf))
}

impl RankBpe {
    /// `tokens[id]` are the token bytes (None for unused ids); `merges` are (left, right)
    /// ids in rank order, or None to derive them from the ranks (tiktoken: every split of a
    /// token into two tokens merges into it, with the token's own rank).
    pub fn new(
        tokens: &[Option<Vec<u8>>],
        merges: Option<&[(u32, u32)]>,
        whole_first: bool,
    ) -> Result<Self, String> {
        let mut whole: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        for (id, t) in tokens.iter().enumerate() {
            if let Some(t) = t {
                whole
                    .entry(t.clone().into_boxed_slice())
                    .or_insert(id as u32);
            }
        }
        let mut byte_ids = [NONE; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            *slot = *whole
                .get(&[b as u8][..])
                .ok_or_else(|| format!("byte 0x{b:02X} has no token"))?;
        }
        let mut pairs = Vec::new();
        match merges {
            Some(list) => {
                for (rank, &(a, b)) in list.iter().enumerate() {
                    let bytes_of = |id: u32| {
                        tokens
                            .get(id as usize)
                            .and_then(Option::as_ref)
                            .ok_or_else(|| format!("merge {rank} names unknown token id {id}"))
                    };
                    let mut merged = bytes_of(a)?.clone();
                    merged.extend_from_slice(bytes_of(b)?);
                    let id = *whole.get(merged.as_slice()).ok_or_else(|| {
                        format!("merge {rank} makes {merged:?}, which is not in the vocabulary")
                    })?;
                    pairs.push(((a, b), (rank as u32, id)));
                }
            }
            None => {
                for (id, t) in tokens.iter().enumerate() {
                    let Some(t) = t else { continue };
                    for k in 1..t.len() {
                        if let (Some(&a), Some(&b)) = (whole.get(&t[..k]), whole.get(&t[k..])) {
                            pairs.push(((a, b), (id as u32, id as u32)));
                        }
                    }
                }
            }
        }
        let short = whole
            .iter()
            .filter_map(|(k, &id)| short_key(k).map(|key| (key, id)))
            .collect();
        Ok(RankBpe {
            pairs: PairTable::new(&pairs),
            byte_ids,
            whole,
            short,
            whole_first,
        })
    }

    pub fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        self.whole.get(bytes).copied()
    }

    /// The token a whole piece encodes to without merging, when whole-first applies.
    #[inline]
    pub fn whole_token(&self, piece: &[u8]) -> Option<u32> {
        if !self.whole_first {
            return None;
        }
        match short_key(piece) {
            Some(key) => self.short.get(&key).copied(),
            None => self.whole.get(piece).copied(),
        }
    }

    /// Appends the ids of `piece` to `out`.
    pub fn encode(&self, piece: &[u8], out: &mut Vec<u32>) {
        if piece.len() == 1 {
            out.push(self.byte_ids[piece[0] as usize]);
            return;
        }
        if let Some(id) = self.whole_token(piece) {
            return out.push(id);
        }
        if piece.len() <= SCAN {
            self.merge_scan(piece, out)
        } else {
            self.merge_heap(piece, out)
        }
    }

    fn merge_scan(&self, piece: &[u8], out: &mut Vec<u32>) {
        let mut ids: Vec<u32> = piece.iter().map(|&b| self.byte_ids[b as usize]).collect();
        // ranks[i]: (rank, id) of the pair (ids[i], ids[i + 1]).
        let mut ranks: Vec<(u32, u32)> =
            ids.windows(2).map(|w| self.pairs.get(w[0], w[1])).collect();
        loop {
            let mut best = NONE;
            let mut at = 0;
            for (i, &(r, _)) in ranks.iter().enumerate() {
                if r < best {
                    best = r;
                    at = i;
                }
            }
            if best == NONE {
                break;
            }
            ids[at] = ranks[at].1;
            ids.remove(at + 1);
            ranks.remove(at);
            if at < ranks.len() {
                ranks[at] = self.pairs.get(ids[at], ids[at + 1]);
            }
            if at > 0 {
                ranks[at - 1] = self.pairs.get(ids[at - 1], ids[at]);
            }
        }
        out.extend_from_slice(&ids);
    }

    fn merge_heap(&self, piece: &[u8], out: &mut Vec<u32>) {
        let n = piece.len();
        let mut ids: Vec<u32> = piece.iter().map(|&b| self.byte_ids[b as usize]).collect();
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        // (rank, left position, left id, right id); stale entries are skipped when popped.
        let mut heap = BinaryHeap::new();
        for i in 0..n - 1 {
            let (r, _) = self.pairs.get(ids[i], ids[i + 1]);
            if r != NONE {
                heap.push(Reverse((r, i, ids[i], ids[i + 1])));
            }
        }
        while let Some(Reverse((r, i, a, b))) = heap.pop() {
            let j = next[i];
            if !alive[i] || ids[i] != a || j >= n || ids[j] != b {
                continue;
            }
            let (r2, id) = self.pairs.get(a, b);
            debug_assert_eq!(r, r2);
            ids[i] = id;
            alive[j] = false;
            next[i] = next[j];
            if next[i] < n {
                prev[next[i]] = i;
            }
            if next[i] < n {
                let (r, _) = self.pairs.get(ids[i], ids[next[i]]);
                if r != NONE {
                    heap.push(Reverse((r, i, ids[i], ids[next[i]])));
                }
            }
            let p = prev[i];
            if p < n {
                let (r, _) = self.pairs.get(ids[p], ids[i]);
                if r != NONE {
                    heap.push(Reverse((r, p, ids[p], ids[i])));
                }
            }
        }
        out.extend((0..n).filter(|&i| alive[i]).map(|i| ids[i]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> RankBpe {
        // Bytes are their own ids; then "ab"=256, "abc"=257, "bc"=258 (by rank).
        let mut tokens: Vec<Option<Vec<u8>>> = (0..=255u8).map(|b| Some(vec![b])).collect();
        tokens.push(Some(b"ab".to_vec()));
        tokens.push(Some(b"abc".to_vec()));
        tokens.push(Some(b"bc".to_vec()));
        RankBpe::new(&tokens, None, false).unwrap()
    }

    #[test]
    fn lowest_rank_first_and_heap_agrees_with_scan() {
        let bpe = toy();
        let mut out = Vec::new();
        bpe.encode(b"abcbc", &mut out);
        assert_eq!(out, [257, 258]);
        let long: Vec<u8> = b"abcbcxab".iter().cycle().take(1000).copied().collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        bpe.merge_scan(&long, &mut a);
        bpe.merge_heap(&long, &mut b);
        assert_eq!(a, b);
    }
}
