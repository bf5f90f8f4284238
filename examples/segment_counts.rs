//! How many tokens other ways of cutting text into a vocabulary give, against the tokenizer's
//! own encoder: plain longest match, longest match with lookahead over the K longest
//! candidates (K = 2 is `segment.rs`), and a minimal segmentation, each over the `/1`
//! chunks. The measurement behind the `/2` format (see README). Ignores the boundary rule of
//! identifier-vocabulary tokens, so its K = 2 counts are a little lower than `segment.rs`'s.
//! `cargo run --release --example segment_counts -- tok.json LIST...` (LIST: file of paths)
use codemill::chunk::for_each_chunk;
use codemill::lex::Lang;
use codemill::tokenizer::{Tokenizer, FORMAT_MERGES};
use std::collections::HashMap;

struct Trie {
    nodes: Vec<HashMap<u8, u32>>,
    term: Vec<u32>,
}
impl Trie {
    fn new() -> Self {
        Trie {
            nodes: vec![HashMap::new()],
            term: vec![u32::MAX],
        }
    }
    fn insert(&mut self, b: &[u8], id: u32) {
        let mut n = 0usize;
        for &c in b {
            let next = match self.nodes[n].get(&c) {
                Some(&x) => x as usize,
                None => {
                    let x = self.nodes.len();
                    self.nodes.push(HashMap::new());
                    self.term.push(u32::MAX);
                    self.nodes[n].insert(c, x as u32);
                    x
                }
            };
            n = next;
        }
        if self.term[n] == u32::MAX {
            self.term[n] = id;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The vocabulary as a `/1` file: "encoder" counts are the merges replayed.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&args[0]).unwrap()).unwrap();
    json["format"] = FORMAT_MERGES.into();
    json["pretokenizer"]["max_chunk_bytes"] = 256.into();
    let tok = Tokenizer::from_json(&json.to_string()).unwrap();
    let nspec = tok.specials().len();
    let v = tok.vocab_size();
    let idn = tok.identifier_vocab_size();
    let mut trie = Trie::new();
    let mut maxlen = 0;
    for id in 0..(v - nspec) as u32 {
        let b = tok.token_bytes(id).unwrap();
        maxlen = maxlen.max(b.len());
        trie.insert(b, id);
    }
    eprintln!(
        "vocab {v} ident {idn} trie nodes {} maxlen {maxlen}",
        trie.nodes.len()
    );
    for list in &args[1..] {
        let (mut enc, mut greedy, mut opt, mut bytes) = (0usize, 0usize, 0usize, 0usize);
        let mut la = [0usize; 3];
        for f in std::fs::read_to_string(list).unwrap().lines() {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            let lang = Lang::from_path(f.as_ref());
            bytes += text.len();
            enc += tok.encode(&text, lang, &[]).len();
            for_each_chunk(&text, lang, |s, e, _| {
                let c = &text.as_bytes()[s..e];
                // greedy longest match
                let mut i = 0;
                while i < c.len() {
                    let (mut n, mut best) = (0usize, 1usize);
                    for (j, b) in c.iter().enumerate().skip(i) {
                        match trie.nodes[n].get(b) {
                            Some(&x) => n = x as usize,
                            None => break,
                        }
                        if trie.term[n] != u32::MAX {
                            best = j + 1 - i;
                        }
                    }
                    greedy += 1;
                    i += best;
                }
                // lookahead: among the K longest candidates at i, the one whose next greedy match reaches farthest
                let cands = |i: usize| -> Vec<usize> {
                    let mut v = vec![1usize];
                    let mut n = 0usize;
                    for (j, b) in c.iter().enumerate().skip(i) {
                        match trie.nodes[n].get(b) {
                            Some(&x) => n = x as usize,
                            None => break,
                        }
                        if trie.term[n] != u32::MAX && j + 1 - i > 1 {
                            v.push(j + 1 - i);
                        }
                    }
                    v
                };
                let longest = |p: usize| -> usize {
                    if p >= c.len() {
                        0
                    } else {
                        *cands(p).last().unwrap()
                    }
                };
                for (k, acc) in la.iter_mut().enumerate() {
                    let kk = k + 2;
                    let mut i = 0;
                    while i < c.len() {
                        let v = cands(i);
                        let mut best = (0usize, 0usize);
                        for &l in v.iter().rev().take(kk) {
                            let reach = l + longest(i + l);
                            if reach > best.0 {
                                best = (reach, l);
                            }
                        }
                        *acc += 1;
                        i += best.1;
                    }
                }
                // minimal count
                let mut dp = vec![usize::MAX; c.len() + 1];
                dp[0] = 0;
                for i in 0..c.len() {
                    if dp[i] == usize::MAX {
                        continue;
                    }
                    let mut n = 0usize;
                    for (j, b) in c.iter().enumerate().skip(i) {
                        match trie.nodes[n].get(b) {
                            Some(&x) => n = x as usize,
                            None => break,
                        }
                        if trie.term[n] != u32::MAX && dp[i] + 1 < dp[j + 1] {
                            dp[j + 1] = dp[i] + 1;
                        }
                    }
                }
                opt += dp[c.len()];
            });
        }
        println!(
            "  lookahead K=2,3,4: {:?}",
            la.iter()
                .map(|&x| format!("{:+.2}%", 100.0 * (x as f64 / enc as f64 - 1.0)))
                .collect::<Vec<_>>()
        );
        println!(
            "{list}: {bytes} B  encoder {enc}  greedy {greedy} ({:+.2}%)  optimal {opt} ({:+.2}%)",
            100.0 * (greedy as f64 / enc as f64 - 1.0),
            100.0 * (opt as f64 / enc as f64 - 1.0)
        );
    }
}
