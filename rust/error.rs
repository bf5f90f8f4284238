//! The one error type of the core; the Python bindings map it to exceptions in one place.
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A `language=` value that names no supported language.
    UnknownLanguage(String),
    /// A token id outside the vocabulary.
    InvalidTokenId(u32),
    /// A tokenizer file that is corrupt, of another format or of an unsupported version.
    Format(String),
    /// A caller argument out of range (vocabulary sizes, thread counts, ...).
    Argument(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownLanguage(name) => write!(
                f,
                "unknown language {name:?}; known: {}",
                crate::lex::Lang::names().join(", ")
            ),
            Error::InvalidTokenId(id) => write!(f, "token id {id} is not in the vocabulary"),
            Error::Format(msg) => write!(f, "invalid tokenizer file: {msg}"),
            Error::Argument(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
