//! BPE training over counted words of symbols (bytes and identifier-vocabulary tokens).
//!
//! HF tokenizers' BpeTrainer starts from characters only; codemill's words start from bytes
//! *and* identifier tokens, so BPE can learn merges such as ` self` + `.` across them. The
//! algorithm is the classic one: pair counts, pair -> words index, a lazy max-heap, and
//! count deltas at each merge site.
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub struct Word {
    pub syms: Vec<u32>,
    pub count: u64,
}

#[inline]
fn key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// Learns up to `num_merges` merges; merge `k` creates id `first_id + k`. Stops early when no
/// pair occurs at least `min_count` times. Deterministic: ties go to the smaller pair.
pub fn train(
    words: &mut [Word],
    first_id: u32,
    num_merges: usize,
    min_count: u64,
) -> Vec<(u32, u32)> {
    let mut counts: FxHashMap<u64, i64> = FxHashMap::default();
    let mut where_: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    for (w, word) in words.iter().enumerate() {
        for p in word.syms.windows(2) {
            let k = key(p[0], p[1]);
            *counts.entry(k).or_default() += word.count as i64;
            let list = where_.entry(k).or_default();
            if list.last() != Some(&(w as u32)) {
                list.push(w as u32);
            }
        }
    }
    let mut heap: BinaryHeap<(i64, Reverse<u64>)> =
        counts.iter().map(|(&k, &c)| (c, Reverse(k))).collect();
    let mut merges = Vec::with_capacity(num_merges);
    let mut seen = vec![u32::MAX; words.len()];
    let min_count = min_count.max(1) as i64;
    let mut out = Vec::new();
    while merges.len() < num_merges {
        let Some((c, Reverse(k))) = heap.pop() else {
            break;
        };
        let current = counts.get(&k).copied().unwrap_or(0);
        if current != c {
            if current > 0 {
                heap.push((current, Reverse(k)));
            }
            continue;
        }
        if c < min_count {
            break;
        }
        let (a, b) = ((k >> 32) as u32, k as u32);
        let new = first_id + merges.len() as u32;
        let stamp = merges.len() as u32;
        merges.push((a, b));
        let mut touched: Vec<u64> = Vec::new();
        for w in where_.remove(&k).unwrap_or_default() {
            if seen[w as usize] == stamp {
                continue;
            }
            seen[w as usize] = stamp;
            let word = &mut words[w as usize];
            let wc = word.count as i64;
            let syms = &word.syms;
            out.clear();
            let mut i = 0;
            let mut changed = false;
            while i < syms.len() {
                if i + 1 < syms.len() && syms[i] == a && syms[i + 1] == b {
                    changed = true;
                    if let Some(&x) = out.last() {
                        *counts.entry(key(x, a)).or_default() -= wc;
                        *counts.entry(key(x, new)).or_default() += wc;
                        touched.push(key(x, new));
                        where_.entry(key(x, new)).or_default().push(w);
                    }
                    if i + 2 < syms.len() {
                        let y = syms[i + 2];
                        *counts.entry(key(b, y)).or_default() -= wc;
                        *counts.entry(key(new, y)).or_default() += wc;
                        touched.push(key(new, y));
                        where_.entry(key(new, y)).or_default().push(w);
                    }
                    *counts.entry(k).or_default() -= wc;
                    out.push(new);
                    i += 2;
                } else {
                    out.push(syms[i]);
                    i += 1;
                }
            }
            if changed {
                std::mem::swap(&mut word.syms, &mut out);
            }
        }
        counts.remove(&k);
        touched.sort_unstable();
        touched.dedup();
        for t in touched {
            let c = counts.get(&t).copied().unwrap_or(0);
            if c > 0 {
                heap.push((c, Reverse(t)));
            }
        }
    }
    merges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpe::Bpe;

    fn words(list: &[(&str, u64)]) -> Vec<Word> {
        list.iter()
            .map(|&(s, c)| Word {
                syms: s.bytes().map(u32::from).collect(),
                count: c,
            })
            .collect()
    }

    #[test]
    fn learns_the_most_frequent_pairs() {
        let mut w = words(&[
            ("hug", 10),
            ("pug", 5),
            ("pun", 12),
            ("bun", 4),
            ("hugs", 5),
        ]);
        let merges = train(&mut w, 256, 3, 1);
        // "ug" (20) first, then "un" (16), then "h"+"ug" (15).
        assert_eq!(
            merges,
            [
                (b'u' as u32, b'g' as u32),
                (b'u' as u32, b'n' as u32),
                (b'h' as u32, 256)
            ]
        );
        assert_eq!(w[0].syms, [258]);
    }

    #[test]
    fn counts_stay_exact_through_repeated_pairs() {
        let mut w = words(&[("aaaa", 3), ("abab", 2), ("aaa", 1)]);
        let merges = train(&mut w, 256, 10, 1);
        // Encoding each training word with the learned merges reproduces the trained words.
        let bpe = Bpe::new(merges, 256);
        for (orig, word) in ["aaaa", "abab", "aaa"].iter().zip(&w) {
            let mut s: Vec<u32> = orig.bytes().map(u32::from).collect();
            bpe.merge(&mut s);
            assert_eq!(s, word.syms, "{orig}");
        }
    }

    #[test]
    fn stops_at_min_count() {
        let mut w = words(&[("ab", 1), ("cd", 1)]);
        assert!(train(&mut w, 256, 10, 2).is_empty());
    }
}
