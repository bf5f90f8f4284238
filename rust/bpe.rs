//! Byte-level BPE encoding: apply learned merges to a chunk's symbols, lowest rank first.
//!
//! Short chunks (the common case) use a scan over a small array; long ones a binary heap
//! over a linked list, O(n log n). Chunks are capped (see `chunk.rs`), so total cost is
//! linear in the input. Both paths pick the lowest rank, leftmost on ties, so they agree.
use crate::bloom::Bloom;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NO_MERGE: u32 = u32::MAX;
const SCAN_LIMIT: usize = 256;
/// Most calls (stage 2 on a line's ~13 stage-1 tokens, stage 1 on a piece) are this short.
const SMALL: usize = 32;

pub struct Bpe {
    ranks: RankTable,
    /// The pairs of `ranks`, to answer "no merge" without a probe: a word's BPE looks up many
    /// pairs that merge in no rank (a third of a first pass's lookups), and a probe of the rank
    /// table (256 KB for 16k merges) is a likely cache miss on unseen text; the filter is 16 KB.
    /// First pass +3.5-5% (`Bloom` on and off in alternate passes inside one process, 54 pairs,
    /// twice).
    rank_filter: Bloom,
    /// Boundaries some merge can cross: (last leaf of A, first leaf of B) for every merge
    /// (A, B), where leaves are the ids below `first_id` a token is made of. Between adjacent
    /// symbols x|y outside this set no merge ever applies, so the two sides merge
    /// independently: `merge` equals merging each side alone and concatenating. A Bloom filter
    /// (32 bits a pair, 64 KB for 16k merges), not a table: a false "may join" only leaves two
    /// runs as one, which merges to the same ids, and most boundaries a first pass tests are
    /// joins, where a table had to be probed (256 KB, a likely cache miss) to say so. First
    /// pass +4.9% and +3.7%, steady state +5.7% (Bloom and table in alternate passes inside one
    /// process); 16 or 64 bits a pair measured the same.
    joins: Bloom,
    /// Per leaf id: bit 0 set if it ends the left side of some entry of `joins`, bit 1 if it
    /// starts the right side. A quarter of a first pass's boundaries fail this one-byte test
    /// (an L1-resident table) before `joins` is asked.
    join_sides: Vec<u8>,
    first_id: u32,
    merges: Vec<(u32, u32)>,
}

/// Token ids must stay below this so that a pair and its rank pack into one u64 slot.
pub const MAX_ID: u32 = 1 << 20;

/// (left, right) -> rank as open addressing over packed u64 slots: `left:20 right:20 rank:24`.
/// One 8-byte load per probe and half-empty slots make lookups (the hot spot of encoding:
/// about three per merge) several times cheaper than a general-purpose hash map.
struct RankTable {
    slots: Vec<u64>,
    shift: u32,
}

const EMPTY: u64 = u64::MAX;

impl RankTable {
    fn new(merges: &[(u32, u32)]) -> Self {
        let cap = (merges.len() * 2).next_power_of_two().max(16);
        let mut t = RankTable {
            slots: vec![EMPTY; cap],
            shift: 64 - cap.trailing_zeros(),
        };
        for (r, &(a, b)) in merges.iter().enumerate() {
            let pair = Self::pair(a, b);
            let mut i = t.index(pair);
            loop {
                let slot = t.slots[i];
                if slot == EMPTY {
                    t.slots[i] = (pair << 24) | r as u64;
                    break;
                }
                if slot >> 24 == pair {
                    break; // a repeated pair never wins over its first rank
                }
                i = (i + 1) & (t.slots.len() - 1);
            }
        }
        t
    }

    #[inline]
    fn pair(a: u32, b: u32) -> u64 {
        (u64::from(a) << 20) | u64::from(b)
    }

    #[inline]
    fn index(&self, pair: u64) -> usize {
        (pair.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, a: u32, b: u32) -> u32 {
        let pair = Self::pair(a, b);
        let mask = self.slots.len() - 1;
        let mut i = self.index(pair);
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return NO_MERGE;
            }
            if slot >> 24 == pair {
                return (slot & 0xFF_FFFF) as u32;
            }
            i = (i + 1) & mask;
        }
    }
}

/// A Bloom filter of `pairs` with room for `room` times as many (8 bits a pair each time).
fn pair_bloom(pairs: &[(u32, u32)], room: usize) -> Bloom {
    let mut f = Bloom::new(pairs.len() * room);
    for &(a, b) in pairs {
        f.insert(RankTable::pair(a, b));
    }
    f
}

