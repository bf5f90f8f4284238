//! Personalised PageRank over a weighted directed graph given as edge arrays, computed the way
//! networkx's `pagerank` does (power iteration from the uniform vector; a node without
//! out-edges restarts its walk at the personalisation), for repository context ranking.
use crate::error::{Error, Result};

/// How the walk is run: `damping` (probability of following an edge), at most `max_iterations`
/// power iterations, stopping when the L1 change falls below `n * tolerance` (networkx's rule).
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub damping: f64,
    pub max_iterations: usize,
    pub tolerance: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            damping: 0.85,
            max_iterations: 200,
            tolerance: 1e-8,
        }
    }
}

/// The rank of each of the `n` nodes. Edge `e` goes from `src[e]` to `dst[e]` with weight
/// `weight[e]` (parallel edges add up); a node's walk leaves along its out-edges in proportion
/// to their weights. `seeds` are `(node, weight)` pairs of the personalisation (weights add up
/// per node and are normalised). Errors name the argument that is out of range.
pub fn personalized_pagerank(
    n: usize,
    src: &[u32],
    dst: &[u32],
    weight: &[f64],
    seeds: &[(u32, f64)],
    params: Params,
) -> Result<Vec<f64>> {
    if src.len() != dst.len() || src.len() != weight.len() {
        return Err(Error::Argument(format!(
            "edge arrays differ in length: {} sources, {} targets, {} weights",
            src.len(),
            dst.len(),
            weight.len()
        )));
    }
    if let Some(&bad) = src.iter().chain(dst).find(|&&v| v as usize >= n) {
        return Err(Error::Argument(format!(
            "an edge names node {bad}, outside the {n} nodes"
        )));
    }
    if let Some(w) = weight.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
        return Err(Error::Argument(format!(
            "edge weights must be finite and >= 0, got {w}"
        )));
    }
    if !(0.0..=1.0).contains(&params.damping) {
        return Err(Error::Argument(format!(
            "damping must be in [0, 1], got {}",
            params.damping
        )));
    }
    let mut p = vec![0.0; n];
    for &(node, w) in seeds {
        if node as usize >= n {
            return Err(Error::Argument(format!(
                "seed {node} is outside the {n} nodes"
            )));
        }
        if !(w.is_finite() && w >= 0.0) {
            return Err(Error::Argument(format!(
                "seed weights must be finite and >= 0, got {w}"
            )));
        }
        p[node as usize] += w;
    }
    let total: f64 = p.iter().sum();
    if n == 0 || total <= 0.0 {
        return Err(Error::Argument(
            "the personalisation needs a seed with a positive weight".into(),
        ));
    }
    p.iter_mut().for_each(|v| *v /= total);

    let mut out_total = vec![0.0; n];
    for (&s, &w) in src.iter().zip(weight) {
        out_total[s as usize] += w;
    }
    // Transition probability of each edge (weight over its source's total).
    let prob: Vec<f64> = src
        .iter()
        .zip(weight)
        .map(|(&s, &w)| w / out_total[s as usize])
        .collect();
    let dangling: Vec<usize> = (0..n).filter(|&i| out_total[i] == 0.0).collect();

    let d = params.damping;
    let mut x = vec![1.0 / n as f64; n];
    let mut next = vec![0.0; n];
    for _ in 0..params.max_iterations {
        next.iter_mut().for_each(|v| *v = 0.0);
        for ((&s, &t), &pr) in src.iter().zip(dst).zip(&prob) {
            next[t as usize] += x[s as usize] * pr;
        }
        let lost: f64 = dangling.iter().map(|&i| x[i]).sum();
        let mut change = 0.0;
        for i in 0..n {
            let v = d * (next[i] + lost * p[i]) + (1.0 - d) * p[i];
            change += (v - x[i]).abs();
            next[i] = v;
        }
        std::mem::swap(&mut x, &mut next);
        if change < n as f64 * params.tolerance {
            break;
        }
    }
    Ok(x)
}

