//! Languages the scanner knows and the table of each family: keywords, operators, comments, quotes.
use crate::error::{Error, Result};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::path::Path;
use std::sync::OnceLock;

/// A language family: one scanner table each. Unknown file types get `Generic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Python,
    JavaScript,
    Java,
    Go,
    Rust,
    C,
    Generic,
}

/// How a quote character opens a string in a language.
#[derive(Debug, Clone, Copy)]
pub struct Quote {
    pub open: &'static str,
    pub close: &'static str,
    /// Backslash escapes the next character.
    pub escapes: bool,
    /// The string may span lines; otherwise an unescaped newline ends it.
    pub multiline: bool,
}

const fn q(open: &'static str, escapes: bool, multiline: bool) -> Quote {
    Quote {
        open,
        close: open,
        escapes,
        multiline,
    }
}

pub struct Table {
    pub keywords: &'static [&'static str],
    /// Multi-character operators; matched longest first.
    pub operators: &'static [&'static str],
    pub line_comments: &'static [&'static str],
    pub block_comment: Option<(&'static str, &'static str)>,
    /// Block comments nest (Rust).
    pub nested_comments: bool,
    /// Quotes, longest opener first (so `"""` wins over `"`).
    pub quotes: &'static [Quote],
    /// `$` may appear in identifiers (JavaScript, Java).
    pub dollar_ident: bool,
}

impl Lang {
    /// Every family, in a fixed order (tables derived per language are indexed by it).
    pub const ALL: [Lang; 7] = [
        Lang::Python,
        Lang::JavaScript,
        Lang::Java,
        Lang::Go,
        Lang::Rust,
        Lang::C,
        Lang::Generic,
    ];

    /// A language from a user-given name or alias (any case; empty: generic); unknown names
    /// are an error, not a silent fallback.
    pub fn from_name(name: &str) -> Result<Lang> {
        let lower = name.trim().to_ascii_lowercase();
        if lower.is_empty() {
            return Ok(Lang::Generic);
        }
        table()
            .by_name
            .get(&lower)
            .copied()
            .ok_or_else(|| Error::UnknownLanguage(name.to_string()))
    }

    /// The canonical language names, in the shared table's order (for messages).
    pub fn names() -> &'static [String] {
        &table().names
    }

    /// The language of a file from its extension; anything unknown is `Generic`.
    pub fn from_path(path: &Path) -> Lang {
        // Lossy, as Python reads an undecodable byte: the extension after it still counts.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        by_extension(&name).map_or(Lang::Generic, |&(_, lang)| lang)
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::JavaScript => "javascript",
            Lang::Java => "java",
            Lang::Go => "go",
            Lang::Rust => "rust",
            Lang::C => "c",
            Lang::Generic => "generic",
        }
    }

    pub fn table(self) -> &'static Table {
        match self {
            Lang::Python => &PYTHON,
            Lang::JavaScript => &JAVASCRIPT,
            Lang::Java => &JAVA,
            Lang::Go => &GO,
            Lang::Rust => &RUST,
            Lang::C => &C,
            Lang::Generic => &GENERIC,
        }
    }
}

/// The canonical name of the language of a file called `name` from its extension (any case),
/// as `codemill.languages.code_language` gives it from the name alone; None for no known one.
pub fn code_language(name: &str) -> Option<&'static str> {
    by_extension(name).map(|&(i, _)| table().names[i].as_str())
}

/// The canonical name for a data set's spelling of a language, already stripped and lowercased
/// (`codemill.languages.ALIASES`: "python3" -> "python"); None for one the table lacks.
pub fn alias_language(key: &str) -> Option<&'static str> {
    let t = table();
    t.by_alias.get(key).map(|&i| t.names[i].as_str())
}

/// Where the extension of the file name `name` starts: its last dot, where something other
/// than dots comes before that (Python's `os.path.splitext`: `.bashrc` and `..a` have none).
pub fn extension_dot(name: &[u8]) -> Option<usize> {
    let dot = name.iter().rposition(|&b| b == b'.')?;
    name[..dot].iter().any(|&b| b != b'.').then_some(dot)
}

/// The table's entry for the extension of the file name `name` (see [`extension_dot`]).
fn by_extension(name: &str) -> Option<&'static (usize, Lang)> {
    let dot = extension_dot(name.as_bytes())?;
    table().by_extension.get(&name[dot..].to_lowercase())
}

