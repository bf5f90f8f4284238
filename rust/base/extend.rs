//! Identifier extension of a base vocabulary: frequent identifiers and identifier parts
//! become new tokens with ids after the base vocabulary, matched only at sub-identifier
//! boundaries (the identifier-vocabulary automaton of `vocab.rs`).
//!
//! A token may carry the one character before the identifier (` user`, `.append`, `(self`),
//! because base pre-tokenizers attach that character to the word: a bare `user` token after a
//! space would leave the space as a token of its own and save nothing.
use super::BaseTokenizer;
use crate::error::{Error, Result};
use crate::lex::identifier_parts;
use crate::vocab::{IdentifierVocab, Match};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use unicode_ident::{is_xid_continue, is_xid_start};

pub struct Extension {
    vocab: IdentifierVocab,
    /// Token text (with its prefix character, if any) -> id.
    forms: FxHashMap<Box<str>, u32>,
}

/// The character before an identifier that a token may include: one that base
/// pre-tokenizers attach to a following word (not a newline, not part of an identifier).
fn prefix_char(c: char) -> bool {
    c != '\n' && c != '\r' && !is_ident_continue(c)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c == '$' || is_xid_start(c)
}

fn is_ident_continue(c: char) -> bool {
    c == '$' || is_xid_continue(c)
}

/// Calls `f(start, end)` for each identifier of `text` (a run of identifier characters that
/// starts with an identifier-start character; `0x1F` is not one).
fn for_each_identifier(text: &str, mut f: impl FnMut(usize, usize)) {
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if !is_ident_continue(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = it.peek() {
            if !is_ident_continue(d) {
                break;
            }
            end = j + d.len_utf8();
            it.next();
        }
        if is_ident_start(c) {
            f(i, end);
        }
    }
}

/// Splits a token text into its prefix character (if any) and the identifier part.
fn core_of(form: &str) -> (Option<char>, &str) {
    match form.chars().next() {
        Some(c) if !is_ident_continue(c) => (Some(c), &form[c.len_utf8()..]),
        _ => (None, form),
    }
}

impl Extension {
    pub fn new(tokens: &[(String, u32)]) -> Result<Self> {
        let mut forms = FxHashMap::default();
        let mut cores: Vec<String> = Vec::new();
        let mut seen = FxHashMap::default();
        for (form, id) in tokens {
            let (_, core) = core_of(form);
            if core.is_empty() || !core.chars().all(is_ident_continue) {
                return Err(Error::Format(format!(
                    "identifier token {form:?} is not an identifier (with at most one prefix character)"
                )));
            }
            if forms.insert(form.as_str().into(), *id).is_some() {
                return Err(Error::Format(format!(
                    "identifier token {form:?} appears twice"
                )));
            }
            if seen.insert(core.to_string(), ()).is_none() {
                cores.push(core.to_string());
            }
        }
        Ok(Extension {
            vocab: IdentifierVocab::new(cores)?,
            forms,
        })
    }