/// Little-endian `u32`s from raw bytes (the saved ranking arrays), or an error naming `what`.
pub fn u32s_le(bytes: &[u8], what: &str) -> Result<Vec<u32>> {
    if bytes.len() % 4 != 0 {
        return Err(Error::Argument(format!(
            "{what}: {} bytes is not a whole number of 4-byte integers",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Little-endian `f64`s from raw bytes, or an error naming `what`.
pub fn f64s_le(bytes: &[u8], what: &str) -> Result<Vec<f64>> {
    if bytes.len() % 8 != 0 {
        return Err(Error::Argument(format!(
            "{what}: {} bytes is not a whole number of 8-byte floats",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
    }

    #[test]
    fn two_node_cycle_by_hand() {
        // 0 <-> 1, restart at 0: x0 = 0.15 + 0.85 x1, x1 = 0.85 x0
        // => x0 = 0.15 / (1 - 0.85^2) = 0.540540..., x1 = 0.459459...
        let x = personalized_pagerank(
            2,
            &[0, 1],
            &[1, 0],
            &[1.0, 1.0],
            &[(0, 1.0)],
            Params::default(),
        )
        .unwrap();
        let x0 = 0.15 / (1.0 - 0.85 * 0.85);
        assert!(close(&x, &[x0, 0.85 * x0], 1e-7), "{x:?}");
    }

    #[test]
    fn equals_networkx_on_a_small_weighted_graph() {
        // networkx 3.6.1: G = DiGraph(); G.add_weighted_edges_from([(0,1,2),(0,2,1),(1,2,1),
        // (2,0,1),(3,2,1)]) (node 4 isolated); nx.pagerank(G, personalization={0: 1, 3: 1})
        let src = [0, 0, 1, 2, 3];
        let dst = [1, 2, 2, 0, 2];
        let w = [2.0, 1.0, 1.0, 1.0, 1.0];
        let x = personalized_pagerank(5, &src, &dst, &w, &[(0, 1.0), (3, 1.0)], Params::default())
            .unwrap();
        let expected = [
            0.36937073404819365,
            0.20931101990079354,
            0.3463182460510127,
            0.07500000000000001,
            0.0,
        ];
        assert!(close(&x, &expected, 1e-6), "{x:?}");
        assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn dangling_nodes_restart_at_the_seeds() {
        // 0 -> 1, 1 has no out-edge: its mass restarts at 0.
        let x =
            personalized_pagerank(2, &[0], &[1], &[1.0], &[(0, 1.0)], Params::default()).unwrap();
        // x0 = 0.15 + 0.85 x1 (from dangling 1), x1 = 0.85 x0 => same as the cycle
        let x0 = 0.15 / (1.0 - 0.85 * 0.85);
        assert!(close(&x, &[x0, 0.85 * x0], 1e-7), "{x:?}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        let p = Params::default();
        assert!(personalized_pagerank(2, &[0], &[5], &[1.0], &[(0, 1.0)], p).is_err());
        assert!(personalized_pagerank(2, &[0], &[1], &[1.0, 2.0], &[(0, 1.0)], p).is_err());
        assert!(personalized_pagerank(2, &[0], &[1], &[-1.0], &[(0, 1.0)], p).is_err());
        assert!(personalized_pagerank(2, &[0], &[1], &[1.0], &[(9, 1.0)], p).is_err());
        assert!(personalized_pagerank(2, &[0], &[1], &[1.0], &[], p).is_err());
        assert!(u32s_le(&[1, 2, 3], "src").is_err());
        assert!(f64s_le(&[0; 9], "weight").is_err());
        assert_eq!(
            u32s_le(&[1, 0, 0, 0, 2, 0, 0, 0], "src").unwrap(),
            vec![1, 2]
        );
        assert_eq!(f64s_le(&1.5f64.to_le_bytes(), "w").unwrap(), vec![1.5]);
    }
}
