//! What the codemill tokenizer and a base vocabulary (tiktoken ranks, a `tokenizer.json`) both
//! offer their callers: written once, so that decoding and each Python binding of encoding
//! serve either kind.
use crate::error::{Error, Result};
use crate::lex::Lang;

pub trait Encoder: Sync {
    /// Whether the language changes the ids: the codemill tokenizer's scanner has a table per
    /// language; a base vocabulary splits every language alike and ignores it.
    fn by_language(&self) -> bool;

    /// Ids of `text`; `allowed[k]` says whether special token `k` may be produced.
    fn encode_text(&self, text: &str, lang: Lang, allowed: &[bool]) -> Vec<u32>;

    /// Ids of each document, in parallel on the current rayon pool.
    fn encode_docs(&self, docs: &[(&str, Lang)], allowed: &[bool]) -> Vec<Vec<u32>>;

    /// The bytes of a token (special tokens: their text); None for an unknown or unused id.
    fn token_bytes(&self, id: u32) -> Option<&[u8]>;

    fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            out.extend_from_slice(self.token_bytes(id).ok_or(Error::InvalidTokenId(id))?);
        }
        Ok(out)
    }
}