    pub fn len(&self) -> usize {
        self.forms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Calls `f(start, end, id)` for each extension token of `text`, left to right.
    pub fn for_each_match(&self, text: &str, mut f: impl FnMut(usize, usize, u32)) {
        let mut matches: Vec<Match> = Vec::new();
        let mut key = String::new();
        let mut last_end = 0;
        for_each_identifier(text, |s, e| {
            matches.clear();
            self.vocab.find(&text[s..e], &mut matches);
            for m in &matches {
                let core = &text[s + m.start..s + m.end];
                if m.start == 0 && s > last_end {
                    let p = text[..s].chars().next_back().expect("s > 0");
                    if prefix_char(p) {
                        key.clear();
                        key.push(p);
                        key.push_str(core);
                        if let Some(&id) = self.forms.get(key.as_str()) {
                            f(s - p.len_utf8(), s + m.end, id);
                            last_end = s + m.end;
                            continue;
                        }
                    }
                }
                if let Some(&id) = self.forms.get(core) {
                    f(s + m.start, s + m.end, id);
                    last_end = s + m.end;
                }
            }
        });
    }
}

/// A candidate extension token: its text, how often it occurs, its length in base tokens.
pub struct Candidate {
    pub text: String,
    pub count: u64,
    pub base_tokens: u32,
}

impl Candidate {
    /// Tokens saved if this becomes one token (an estimate: neighbours may merge differently).
    pub fn saved(&self) -> u64 {
        self.count * u64::from(self.base_tokens.saturating_sub(1))
    }
}

/// Single characters are byte tokens already; digit runs and underscores are left to BPE.
fn useful(s: &str) -> bool {
    s.chars().count() >= 2 && s.chars().any(char::is_alphabetic)
}

impl BaseTokenizer {
    /// The `size` identifier tokens of `texts` that save the most base tokens: whole
    /// identifiers and their parts, with the prefix character the text puts before them.
    /// Ties break by text, so the choice is deterministic.
    pub fn identifier_candidates(
        &self,
        texts: &[&str],
        size: usize,
        min_count: u64,
    ) -> Vec<Candidate> {
        let counts = texts
            .par_iter()
            .fold(FxHashMap::<String, u64>::default, |mut acc, text| {
                for_each_identifier(text, |s, e| {
                    let ident = &text[s..e];
                    let prefix = text[..s].chars().next_back().filter(|&p| prefix_char(p));
                    let form = |core: &str, at_start: bool| match prefix {
                        Some(p) if at_start => format!("{p}{core}"),
                        _ => core.to_string(),
                    };
                    let mut off = 0;
                    let mut parts = 0;
                    for part in identifier_parts(ident) {
                        parts += 1;
                        if part.len() < ident.len() && useful(part) {
                            *acc.entry(form(part, off == 0)).or_default() += 1;
                        }
                        off += part.len();
                    }
                    if parts > 0 && useful(ident) {
                        *acc.entry(form(ident, true)).or_default() += 1;
                    }
                });
                acc
            })
            .reduce(FxHashMap::default, |mut a, b| {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                a
            });
        let mut ranked: Vec<Candidate> = counts
            .into_par_iter()
            .filter(|(t, c)| *c >= min_count && self.bpe.token_id(t.as_bytes()).is_none())
            .map(|(text, count)| {
                let base_tokens = self.count_plain(&text) as u32;
                Candidate {
                    text,
                    count,
                    base_tokens,
                }
            })
            .filter(|c| c.saved() > 0)
            .collect();
        ranked.sort_unstable_by(|a, b| b.saved().cmp(&a.saved()).then_with(|| a.text.cmp(&b.text)));
        ranked.truncate(size);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_identifiers_not_hex_literals() {
        let text = "x = 0x1F + get_user($a)";
        let mut out = Vec::new();
        for_each_identifier(text, |s, e| out.push(&text[s..e]));
        assert_eq!(out, ["x", "get_user", "$a"]);
    }

    #[test]
    fn candidates_rank_by_tokens_saved() {
        let tok = super::super::tests::toy(Vec::new());
        let texts = ["a = getUserById(u) + getUserById(v)\nb = fooBar"; 3];
        let texts: Vec<&str> = texts.to_vec();
        let c = tok.identifier_candidates(&texts, 3, 2);
        assert_eq!(c[0].text, " getUserById");
        assert!(c.windows(2).all(|w| w[0].saved() >= w[1].saved()));
    }

    #[test]
    fn prefixed_and_bare_forms() {
        let ext = Extension::new(&[(" user".into(), 500), ("Name".into(), 501)]).unwrap();
        let text = "a user.userName";
        let mut out = Vec::new();
        ext.for_each_match(text, |s, e, id| out.push((&text[s..e], id)));
        assert_eq!(out, [(" user", 500), ("Name", 501)]);
    }
}
