//! Length-bucketed, token-budgeted embedding batches.
//!
//! Texts are tokenized for the embedding model (an HF `tokenizer.json` through the
//! `tokenizers` crate, or ids the caller already has), truncated to `max_length`, sorted by
//! length (longest first, so a batch that does not fit in memory fails at once) and packed
//! greedily: a batch grows while `rows * longest <= max_tokens` and `rows <= max_batch_size`.
//! Each batch is padded to its own longest row only. `indices` maps rows back to the caller's
//! order. [`PackStats`] compares the padding with naive fixed-size batches in input order.
use crate::error::{Error, Result};
use std::path::Path;

/// How batches are cut.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Longest sequence kept (longer ones are truncated).
    pub max_length: usize,
    /// Budget of `rows * padded_length` per batch.
    pub max_tokens: usize,
    /// Most rows per batch, and the size of the naive batches compared against.
    pub max_batch_size: usize,
    pub pad_id: u32,
}

impl BatchConfig {
    pub fn validate(&self) -> Result<()> {
        if self.max_length == 0 || self.max_batch_size == 0 {
            return Err(Error::Argument(
                "max_length and max_batch_size must be at least 1".into(),
            ));
        }
        if self.max_tokens < self.max_length {
            return Err(Error::Argument(format!(
                "max_tokens ({}) must be at least max_length ({}) so the longest text fits a batch",
                self.max_tokens, self.max_length
            )));
        }
        Ok(())
    }
}

/// One padded batch, row-major `rows x cols`, as the int64 arrays ONNX models take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Position of each row in the caller's input.
    pub indices: Vec<i64>,
    pub rows: usize,
    pub cols: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
}

/// Padding of the packed batches against naive fixed-size batches in input order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackStats {
    pub texts: usize,
    pub truncated: usize,
    pub batches: usize,
    /// Tokens after truncation, before padding.
    pub real_tokens: usize,
    /// Cells of the packed batches (`sum rows * cols`).
    pub padded_tokens: usize,
    pub naive_batches: usize,
    /// Cells of naive batches of `max_batch_size` rows in input order, each padded to its
    /// longest row.
    pub naive_padded_tokens: usize,
}

impl PackStats {
    /// Fraction of cells that are padding.
    pub fn waste(&self) -> f64 {
        frac(self.padded_tokens - self.real_tokens, self.padded_tokens)
    }

    pub fn naive_waste(&self) -> f64 {
        frac(
            self.naive_padded_tokens - self.real_tokens,
            self.naive_padded_tokens,
        )
    }
}