/// The language table shared with the Python package (`codemill/languages.py` reads the same
/// file), compiled in: names, aliases and extensions are written once, for both sides.
const SHARED_TABLE: &str = include_str!("../../python/codemill/data/languages.json");

#[derive(Deserialize)]
struct SharedFile {
    languages: Vec<SharedEntry>,
}

#[derive(Deserialize)]
struct SharedEntry {
    name: String,
    family: String,
    aliases: Vec<String>,
    extensions: Vec<String>,
}

struct Names {
    names: Vec<String>,
    by_name: FxHashMap<String, Lang>,
    /// Name or alias, as the table spells it -> index in `names` (`languages.ALIASES`).
    by_alias: FxHashMap<String, usize>,
    /// Extension -> (index in `names`, family).
    by_extension: FxHashMap<String, (usize, Lang)>,
}

fn table() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        // The file is part of the build, checked by the tests below: a broken one is a bug of
        // this build, not bad input.
        let file: SharedFile =
            serde_json::from_str(SHARED_TABLE).expect("languages.json is a valid language table");
        let mut t = Names {
            names: Vec::new(),
            by_name: FxHashMap::default(),
            by_alias: FxHashMap::default(),
            by_extension: FxHashMap::default(),
        };
        for e in file.languages {
            let lang = *Lang::ALL
                .iter()
                .find(|l| l.name() == e.family)
                .expect("every family in languages.json is a scanner table");
            for alias in std::iter::once(&e.name).chain(&e.aliases) {
                t.by_name.insert(alias.to_ascii_lowercase(), lang);
                t.by_alias.insert(alias.clone(), t.names.len());
            }
            for ext in &e.extensions {
                t.by_extension.insert(ext.clone(), (t.names.len(), lang));
            }
            t.names.push(e.name);
        }
        t
    })
}

static PYTHON: Table = Table {
    keywords: &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield", "match", "case",
    ],
    operators: &[
        "**=", "//=", ">>=", "<<=", "...", "**", "//", ">>", "<<", "<=", ">=", "==", "!=", "->",
        "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", ":=",
    ],
    line_comments: &["#"],
    block_comment: None,
    nested_comments: false,
    quotes: &[
        q("\"\"\"", true, true),
        q("'''", true, true),
        q("\"", true, false),
        q("'", true, false),
    ],
    dollar_ident: false,
};

static JAVASCRIPT: Table = Table {
    keywords: &[
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "new",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
        "let",
        "static",
        "async",
        "await",
        "of",
        "null",
        "true",
        "false",
        "undefined",
        "interface",
        "type",
        "enum",
        "implements",
        "readonly",
        "private",
        "public",
        "protected",
        "declare",
        "namespace",
        "abstract",
        "as",
        "keyof",
    ],
    operators: &[
        ">>>=", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "...", "=>", "==",
        "!=", "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=",
        "|=", "^=", "**", "<<", ">>",
    ],
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    nested_comments: false,
    quotes: &[
        q("\"", true, false),
        q("'", true, false),
        q("`", true, true),
    ],
    dollar_ident: true,
};

static JAVA: Table = Table {
    keywords: &[
        "abstract",
        "assert",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "float",
        "for",
        "goto",
        "if",
        "implements",
        "import",
        "instanceof",
        "int",
        "interface",
        "long",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "try",
        "void",
        "volatile",
        "while",
        "var",
        "record",
        "yield",
        "null",
        "true",
        "false",
    ],
    operators: &[
        ">>>=", "<<=", ">>=", ">>>", "...", "->", "::", "==", "!=", "<=", ">=", "&&", "||", "++",
        "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>",
    ],
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    nested_comments: false,
    quotes: &[
        q("\"\"\"", true, true),
        q("\"", true, false),
        q("'", true, false),
    ],
    dollar_ident: true,
};

static GO: Table = Table {
    keywords: &[
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
        "nil",
        "true",
        "false",
    ],
    operators: &[
        "<<=", ">>=", "&^=", "...", ":=", "==", "!=", "<=", ">=", "&&", "||", "<-", "++", "--",
        "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "&^",
    ],
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    nested_comments: false,
    quotes: &[
        q("\"", true, false),
        q("'", true, false),
        q("`", false, true),
    ],
    dollar_ident: false,
};

static RUST: Table = Table {
    keywords: &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
        "true", "type", "unsafe", "use", "where", "while",
    ],
    operators: &[
        "<<=", ">>=", "..=", "...", "::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=",
        "-=", "*=", "/=", "%=", "^=", "&=", "|=", "<<", ">>", "..",
    ],
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    nested_comments: true,
    // Rust's `'` is handled by the scanner (char literal or lifetime).
    quotes: &[q("\"", true, true)],
    dollar_ident: false,
};