impl Bpe {
    /// Merges in rank order; ids (and `first_id + merges.len()`) must be below `MAX_ID`.
    pub fn new(merges: Vec<(u32, u32)>, first_id: u32) -> Self {
        debug_assert!(first_id as usize + merges.len() <= MAX_ID as usize);
        // (first leaf, last leaf) of each merged token, in id order.
        let mut ends: Vec<(u32, u32)> = Vec::with_capacity(merges.len());
        let leaf = |ends: &[(u32, u32)], t: u32| -> (u32, u32) {
            match t.checked_sub(first_id) {
                Some(k) if (k as usize) < ends.len() => ends[k as usize],
                _ => (t, t),
            }
        };
        let mut joins = Vec::with_capacity(merges.len());
        for &(a, b) in &merges {
            let (fa, la) = leaf(&ends, a);
            let (fb, lb) = leaf(&ends, b);
            joins.push((la, fb));
            ends.push((fa, lb));
        }
        let top = joins
            .iter()
            .map(|&(a, b)| a.max(b) as usize + 1)
            .max()
            .unwrap_or(0);
        let mut join_sides = vec![0u8; top];
        for &(a, b) in &joins {
            join_sides[a as usize] |= 1;
            join_sides[b as usize] |= 2;
        }
        Bpe {
            ranks: RankTable::new(&merges),
            rank_filter: pair_bloom(&merges, 1),
            joins: pair_bloom(&joins, 4),
            join_sides,
            first_id,
            merges,
        }
    }

    /// Whether a merge may cross the boundary between adjacent symbols `x` and `y` (both
    /// leaves: ids below `first_id`, as before merging): true whenever one can, and for ~3% of
    /// the boundaries none can (see `joins`), so false means the two sides merge independently.
    #[inline]
    pub fn can_join(&self, x: u32, y: u32) -> bool {
        let side = |t: u32, bit: u8| {
            self.join_sides
                .get(t as usize)
                .is_some_and(|&s| s & bit != 0)
        };
        side(x, 1) && side(y, 2) && self.joins.may_contain(RankTable::pair(x, y))
    }

    /// The single token `x` and `y` merge into, if a merge joins exactly them.
    #[inline]
    pub fn pair(&self, x: u32, y: u32) -> Option<u32> {
        let r = self.rank(x, y);
        (r != NO_MERGE).then(|| self.first_id + r)
    }

    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    pub fn first_id(&self) -> u32 {
        self.first_id
    }

    #[inline]
    fn rank(&self, a: u32, b: u32) -> u32 {
        if !self.rank_filter.may_contain(RankTable::pair(a, b)) {
            return NO_MERGE;
        }
        self.ranks.get(a, b)
    }

    /// Merges `syms` in place.
    pub fn merge(&self, syms: &mut Vec<u32>) {
        if syms.len() < 2 {
            return;
        }
        if syms.len() <= SMALL {
            self.merge_small(syms)
        } else if syms.len() <= SCAN_LIMIT + 1 {
            self.merge_scan(syms)
        } else {
            self.merge_heap(syms)
        }
    }

