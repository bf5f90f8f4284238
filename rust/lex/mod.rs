//! Syntax-aware pre-tokenizer: one hand-written scanner, a table per language family.
//!
//! The scanner is an iterator of [`Piece`]s that partition the input exactly (lossless).
//! Every step consumes at least one byte and looks ahead a bounded amount, so it is linear
//! on any input: unterminated strings and comments simply run to the end of line or file.
mod ident;
mod lang;
mod scanner;

pub use ident::{for_each_boundary, is_boundary, parts as identifier_parts, separates};
pub use lang::{alias_language, code_language, extension_dot, Lang, Table};
pub use scanner::Scanner;

/// What a piece is. Strings and comments are split like prose into their own kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Identifier = 0,
    Keyword,
    Number,
    Operator,
    Delimiter,
    /// Whitespace inside a line.
    Space,
    /// Whitespace at the start of a line.
    Indent,
    Newline,
    /// A quote that opens or closes a string (with its prefix for raw strings).
    StringDelim,
    StringText,
    /// The marker that opens or closes a comment.
    CommentDelim,
    CommentText,
    /// Anything else: a stray character, a non-ASCII symbol.
    Other,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Identifier,
        Kind::Keyword,
        Kind::Number,
        Kind::Operator,
        Kind::Delimiter,
        Kind::Space,
        Kind::Indent,
        Kind::Newline,
        Kind::StringDelim,
        Kind::StringText,
        Kind::CommentDelim,
        Kind::CommentText,
        Kind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Identifier => "identifier",
            Kind::Keyword => "keyword",
            Kind::Number => "number",
            Kind::Operator => "operator",
            Kind::Delimiter => "delimiter",
            Kind::Space => "space",
            Kind::Indent => "indent",
            Kind::Newline => "newline",
            Kind::StringDelim => "string_delim",
            Kind::StringText => "string",
            Kind::CommentDelim => "comment_delim",
            Kind::CommentText => "comment",
            Kind::Other => "other",
        }
    }

    /// Identifiers and keywords: what the identifier vocabulary may match.
    pub fn is_identifier_like(self) -> bool {
        matches!(self, Kind::Identifier | Kind::Keyword)
    }

    pub fn is_whitespace(self) -> bool {
        matches!(self, Kind::Space | Kind::Indent | Kind::Newline)
    }
}

/// A half-open byte range of the input and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

impl Piece {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }
}

/// All pieces of `text` (convenience for tests and small inputs; hot paths iterate a `Scanner`).
pub fn pretokenize(text: &str, lang: Lang) -> Vec<Piece> {
    Scanner::new(text, lang).collect()
}
