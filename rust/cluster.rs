//! Clusters of near-duplicates: candidate pairs from equal LSH band keys, joined by union-find.
//!
//! Candidates come as "star" edges: the documents sharing a band key, sorted by id, each
//! joined to the smallest. That is one edge per member instead of one per pair, gives the
//! same components, and is what a sort-based shuffle (the Ray engine) produces as well, so
//! both engines see the same edges and return the same clusters.
//!
//! `lsh_pairs` gives the pairs to check instead (for the estimate filter and `--verify`):
//! joining only to the bucket's smallest member would lose a member that fails against it
//! but matches another. Each member is paired with the `window` members before it in the
//! bucket (by id), so a bucket of at most `window + 1` gets all its pairs and a bigger one
//! at most `window` per member; the pairs left out are counted, never dropped silently.
use crate::minhash::{band_key, estimate};
use rayon::prelude::*;

/// Disjoint sets with path halving and union by size.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Join the sets of `a` and `b`; true when they were apart.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
        true
    }

    /// Each element's cluster label: the smallest member of its set, so labels do not
    /// depend on the order edges were joined in.
    pub fn labels(&mut self) -> Vec<u32> {
        let n = self.parent.len();
        let mut smallest = vec![u32::MAX; n];
        let roots: Vec<u32> = (0..n as u32).map(|x| self.find(x)).collect();
        for (x, &r) in roots.iter().enumerate() {
            let s = &mut smallest[r as usize];
            *s = (*s).min(x as u32);
        }
        roots.iter().map(|&r| smallest[r as usize]).collect()
    }
}

/// Labels of `n` documents joined by `edges` (the endpoints must be `< n`; the caller checks).
pub fn components(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
    let mut uf = UnionFind::new(n);
    for &(a, b) in edges {
        uf.union(a, b);
    }
    uf.labels()
}

/// Candidate edges of a row-major `docs × num_perm` signature matrix: for every band, the
/// documents with an equal band key, star-joined to the smallest. Documents with
/// `active[d] == false` (empty ones, exact duplicates already removed) take no part.
/// Edges come back sorted and unique, `(smaller, larger)`.
pub fn lsh_edges(
    sigs: &[u32],
    num_perm: usize,
    bands: usize,
    rows: usize,
    active: &[bool],
) -> Vec<(u32, u32)> {
    let (edges, _) = union_of_bands(bands, |j| {
        let keyed = band_buckets(sigs, num_perm, j, rows, active);
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=keyed.len() {
            if i == keyed.len() || keyed[i].0 != keyed[start].0 {
                out.extend((start + 1..i).map(|k| (keyed[start].1, keyed[k].1)));
                start = i;
            }
        }
        (out, 0)
    });
    edges
}

/// The distinct pairs of every band, sorted, and the sum of the bands' counts. `band(j)` gives
/// band `j`'s pairs, `(smaller, larger)` and distinct within the band (a document sits in one
/// bucket per band). Each thread takes an equal share of the bands and merges their pairs, one
/// band at a time, into a union of its own; the threads' unions are merged last. A near-duplicate
/// pair comes from most bands, and gathering every band's pairs before one sort held them all:
/// +114 MB for the 621,562 distinct pairs of 1.24 GB of code (14.2 M from its 36 bands), the
/// peak of its dedup, against +40 MB so.
fn union_of_bands<F>(bands: usize, band: F) -> (Vec<(u32, u32)>, u64)
where
    F: Fn(usize) -> (Vec<(u32, u32)>, u64) + Sync,
{
    let per_thread = bands.div_ceil(rayon::current_num_threads().max(1)).max(1);
    let (mut pairs, count) = (0..bands)
        .into_par_iter()
        .with_min_len(per_thread)
        .map(|j| {
            let (mut pairs, count) = band(j);
            pairs.sort_unstable();
            (pairs, count)
        })
        .reduce(
            || (Vec::new(), 0),
            |(a, ca), (b, cb)| (merge_distinct(a, b), ca + cb),
        );
    pairs.shrink_to_fit();
    (pairs, count)
}