static C: Table = Table {
    keywords: &[
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "bool",
        "true",
        "false",
        "class",
        "namespace",
        "template",
        "typename",
        "public",
        "private",
        "protected",
        "virtual",
        "override",
        "new",
        "delete",
        "this",
        "nullptr",
        "using",
        "try",
        "catch",
        "throw",
        "const_cast",
        "static_cast",
        "dynamic_cast",
        "reinterpret_cast",
        "constexpr",
        "noexcept",
        "operator",
        "friend",
        "explicit",
        "mutable",
    ],
    operators: &[
        "<<=", ">>=", "<=>", "->*", "...", "->", "::", "==", "!=", "<=", ">=", "&&", "||", "++",
        "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", ".*", "##",
    ],
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    nested_comments: false,
    quotes: &[q("\"", true, false), q("'", true, false)],
    dollar_ident: false,
};

static GENERIC: Table = Table {
    keywords: &[],
    operators: &[
        "===", "!==", "<<=", ">>=", "...", "**", "//", "->", "=>", "::", ":=", "==", "!=", "<=",
        ">=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "<<", ">>",
    ],
    line_comments: &["#", "//"],
    block_comment: Some(("/*", "*/")),
    nested_comments: false,
    quotes: &[q("\"", true, false), q("'", true, false)],
    dollar_ident: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extension_is_what_splitext_sees() {
        for (name, dot) in [
            ("a.py", Some(1)),
            ("a.", Some(1)),
            ("x.tar.gz", Some(5)),
            ("..a.b", Some(3)),
            ("Makefile", None),
            (".bashrc", None),
            ("..a", None),
            ("...", None),
            ("", None),
        ] {
            assert_eq!(extension_dot(name.as_bytes()), dot, "{name}");
        }
    }

    #[test]
    fn names_and_extensions() {
        assert_eq!(Lang::from_name("Python").unwrap(), Lang::Python);
        assert_eq!(Lang::from_name("c++").unwrap(), Lang::C);
        assert!(matches!(
            Lang::from_name("cobol"),
            Err(Error::UnknownLanguage(_))
        ));
        assert_eq!(Lang::from_name("TS").unwrap(), Lang::JavaScript);
        assert_eq!(Lang::from_name("").unwrap(), Lang::Generic);
        assert_eq!(Lang::from_path(Path::new("a/b.tsx")), Lang::JavaScript);
        assert_eq!(Lang::from_path(Path::new("a/B.HPP")), Lang::C);
        assert_eq!(Lang::from_path(Path::new("Makefile")), Lang::Generic);
        assert_eq!(Lang::from_path(Path::new("..py")), Lang::Generic);
        #[cfg(unix)]
        {
            // An undecodable byte before the extension, as Python's `code_language` reads it.
            use std::os::unix::ffi::OsStrExt;
            let name = std::ffi::OsStr::from_bytes(b"\xff.py");
            assert_eq!(Lang::from_path(Path::new(name)), Lang::Python);
        }
        assert_eq!(code_language("a.TSX"), Some("typescript"));
        assert_eq!(code_language("x.tar.py"), Some("python"));
        assert_eq!(code_language("a..py"), Some("python"));
        for none in [".py", "..py", "...py", "a.", "a", "", "a.py.bak"] {
            assert_eq!(code_language(none), None, "{none:?}");
        }
        assert_eq!(Lang::names()[0], "python");
        assert!(Lang::names().iter().all(|n| Lang::from_name(n).is_ok()));
        for lang in [
            Lang::Python,
            Lang::JavaScript,
            Lang::Java,
            Lang::Go,
            Lang::Rust,
            Lang::C,
        ] {
            let t = lang.table();
            // Longest-first order is what the scanner relies on.
            for w in t.operators.windows(2) {
                assert!(w[0].len() >= w[1].len(), "{lang:?}: {w:?}");
            }
            assert_eq!(Lang::from_name(lang.name()).unwrap(), lang);
        }
        // The scanner settles a byte no operator's first two bytes start as a single byte
        // (scanner.rs, `operator_pairs`): every operator has two or more, and no NUL.
        for lang in Lang::ALL {
            for op in lang.table().operators {
                assert!(op.len() >= 2 && !op.contains('\0'), "{lang:?}: {op:?}");
            }
        }
    }
}
