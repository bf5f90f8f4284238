//! Identifier vocabulary: frequent identifiers and identifier parts as single tokens.
//!
//! Matched by an Aho-Corasick automaton; a match is accepted only if it starts and ends on a
//! sub-identifier boundary (start/end, `_`, camelCase hump, digit run), and among accepted
//! matches the leftmost-longest wins. So `data` never matches inside `metadata`.
use crate::error::{Error, Result};
use crate::lex::for_each_boundary;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use rustc_hash::FxHashMap;

pub struct IdentifierVocab {
    entries: Vec<String>,
    /// Whole-identifier fast path: most identifiers are either an entry or contain none.
    whole: FxHashMap<String, u32>,
    automaton: Option<AhoCorasick>,
}

/// An accepted match: byte range inside the identifier and the entry index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub entry: u32,
}

impl IdentifierVocab {
    pub fn new(entries: Vec<String>) -> Result<Self> {
        let mut whole = FxHashMap::default();
        for (i, e) in entries.iter().enumerate() {
            if e.is_empty() {
                return Err(Error::Format(format!("identifier entry {i} is empty")));
            }
            if whole.insert(e.clone(), i as u32).is_some() {
                return Err(Error::Format(format!(
                    "identifier entry {e:?} appears twice"
                )));
            }
        }
        let automaton = if entries.is_empty() {
            None
        } else {
            // Standard semantics so overlapping search reports every candidate; the
            // leftmost-longest choice is made among boundary-anchored candidates only. A
            // contiguous NFA: it only runs on piece-cache misses, and a DFA took most of the
            // tokenizer's load time to build.
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(&entries)
                    .map_err(|e| Error::Format(format!("identifier automaton: {e}")))?,
            )
        };
        Ok(IdentifierVocab {
            entries,
            whole,
            automaton,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Appends the accepted matches in `ident` to `out`, left to right, non-overlapping.
    pub fn find(&self, ident: &str, out: &mut Vec<Match>) {
        if let Some(&entry) = self.whole.get(ident) {
            out.push(Match {
                start: 0,
                end: ident.len(),
                entry,
            });
            return;
        }
        let Some(ac) = &self.automaton else { return };
        let n = ident.len();
        // Boundaries in one pass: as bits for identifiers shorter than 128 bytes (nearly all;
        // this runs for every identifier the piece cache misses), else in a vector.
        let (mut bits, mut long) = (0u128, Vec::new());
        let mut count = 0;
        if n < 128 {
            for_each_boundary(ident, |b| {
                bits |= 1 << b;
                count += 1;
            });
        } else {
            long = vec![false; n + 1];
            for_each_boundary(ident, |b| {
                long[b] = true;
                count += 1;
            });
        }
        // A one-part identifier can only match whole, which the map above already checked.
        if count <= 2 {
            return;
        }
        let is_boundary = |b: usize| if n < 128 { bits >> b & 1 != 0 } else { long[b] };
        // best[s] = (end, entry) of the longest boundary-anchored match starting at s.
        let mut small = [(0u32, 0u32); 128];
        let mut large: Vec<(u32, u32)>;
        let best: &mut [(u32, u32)] = if n < 128 {
            &mut small[..=n]
        } else {
            large = vec![(0, 0); n + 1];
            &mut large
        };
        let mut any = false;
        for m in ac.find_overlapping_iter(ident) {
            let (s, e) = (m.start(), m.end());
            if is_boundary(s) && is_boundary(e) && e as u32 > best[s].0 {
                best[s] = (e as u32, m.pattern().as_u32());
                any = true;
            }
        }
        if !any {
            return;
        }
        let mut pos = 0;
        while pos < n {
            let (end, entry) = best[pos];
            if end as usize > pos {
                out.push(Match {
                    start: pos,
                    end: end as usize,
                    entry,
                });
                pos = end as usize;
            } else {
                pos += 1;
            }
        }
    }

    /// Chooses the vocabulary from identifier counts: whole identifiers and their parts, ranked
    /// by `score(text, count)` (ties by text, so training is deterministic); a score of 0
    /// drops a candidate. Training scores by tokens saved against a plain BPE.
    pub fn select_by(
        ident_counts: &FxHashMap<String, u64>,
        size: usize,
        min_count: u64,
        score: impl Fn(&str, u64) -> u64,
    ) -> Vec<String> {
        if size == 0 {
            return Vec::new();
        }
        let mut counts: FxHashMap<&str, u64> = FxHashMap::default();
        for (ident, &c) in ident_counts {
            let mut parts = 0;
            for part in crate::lex::identifier_parts(ident) {
                parts += 1;
                if part.len() < ident.len() && useful(part) {
                    *counts.entry(part).or_default() += c;
                }
            }
            if parts > 0 && useful(ident) {
                *counts.entry(ident.as_str()).or_default() += c;
            }
        }
        let mut ranked: Vec<(&str, u64)> = counts
            .into_iter()
            .filter(|&(_, c)| c >= min_count)
            .map(|(s, c)| (s, score(s, c)))
            .filter(|&(_, g)| g > 0)
            .collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked
            .into_iter()
            .take(size)
            .map(|(s, _)| s.to_string())
            .collect()
    }
}

/// Single characters are already byte tokens; digit runs and underscores are left to BPE.
fn useful(s: &str) -> bool {
    s.chars().count() >= 2 && s.chars().any(|c| c.is_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(words: &[&str]) -> IdentifierVocab {
        IdentifierVocab::new(words.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    fn spans<'a>(v: &IdentifierVocab, ident: &'a str) -> Vec<&'a str> {
        let mut out = Vec::new();
        v.find(ident, &mut out);
        out.iter().map(|m| &ident[m.start..m.end]).collect()
    }

    #[test]
    fn matches_only_at_sub_identifier_boundaries() {
        let v = vocab(&["data", "meta", "user", "get", "User", "By", "Id", "getUser"]);
        assert!(spans(&v, "metadata").is_empty());
        assert_eq!(spans(&v, "user_data"), ["user", "data"]);
        assert_eq!(spans(&v, "getUserById"), ["getUser", "By", "Id"]);
        assert_eq!(spans(&v, "getUsername"), ["get"]);
        assert_eq!(spans(&v, "data"), ["data"]);
        assert!(spans(&v, "xdatax").is_empty());
    }

    #[test]
    fn leftmost_longest_among_boundary_matches() {
        let v = vocab(&["get", "get_user", "user", "user_id"]);
        assert_eq!(spans(&v, "get_user_id"), ["get_user"]);
        let v = vocab(&["a", "HTTP", "HTTPServer", "Server"]);
        assert_eq!(spans(&v, "HTTPServerError"), ["HTTPServer"]);
    }

    #[test]
    fn long_identifiers_match_like_short_ones() {
        // Past 127 bytes boundaries are kept in a vector rather than bits: the same matches.
        let v = vocab(&["user", "data", "getUser", "Id"]);
        let unit = "user_data_getUserById_";
        for reps in [1, 5, 6, 12] {
            let ident = unit.repeat(reps);
            let expected: Vec<&str> = ["user", "data", "getUser", "Id"].repeat(reps);
            assert_eq!(spans(&v, &ident), expected, "{} bytes", ident.len());
        }
        // Either side of the edge, a match ending on the last byte.
        for n in [126, 127, 128, 129] {
            let ident = format!("user_data_{}_user", "a".repeat(n - 15));
            assert_eq!(ident.len(), n);
            assert_eq!(spans(&v, &ident), ["user", "data", "user"], "{n} bytes");
        }
    }

    #[test]
    fn rejects_bad_entries() {
        assert!(IdentifierVocab::new(vec!["x".into(), "x".into()]).is_err());
        assert!(IdentifierVocab::new(vec![String::new()]).is_err());
    }

    #[test]
    fn selects_frequent_identifiers_and_parts() {
        let mut counts = FxHashMap::default();
        counts.insert("getUserById".to_string(), 3);
        counts.insert("user_name".to_string(), 5);
        counts.insert("x".to_string(), 100);
        let sel = IdentifierVocab::select_by(&counts, 10, 2, |_, c| c);
        // Ties (5 each) in text order, then the 3-count entries.
        assert_eq!(sel[..3], ["name", "user", "user_name"]);
        assert!(sel.contains(&"getUserById".to_string()));
        assert!(sel.contains(&"name".to_string()));
        assert!(!sel.contains(&"x".to_string()));
        assert!(!sel.contains(&"_".to_string()));
    }
}
