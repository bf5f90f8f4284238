//! codemill's native core: pure Rust, testable with `cargo test` alone.
pub mod error;
pub mod lex;
#[cfg(feature = "python")]
mod py;
