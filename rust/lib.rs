//! codemill's native core: pure Rust, testable with `cargo test` alone.
pub mod base;
pub mod batch;
pub mod bloom;
pub mod bpe;
pub mod bpe_train;
pub mod cache;
pub mod chunk;
pub mod chunk_cache;
pub mod cluster;
pub mod code_file;
pub mod embed;
pub mod encoder;
pub mod error;
pub mod lex;
pub mod listing;
pub mod listing_ahead;
pub mod malloc;
pub mod minhash;
pub mod packed;
pub mod pagerank;
pub mod parallel;
#[cfg(feature = "python")]
mod py;
pub mod segment;
pub mod tokenizer;
pub mod utf8;
pub mod vocab;