    /// Short inputs: plain scalar loops over small stack arrays. Measured ~3x fewer
    /// instructions than the vectorised scan here, whose setup, memset and memmove calls
    /// dominate at n ~ 13.
    fn merge_small(&self, syms: &mut Vec<u32>) {
        let mut len = syms.len();
        let mut s = [0u32; SMALL];
        let mut ranks = [NO_MERGE; SMALL];
        s[..len].copy_from_slice(syms);
        for i in 0..len - 1 {
            ranks[i] = self.rank(s[i], s[i + 1]);
        }
        loop {
            let (mut best, mut at) = (NO_MERGE, 0);
            for (i, &r) in ranks[..len - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    at = i;
                }
            }
            if best == NO_MERGE {
                break;
            }
            s[at] = self.first_id + best;
            len -= 1;
            for i in at + 1..len {
                s[i] = s[i + 1];
                ranks[i] = ranks[i + 1];
            }
            if at > 0 {
                ranks[at - 1] = self.rank(s[at - 1], s[at]);
            }
            if at + 1 < len {
                ranks[at] = self.rank(s[at], s[at + 1]);
            }
            if len == 1 {
                break;
            }
        }
        syms.clear();
        syms.extend_from_slice(&s[..len]);
    }

    fn merge_scan(&self, syms: &mut Vec<u32>) {
        // A stack buffer: this runs once per chunk and piece, where a heap allocation costs
        // as much as the merging itself.
        let mut buf = [NO_MERGE; SCAN_LIMIT];
        let mut len = syms.len() - 1;
        for (r, w) in buf.iter_mut().zip(syms.windows(2)) {
            *r = self.rank(w[0], w[1]);
        }
        loop {
            let ranks = &mut buf[..len];
            // Two passes that vectorise (min, then first position of it) beat one pass that
            // tracks the index through a dependent cmov chain.
            let best = ranks.iter().copied().min().unwrap_or(NO_MERGE);
            if best == NO_MERGE {
                break;
            }
            let at = ranks.iter().position(|&r| r == best).unwrap_or(0);
            syms[at] = self.first_id + best;
            syms.remove(at + 1);
            ranks.copy_within(at + 1.., at);
            len -= 1;
            if at > 0 {
                buf[at - 1] = self.rank(syms[at - 1], syms[at]);
            }
            if at < len {
                buf[at] = self.rank(syms[at], syms[at + 1]);
            }
        }
    }

    fn merge_heap(&self, syms: &mut Vec<u32>) {
        let n = syms.len();
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            let r = self.rank(syms[i], syms[i + 1]);
            if r != NO_MERGE {
                heap.push(Reverse((r, i, syms[i], syms[i + 1])));
            }
        }
        while let Some(Reverse((r, i, a, b))) = heap.pop() {
            let j = next[i];
            // Stale entries: a side was merged away or changed since the push.
            if !alive[i] || j >= n || syms[i] != a || syms[j] != b {
                continue;
            }
            syms[i] = self.first_id + r;
            alive[j] = false;
            next[i] = next[j];
            if next[i] < n {
                prev[next[i]] = i;
            }
            let p = prev[i];
            if p < n {
                let rp = self.rank(syms[p], syms[i]);
                if rp != NO_MERGE {
                    heap.push(Reverse((rp, p, syms[p], syms[i])));
                }
            }
            let q = next[i];
            if q < n {
                let rq = self.rank(syms[i], syms[q]);
                if rq != NO_MERGE {
                    heap.push(Reverse((rq, i, syms[i], syms[q])));
                }
            }
        }
        let mut w = 0;
        for i in 0..n {
            if alive[i] {
                syms[w] = syms[i];
                w += 1;
            }
        }
        syms.truncate(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Vec<u32> {
        s.bytes().map(u32::from).collect()
    }

    #[test]
    fn merges_lowest_rank_first() {
        // 256 = "ab", 257 = "abc", 258 = "bc" (never reached for "abc": "ab" ranks first)
        let bpe = Bpe::new(vec![(97, 98), (256, 99), (98, 99)], 256);
        let mut s = bytes("abcbc");
        bpe.merge(&mut s);
        assert_eq!(s, [257, 258]);
        let mut s = bytes("aaa");
        let bpe = Bpe::new(vec![(97, 97)], 256);
        bpe.merge(&mut s);
        assert_eq!(s, [256, 97], "leftmost pair wins a tie");
    }

    /// Merging each run between boundaries `can_join` rules out, alone, equals merging all.
    #[test]
    fn runs_between_unjoinable_boundaries_merge_independently() {
        let mut merges: Vec<(u32, u32)> = Vec::new();
        let mut x = 99u64;
        for id in 256u32..340 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = if id > 256 && x % 2 == 0 {
                256 + (x >> 20) as u32 % (id - 256)
            } else {
                97 + (x >> 8) as u32 % 6
            };
            let b = if id > 256 && x % 5 == 0 {
                256 + (x >> 30) as u32 % (id - 256)
            } else {
                97 + (x >> 40) as u32 % 6
            };
            merges.push((a, b));
        }
        let bpe = Bpe::new(merges, 256);
        let mut splits = 0;
        for seed in 0..400u64 {
            let mut y = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let len = 2 + (seed % 60) as usize;
            let syms: Vec<u32> = (0..len)
                .map(|_| {
                    y = y.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
                    97 + (y >> 33) as u32 % 7 // 'g' (103) is in no merge
                })
                .collect();
            let mut whole = syms.clone();
            bpe.merge(&mut whole);
            let mut by_runs = Vec::new();
            let mut start = 0;
            for i in 1..=len {
                if i < len && bpe.can_join(syms[i - 1], syms[i]) {
                    continue;
                }
                splits += usize::from(i < len);
                let mut run = syms[start..i].to_vec();
                bpe.merge(&mut run);
                by_runs.extend(run);
                start = i;
            }
            assert_eq!(whole, by_runs, "seed {seed}");
        }
        assert!(splits > 100, "the test must exercise splits ({splits})");
    }

    #[test]
    fn scan_and_heap_agree() {
        // A small pseudo-random merge table over a 4-letter alphabet.
        let mut merges: Vec<(u32, u32)> = Vec::new();
        let mut x = 12345u64;
        for id in 256u32..316 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = if id > 256 && x % 3 == 0 {
                256 + (x >> 20) as u32 % (id - 256)
            } else {
                97 + (x >> 8) as u32 % 4
            };
            merges.push((a, 97 + (x >> 40) as u32 % 4));
        }
        let bpe = Bpe::new(merges, 256);
        for len in [2usize, 3, 5, 17, 31, 32, 33, 47, 48, 49, 200] {
            for seed in 0..20u64 {
                let mut y = seed * 7919 + len as u64;
                let syms: Vec<u32> = (0..len)
                    .map(|_| {
                        y = y.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
                        97 + (y >> 33) as u32 % 4
                    })
                    .collect();
                let (mut s1, mut s2) = (syms.clone(), syms.clone());
                bpe.merge_scan(&mut s1);
                bpe.merge_heap(&mut s2);
                assert_eq!(s1, s2, "len {len} seed {seed}");
                if len <= SMALL {
                    let mut s3 = syms.clone();
                    bpe.merge_small(&mut s3);
                    assert_eq!(s1, s3, "small, len {len} seed {seed}");
                }
            }
        }
    }
}