/// The union of two sorted lists of distinct pairs, sorted and distinct, in the longer list's
/// buffer: the shorter one's pairs that it lacks are merged in from the back. A pair comes from
/// most bands, so few are new; a third list of both lengths made each thread hold its union
/// twice over (2.52 GB of code: +99-115 MB for 2.09 M distinct pairs, 16.7 MB).
fn merge_distinct(a: Vec<(u32, u32)>, b: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    let (mut long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut new = Vec::new();
    let mut i = 0;
    for &p in &short {
        while i < long.len() && long[i] < p {
            i += 1;
        }
        if i == long.len() || long[i] != p {
            new.push(p);
        }
    }
    drop(short);
    let (mut i, mut k) = (long.len(), new.len());
    long.resize(i + k, (0, 0));
    for w in (0..long.len()).rev() {
        if k == 0 {
            break; // the rest of `long` is in place
        }
        if i > 0 && long[i - 1] > new[k - 1] {
            long[w] = long[i - 1];
            i -= 1;
        } else {
            long[w] = new[k - 1];
            k -= 1;
        }
    }
    long
}

/// Sorted `(key, doc)` of one band over the active documents.
fn band_buckets(
    sigs: &[u32],
    num_perm: usize,
    j: usize,
    rows: usize,
    active: &[bool],
) -> Vec<(u64, u32)> {
    let mut keyed: Vec<(u64, u32)> = (0..active.len())
        .filter(|&d| active[d])
        .map(|d| {
            let band = &sigs[d * num_perm + j * rows..d * num_perm + (j + 1) * rows];
            (band_key(band, j), d as u32)
        })
        .collect();
    keyed.sort_unstable();
    keyed
}

/// Candidate pairs to check: in every band, each member of a bucket (documents with an
/// equal band key, sorted by id) paired with the up to `window` members before it. Returns
/// the distinct pairs `(smaller, larger)`, sorted, and the number of bucket pairs left out
/// by the window (counted per band: a left-out pair may still come from another band).
pub fn lsh_pairs(
    sigs: &[u32],
    num_perm: usize,
    bands: usize,
    rows: usize,
    active: &[bool],
    window: usize,
) -> (Vec<(u32, u32)>, u64) {
    union_of_bands(bands, |j| {
        let keyed = band_buckets(sigs, num_perm, j, rows, active);
        let mut out = Vec::new();
        let skipped = window_pairs(&keyed, window, &mut out);
        (out, skipped)
    })
}

/// The pairs of `lsh_pairs` from band keys already computed, as rows `(band, key, doc)` in any
/// order: a partition of the Ray engine's shuffle, which holds every row of its keys. The
/// distinct pairs, sorted, and the bucket pairs the window left out.
pub fn bucket_pairs(
    bands: &[u32],
    keys: &[u64],
    docs: &[u32],
    window: usize,
) -> (Vec<(u32, u32)>, u64) {
    let mut keyed: Vec<((u32, u64), u32)> = bands
        .iter()
        .zip(keys)
        .zip(docs)
        .map(|((&band, &key), &doc)| ((band, key), doc))
        .collect();
    keyed.sort_unstable();
    let mut out = Vec::new();
    let skipped = window_pairs(&keyed, window, &mut out);
    drop(keyed);
    out.sort_unstable();
    out.dedup(); // a pair found by two bands of the partition
    (out, skipped)
}

/// The one window rule: in each run of equal keys of `keyed` (sorted by key, then id), every
/// member paired with the up to `window` members before it, appended to `out`. Returns the
/// bucket pairs left out.
fn window_pairs<K: PartialEq>(keyed: &[(K, u32)], window: usize, out: &mut Vec<(u32, u32)>) -> u64 {
    let mut skipped = 0u64;
    let mut start = 0;
    for i in 1..=keyed.len() {
        if i < keyed.len() && keyed[i].0 == keyed[start].0 {
            continue;
        }
        let m = (i - start) as u64;
        let before = out.len() as u64;
        for b in start + 1..i {
            let lo = b.saturating_sub(window).max(start);
            out.extend((lo..b).map(|a| (keyed[a].1, keyed[b].1)));
        }
        skipped += m * m.saturating_sub(1) / 2 - (out.len() as u64 - before);
        start = i;
    }
    skipped
}

/// Estimated Jaccard (fraction of equal slots) of each pair of a row-major signature matrix.
pub fn pair_estimates(sigs: &[u32], num_perm: usize, pairs: &[(u32, u32)]) -> Vec<f32> {
    let row = |d: u32| &sigs[d as usize * num_perm..(d as usize + 1) * num_perm];
    pairs
        .par_iter()
        .map(|&(a, b)| estimate(row(a), row(b)) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_labels_are_smallest_members() {
        let labels = components(6, &[(4, 2), (2, 5), (1, 0)]);
        assert_eq!(labels, vec![0, 0, 2, 3, 2, 2]);
        let again = components(6, &[(1, 0), (5, 2), (2, 4)]);
        assert_eq!(labels, again, "edge order does not matter");
    }

    #[test]
    fn equal_signatures_join_disjoint_do_not() {
        let np = 8;
        // docs 0 and 2 identical, doc 1 different in every slot, doc 3 identical but inactive
        let sigs: Vec<u32> = [[1u32; 8], [2; 8], [1; 8], [1; 8]].concat();
        let edges = lsh_edges(&sigs, np, 4, 2, &[true, true, true, false]);
        assert_eq!(edges, vec![(0, 2)]);
        // one matching band is enough
        let mut s2 = sigs.clone();
        s2[8..10].copy_from_slice(&[1, 1]);
        let edges = lsh_edges(&s2, np, 4, 2, &[true, true, true, false]);
        assert_eq!(edges, vec![(0, 1), (0, 2)]);
    }

    #[test]
    fn merge_distinct_is_the_sorted_union() {
        let a = vec![(0, 1), (0, 3), (2, 5), (4, 6)];
        let b = vec![(0, 2), (0, 3), (4, 6), (5, 9)];
        let union = vec![(0, 1), (0, 2), (0, 3), (2, 5), (4, 6), (5, 9)];
        assert_eq!(merge_distinct(a.clone(), b.clone()), union);
        assert_eq!(merge_distinct(b, a.clone()), union);
        assert_eq!(merge_distinct(a.clone(), Vec::new()), a);
        assert_eq!(merge_distinct(Vec::new(), a.clone()), a);
        // new pairs before, between and after the longer list's
        let long = vec![(1, 2), (3, 4), (3, 7), (6, 8)];
        let short = vec![(0, 9), (3, 5), (9, 10)];
        let union = vec![(0, 9), (1, 2), (3, 4), (3, 5), (3, 7), (6, 8), (9, 10)];
        assert_eq!(merge_distinct(long.clone(), short.clone()), union);
        assert_eq!(merge_distinct(short, long), union);
    }

    /// Pseudo-random values in 0..3: signatures whose band buckets are many and large.
    fn few_values(len: usize) -> Vec<u32> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 3) as u32
            })
            .collect()
    }

    #[test]
    fn bucket_pairs_of_a_shuffles_partitions_are_lsh_pairs() {
        // Rows (band, key, doc) hash-partitioned by key and reversed, as a Ray shuffle may
        // deliver them: the partitions' pairs together are lsh_pairs', and so is the count.
        let (n, np, bands, rows, window) = (300, 16, 8, 2, 5);
        let sigs = few_values(n * np);
        let active: Vec<bool> = (0..n).map(|d| d % 5 != 1).collect();
        let (want, want_skipped) = lsh_pairs(&sigs, np, bands, rows, &active, window);
        let parts = 3;
        let mut got = Vec::new();
        let mut skipped = 0;
        for p in 0..parts {
            let (mut b, mut k, mut d) = (Vec::new(), Vec::new(), Vec::new());
            for doc in (0..n).rev().filter(|&doc| active[doc]) {
                for j in 0..bands {
                    let key = band_key(&sigs[doc * np + j * rows..doc * np + (j + 1) * rows], j);
                    if key % parts as u64 == p as u64 {
                        b.push(j as u32);
                        k.push(key);
                        d.push(doc as u32);
                    }
                }
            }
            let (pairs, s) = bucket_pairs(&b, &k, &d, window);
            assert!(pairs.windows(2).all(|w| w[0] < w[1]));
            got.extend(pairs);
            skipped += s;
        }
        got.sort_unstable();
        got.dedup();
        assert_eq!(got, want);
        assert_eq!(skipped, want_skipped);
        assert!(skipped > 0);
    }

    #[test]
    fn pairs_and_edges_are_every_bands_pairs_gathered() {
        // Signatures over few values, so buckets are many and large: the bands' pairs, gathered
        // whole and sorted as they were before the union was merged band by band.
        let (n, np, bands, rows, window) = (300, 16, 8, 2, 5);
        let sigs = few_values(n * np);
        let active: Vec<bool> = (0..n).map(|d| d % 7 != 3).collect();
        let (mut all_pairs, mut all_edges, mut all_skipped) = (Vec::new(), Vec::new(), 0u64);
        for j in 0..bands {
            let keyed = band_buckets(&sigs, np, j, rows, &active);
            let mut start = 0;
            for i in 1..=keyed.len() {
                if i < keyed.len() && keyed[i].0 == keyed[start].0 {
                    continue;
                }
                for b in start + 1..i {
                    all_edges.push((keyed[start].1, keyed[b].1));
                    for a in start..b {
                        if b - a <= window {
                            all_pairs.push((keyed[a].1, keyed[b].1));
                        } else {
                            all_skipped += 1;
                        }
                    }
                }
                start = i;
            }
        }
        for v in [&mut all_pairs, &mut all_edges] {
            v.sort_unstable();
            v.dedup();
        }
        let (pairs, skipped) = lsh_pairs(&sigs, np, bands, rows, &active, window);
        assert_eq!(pairs, all_pairs);
        assert_eq!(skipped, all_skipped);
        assert!(skipped > 0 && pairs.len() > 1000);
        assert_eq!(lsh_edges(&sigs, np, bands, rows, &active), all_edges);
    }

    #[test]
    fn pairs_cover_small_buckets_and_count_the_window() {
        let np = 4;
        // five identical documents: one bucket per band, 10 pairs each
        let sigs: Vec<u32> = [[7u32; 4]; 5].concat();
        let all = vec![true; 5];
        let (pairs, skipped) = lsh_pairs(&sigs, np, 2, 2, &all, 8);
        assert_eq!(pairs.len(), 10);
        assert_eq!(skipped, 0);
        // window 2: each member pairs with its two predecessors, 7 pairs; 3 left out per band
        let (pairs, skipped) = lsh_pairs(&sigs, np, 2, 2, &all, 2);
        assert_eq!(
            pairs,
            vec![(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]
        );
        assert_eq!(skipped, 6);
        let est = pair_estimates(&sigs, np, &pairs);
        assert!(est.iter().all(|&e| e == 1.0));
    }
}
