//! Clusters of near-duplicates: candidate pairs from equal LSH band keys, joined by union-find.
//!
//! Candidates come as "star" edges: the documents sharing a band key, sorted by id, each
//! joined to the smallest. That is one edge per member instead of one per pair, gives the
//! same components, and is what a sort-based shuffle (the Ray engine) produces as well, so
//! both engines see the same edges and return the same clusters.
use crate::minhash::band_key;
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
    let n = active.len();
    let mut edges: Vec<(u32, u32)> = (0..bands)
        .into_par_iter()
        .flat_map_iter(|j| {
            let mut keyed: Vec<(u64, u32)> = Vec::with_capacity(n);
            for d in 0..n {
                if !active[d] {
                    continue;
                }
                let band = &sigs[d * num_perm + j * rows..d * num_perm + (j + 1) * rows];
                keyed.push((band_key(band, j), d as u32));
            }
            keyed.sort_unstable();
            let mut out = Vec::new();
            let mut start = 0;
            for i in 1..=keyed.len() {
                if i == keyed.len() || keyed[i].0 != keyed[start].0 {
                    out.extend((start + 1..i).map(|k| (keyed[start].1, keyed[k].1)));
                    start = i;
                }
            }
            out
        })
        .collect();
    edges.par_sort_unstable();
    edges.dedup();
    edges
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
}
