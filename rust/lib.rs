//! codemill's native core: pure Rust, testable with `cargo test` alone.
pub mod cluster;
pub mod error;
pub mod lex;
pub mod minhash;
#[cfg(feature = "python")]
mod py;