fn frac(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Cuts (already truncated) lengths into batches: each batch is a list of input positions,
/// longest first.
pub fn plan(lengths: &[usize], cfg: &BatchConfig) -> Result<Vec<Vec<usize>>> {
    cfg.validate()?;
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable: equal lengths keep input order, so plans are deterministic.
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for i in order {
        // Rows come longest first, so the batch's padded length is its first row's length.
        let cols = cur.first().map_or(lengths[i], |&f| lengths[f]).max(1);
        if !cur.is_empty()
            && (cur.len() + 1 > cfg.max_batch_size || (cur.len() + 1) * cols > cfg.max_tokens)
        {
            batches.push(std::mem::take(&mut cur));
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    Ok(batches)
}

/// Truncates `seqs` and packs them into padded batches.
pub fn pack(seqs: &[Vec<u32>], cfg: &BatchConfig) -> Result<(Vec<Batch>, PackStats)> {
    cfg.validate()?;
    let lengths: Vec<usize> = seqs.iter().map(|s| s.len().min(cfg.max_length)).collect();
    let plan = plan(&lengths, cfg)?;
    let mut stats = PackStats {
        texts: seqs.len(),
        truncated: seqs.iter().filter(|s| s.len() > cfg.max_length).count(),
        batches: plan.len(),
        real_tokens: lengths.iter().sum(),
        ..Default::default()
    };
    for chunk in lengths.chunks(cfg.max_batch_size) {
        stats.naive_batches += 1;
        stats.naive_padded_tokens += chunk.len() * chunk.iter().copied().max().unwrap_or(0);
    }
    let pad = i64::from(cfg.pad_id);
    let batches: Vec<Batch> = plan
        .into_iter()
        .map(|rows| {
            let cols = rows.iter().map(|&i| lengths[i]).max().unwrap_or(0).max(1);
            let mut input_ids = vec![pad; rows.len() * cols];
            let mut attention_mask = vec![0i64; rows.len() * cols];
            for (r, &i) in rows.iter().enumerate() {
                let row = &seqs[i][..lengths[i]];
                for (c, &id) in row.iter().enumerate() {
                    input_ids[r * cols + c] = i64::from(id);
                    attention_mask[r * cols + c] = 1;
                }
            }
            Batch {
                indices: rows.iter().map(|&i| i as i64).collect(),
                rows: rows.len(),
                cols,
                input_ids,
                attention_mask,
            }
        })
        .collect();
    stats.padded_tokens = batches.iter().map(|b| b.rows * b.cols).sum();
    Ok((batches, stats))
}

/// An embedding model's tokenizer from its `tokenizer.json`.
///
/// The file's own padding and truncation settings are dropped: exported files often carry
/// `Fixed(128)` padding and a 128-token cut (all-MiniLM-L6-v2 does), which would pad every
/// row and cut below the model's `max_seq_length`. Batches pad, and `encode` truncates.
pub struct ModelTokenizer {
    inner: tokenizers::Tokenizer,
    pad_id: u32,
}

impl ModelTokenizer {
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| {
            Error::Argument(format!("{}: cannot load tokenizer: {e}", path.display()))
        })?;
        Self::new(inner)
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let inner = text
            .parse::<tokenizers::Tokenizer>()
            .map_err(|e| Error::Argument(format!("cannot load tokenizer JSON: {e}")))?;
        Self::new(inner)
    }

    fn new(mut inner: tokenizers::Tokenizer) -> Result<Self> {
        // The padding id the tokenizer declares, else that of a `[PAD]`/`<pad>` token, else 0.
        let pad_id = match inner.get_padding() {
            Some(p) => p.pad_id,
            None => ["[PAD]", "<pad>", "<|padding|>"]
                .iter()
                .find_map(|t| inner.token_to_id(t))
                .unwrap_or(0),
        };
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::Argument(format!("cannot clear tokenizer truncation: {e}")))?;
        Ok(ModelTokenizer { inner, pad_id })
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Size of the vocabulary, added tokens included (the model's embedding table must
    /// have at least this many rows).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Ids of each text with the model's special tokens, truncated to `max_length` (a truncated
    /// row keeps the model's closing special token), and how many texts were truncated.
    pub fn encode(&self, texts: &[&str], max_length: usize) -> Result<(Vec<Vec<u32>>, usize)> {
        let specials = self.inner.get_post_processor().map_or(0, |p| {
            use tokenizers::PostProcessor;
            p.added_tokens(false)
        });
        let inputs: Vec<tokenizers::EncodeInput> = texts.iter().map(|&t| t.into()).collect();
        let encodings = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|e| Error::Argument(format!("tokenizer failed: {e}")))?;
        let mut truncated = 0;
        let seqs = encodings
            .into_iter()
            .map(|e| {
                let mut ids = e.get_ids().to_vec();
                if ids.len() > max_length {
                    truncated += 1;
                    let last = ids[ids.len() - 1];
                    ids.truncate(max_length);
                    if specials > 0 && max_length > 1 {
                        // Keep the closing special token ([SEP] / </s>) the model was trained with.
                        ids[max_length - 1] = last;
                    }
                }
                ids
            })
            .collect();
        Ok((seqs, truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max_length: usize, max_tokens: usize, max_batch_size: usize) -> BatchConfig {
        BatchConfig {
            max_length,
            max_tokens,
            max_batch_size,
            pad_id: 0,
        }
    }

    #[test]
    fn plan_respects_budget_and_covers_every_text_once() {
        let lengths = [5, 1, 9, 3, 3, 8, 2, 7, 1, 4];
        let c = cfg(16, 20, 4);
        let plan = plan(&lengths, &c).unwrap();
        let mut seen: Vec<usize> = plan.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for b in &plan {
            let cols = b.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(b.len() * cols <= 20 && b.len() <= 4, "{b:?}");
            assert!(b.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]]));
        }
    }

    #[test]
    fn pack_pads_truncates_and_maps_back() {
        let seqs = vec![
            vec![1, 2, 3],
            vec![4],
            vec![5, 6, 7, 8, 9, 10],
            vec![11, 12],
        ];
        let (batches, stats) = pack(&seqs, &cfg(4, 8, 2)).unwrap();
        assert_eq!(stats.truncated, 1);
        assert_eq!(stats.real_tokens, 3 + 1 + 4 + 2);
        let mut restored = vec![Vec::new(); seqs.len()];
        for b in &batches {
            assert_eq!(b.input_ids.len(), b.rows * b.cols);
            for r in 0..b.rows {
                let row = &b.input_ids[r * b.cols..(r + 1) * b.cols];
                let mask = &b.attention_mask[r * b.cols..(r + 1) * b.cols];
                let ids: Vec<u32> = row
                    .iter()
                    .zip(mask)
                    .filter(|(_, &m)| m == 1)
                    .map(|(&x, _)| x as u32)
                    .collect();
                restored[b.indices[r] as usize] = ids;
            }
        }
        assert_eq!(restored[0], [1, 2, 3]);
        assert_eq!(restored[1], [4]);
        assert_eq!(restored[2], [5, 6, 7, 8]);
        assert_eq!(restored[3], [11, 12]);
        // Sorted packing pads no more than naive batches in input order.
        assert!(stats.padded_tokens <= stats.naive_padded_tokens);
        assert!(stats.waste() < stats.naive_waste());
    }

    #[test]
    fn bad_config_is_an_error() {
        assert!(pack(&[vec![1]], &cfg(8, 4, 2)).is_err());
        assert!(pack(&[vec![1]], &cfg(8, 16, 0)).is_err());
    }

    #[test]
    fn file_padding_and_truncation_are_ignored() {
        // A WordLevel tokenizer whose file pads to 8 and cuts at 3, as exported files do.
        let json = r#"{"version":"1.0",
            "truncation":{"max_length":3,"strategy":"LongestFirst","stride":0},
            "padding":{"strategy":{"Fixed":8},"direction":"Right","pad_to_multiple_of":null,
                       "pad_id":7,"pad_type_id":0,"pad_token":"[PAD]"},
            "added_tokens":[],"normalizer":null,
            "pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
            "model":{"type":"WordLevel","vocab":{"a":0,"b":1,"[UNK]":2,"[PAD]":7},
                     "unk_token":"[UNK]"}}"#;
        let tok = ModelTokenizer::from_json(json).unwrap();
        assert_eq!(tok.pad_id(), 7);
        let (seqs, truncated) = tok.encode(&["a b a b a", "b"], 16).unwrap();
        assert_eq!(seqs, vec![vec![0, 1, 0, 1, 0], vec![1]]);
        assert_eq!(truncated, 0);
        assert_eq!(tok.vocab_size(), 4);
    }

    #[test]
    fn empty_input_gives_no_batches() {
        let (b, s) = pack(&[], &cfg(8, 16, 2)).unwrap();
        assert!(b.is_empty());
        assert_eq!(s.waste(), 0.0);
    }
}
