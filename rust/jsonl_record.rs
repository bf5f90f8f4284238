//! A JSONL line's record as the corpus jobs take it (`codemill.sources.records`): the text to
//! encode and its language, or the reason the line holds none. Decided here for the lines data
//! sets write (a JSON object whose fields are UTF-8 strings), so that a JSONL corpus is read with
//! no Python object made of a record; any other line (one serde does not parse, a path that is
//! not a string, a non-ASCII language or extension) is left to the Python reader, whose rules
//! are the reference: the two never disagree, because only one of them decides each line.
//!
//! In Python (orjson, a `Document`, the text converted back to UTF-8 to encode) reading a record
//! cost more of a one-core tokenize of JSONL than the tree's files do.
use crate::code_file::SNIFF;
use crate::json_scan;
use crate::lex::{alias_language, code_language, extension_dot};
use rayon::prelude::*;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// The record fields to look in, each list in order of preference (`records.TEXT_FIELDS`,
/// `PATH_FIELDS` and `LANG_FIELDS`, or a user's text field).
#[derive(Clone, Debug, Default)]
pub struct Fields {
    pub text: Vec<String>,
    pub path: Vec<String>,
    pub language: Vec<String>,
}

impl Fields {
    /// Whether `key` is one of the fields looked in.
    fn wants(&self, key: &str) -> bool {
        [&self.text, &self.path, &self.language]
            .iter()
            .any(|names| names.iter().any(|n| n == key))
    }
}

/// The fields as the bindings take them: (text, path, language).
impl From<(Vec<String>, Vec<String>, Vec<String>)> for Fields {
    fn from((text, path, language): (Vec<String>, Vec<String>, Vec<String>)) -> Self {
        Fields {
            text,
            path,
            language,
        }
    }
}

/// What one line holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Record {
    /// A text to encode, in its canonical language.
    Text(String, &'static str),
    /// No record: the skip reason, as `codemill.sources.skips` spells it.
    Skip(&'static str),
    /// A line whose record the Python reader decides.
    Python,
}

/// What a batch of lines holds, in line order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Records {
    /// The texts of the records decided here, with their languages.
    pub texts: Vec<(String, &'static str)>,
    /// Each line's skip reason (None: a record, or a line left).
    pub reasons: Vec<Option<&'static str>>,
    /// The lines whose records the Python reader decides.
    pub left: Vec<usize>,
}

/// [`read_record`] of each line, parsed on rayon's pool (the caller's, if it installed one).
pub fn read_records(lines: &[&[u8]], fields: &Fields, max_bytes: u64) -> Records {
    let records: Vec<Record> = lines
        .par_iter()
        .map(|line| read_record(line, fields, max_bytes))
        .collect();
    let mut out = Records {
        reasons: Vec::with_capacity(records.len()),
        ..Records::default()
    };
    for (i, r) in records.into_iter().enumerate() {
        out.reasons.push(match r {
            Record::Text(text, language) => {
                out.texts.push((text, language));
                None
            }
            Record::Skip(reason) => Some(reason),
            Record::Python => {
                out.left.push(i);
                None
            }
        });
    }
    out
}

/// The record of one line (its newline, if any, included), as `RecordReader.record` reads it.
pub fn read_record(line: &[u8], fields: &Fields, max_bytes: u64) -> Record {
    // `bytes.strip()`'s whitespace: a blank line is a line of the file, counted as empty.
    if line
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
    {
        return Record::Skip("empty");
    }
    let Some(mut rec) = wanted_fields(line, fields) else {
        return Record::Python;
    };
    let path = match first(&rec, &fields.path) {
        None => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => return Record::Python, // Python takes str() of it
    };
    let language = match first(&rec, &fields.language) {
        Some(Value::String(name)) if !name.is_ascii() => return Record::Python,
        Some(Value::String(name)) => alias_language(&python_strip(name).to_ascii_lowercase()),
        _ => None, // not a string: the path decides
    };
    let language = match (language, path) {
        (Some(found), _) => found,
        (None, Some(p)) if !p.is_empty() => match path_language(p) {
            Some(found) => found,
            None => return Record::Python,
        },
        // No path: the record is named `FILE:N`, whose "extension" names no language.
        _ => "generic",
    };
    let text = match take_first(&mut rec, &fields.text) {
        Some(Value::String(text)) => text,
        _ => return Record::Skip("no_text"),
    };
    match check_text(&text, max_bytes) {
        Some(reason) => Record::Skip(reason),
        None => Record::Text(text, language),
    }
}

/// The fields of a line's JSON object that `fields` names, each its last value (as json and
/// orjson keep a duplicate key's last); None for a line serde does not parse as an object. The
/// other values are parsed as `Value` parses them (the same errors, the same depth limit) but not
/// kept: a data set's record carries dozens of fields a corpus job never reads.
fn wanted_fields(line: &[u8], fields: &Fields) -> Option<Map<String, Value>> {
    // Validated whole: serde checks UTF-8 only in the strings it keeps.
    let text = std::str::from_utf8(line).ok()?;
    if let Some(rec) = json_scan::wanted_fields(text, |key| fields.wants(key)) {
        return Some(rec); // the plain case, read as serde reads it
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let rec = de.deserialize_map(Wanted(fields)).ok()?;
    de.end().ok()?;
    Some(rec)
}

/// Visits a record's object: the values of the fields wanted, the rest passed over (`Skip`).
struct Wanted<'f>(&'f Fields);

impl<'de> Visitor<'de> for Wanted<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rec = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            if self.0.wants(&key) {
                rec.insert(key.into_owned(), map.next_value()?);
            } else {
                map.next_value_seed(Skip)?;
            }
        }
        Ok(rec)
    }
}

/// A field name, borrowed from the line where it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A value parsed and dropped, through `deserialize_any` as `Value` is: serde's `IgnoredAny`
/// skips nested arrays with no depth limit, and would take lines `Value` (and Python) refuse.
#[derive(Clone, Copy)]
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

/// `document.check_text`: empty, too large, or a NUL among its first `SNIFF` characters.
fn check_text(text: &str, max_bytes: u64) -> Option<&'static str> {
    if text.is_empty() {
        return Some("empty");
    }
    if text.len() as u64 > max_bytes {
        return Some("too_large");
    }
    // The first SNIFF characters are at most 4 * SNIFF bytes; a NUL there is among them if fewer
    // than SNIFF characters come before it (counted only then, not for every record).
    let bytes = text.as_bytes();
    let nul = memchr::memchr(0, &bytes[..bytes.len().min(4 * SNIFF)])?;
    (nul < SNIFF || text[..nul].chars().count() < SNIFF).then_some("binary")
}

/// The first of `names` the record holds other than null (`records._first`).
fn first<'a>(rec: &'a Map<String, Value>, names: &[String]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| rec.get(n).filter(|v| !v.is_null()))
}

/// [`first`], taken out of the record (a text is not copied).
fn take_first(rec: &mut Map<String, Value>, names: &[String]) -> Option<Value> {
    let name = names
        .iter()
        .find(|n| rec.get(*n).is_some_and(|v| !v.is_null()))?;
    rec.remove(name)
}

/// `str.strip()` of an ASCII string: Python's whitespace includes the separators \x1c-\x1f.
fn python_strip(s: &str) -> &str {
    s.trim_matches(|c| {
        matches!(
            c,
            ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' | '\x1c'..='\x1f'
        )
    })
}

/// `languages.detect_language` of a record's path (its extension; "generic" for none known),
/// or None where Python's lowercasing of a non-ASCII extension would have to be matched.
fn path_language(path: &str) -> Option<&'static str> {
    let name = &path[path.rfind('/').map_or(0, |i| i + 1)..];
    match extension_dot(name.as_bytes()) {
        None => Some("generic"),
        Some(dot) if !name[dot..].is_ascii() => None,
        Some(_) => Some(code_language(name).unwrap_or("generic")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        Fields {
            text: v(&["content", "text", "code"]),
            path: v(&["path", "max_stars_repo_path"]),
            language: v(&["language", "lang"]),
        }
    }

    fn read(line: &str) -> Record {
        read_record(line.as_bytes(), &fields(), 100)
    }

    fn text(t: &str, lang: &'static str) -> Record {
        Record::Text(t.to_string(), lang)
    }

    #[test]
    fn a_batch_keeps_line_order() {
        let lines: Vec<&[u8]> = vec![
            br#"{"content": "a", "path": "x.py"}"#,
            b"  \n",
            b"not json",
            br#"{"text": "b"}"#,
            br#"{"path": "no text"}"#,
        ];
        let got = read_records(&lines, &fields(), 100);
        assert_eq!(
            got,
            Records {
                texts: vec![("a".into(), "python"), ("b".into(), "generic")],
                reasons: vec![None, Some("empty"), None, None, Some("no_text")],
                left: vec![2],
            }
        );
    }

    #[test]
    fn texts_in_their_language() {
        assert_eq!(
            read(r#"{"content": "x = 1", "lang": " Python3\u001f"}"#),
            text("x = 1", "python")
        );
        assert_eq!(
            read(r#"{"text": "a\u00e9", "path": "d.x/M.RS"}"#),
            text("aé", "rust")
        );
        assert_eq!(
            read(r#"{"code": "a", "language": "C++", "path": "a.py"}"#),
            text("a", "cpp")
        );
        // An unknown or non-string language falls to the path; no path, or an empty one: generic.
        assert_eq!(
            read(r#"{"content": "a", "lang": "cobol", "path": "a.go"}"#),
            text("a", "go")
        );
        assert_eq!(
            read(r#"{"content": "a", "lang": 3, "path": "a.java"}"#),
            text("a", "java")
        );
        assert_eq!(
            read(r#"{"content": "a", "path": ""}"#),
            text("a", "generic")
        );
        assert_eq!(
            read(r#"{"content": "a", "path": ".bashrc"}"#),
            text("a", "generic")
        );
        assert_eq!(
            read(r#"{"content": "a", "path": "x.py/Makefile"}"#),
            text("a", "generic")
        );
        // The first field that is not null is the one: a null content gives way to text.
        assert_eq!(
            read(r#"{"content": null, "text": "t", "path": null}"#),
            text("t", "generic")
        );
        // Duplicate keys: the last one, as json and orjson take it.
        assert_eq!(
            read(r#"{"content": "a", "content": "b"}"#),
            text("b", "generic")
        );
    }

    #[test]
    fn skips_with_the_python_readers_reasons() {
        assert_eq!(read(" \t\x0b\x0c\r\n"), Record::Skip("empty"));
        assert_eq!(read(r#"{"content": ""}"#), Record::Skip("empty"));
        assert_eq!(read(r#"{"path": "a.py"}"#), Record::Skip("no_text"));
        assert_eq!(
            read(r#"{"content": 5, "text": "t"}"#),
            Record::Skip("no_text")
        );
        assert_eq!(
            read(&format!(r#"{{"content": "{}"}}"#, "a".repeat(101))),
            Record::Skip("too_large")
        );
        assert_eq!(read(r#"{"content": "a\u0000"}"#), Record::Skip("binary"));
        // A NUL past the first SNIFF characters (each two bytes here) is not binary; one just
        // before it is.
        let at = |n: usize| format!(r#"{{"content": "{}\u0000"}}"#, "é".repeat(n));
        let late = format!("{}\0", "é".repeat(SNIFF));
        assert_eq!(
            read_record(at(SNIFF).as_bytes(), &fields(), 1 << 20),
            text(&late, "generic")
        );
        assert_eq!(
            read_record(at(SNIFF - 1).as_bytes(), &fields(), 1 << 20),
            Record::Skip("binary")
        );
    }

    #[test]
    fn lines_only_python_decides() {
        for line in [
            "[1]",                            // not an object: json's error
            r#"{"content": "\ud800"}"#,       // a lone surrogate
            r#"{"content": "a", "n": NaN}"#,  // json takes NaN
            "\u{feff}{\"content\": \"a\"}",   // a BOM
            r#"{"content": "a", "path": 7}"#, // str(7)
            r#"{"content": "a", "lang": "Pythön"}"#,
            r#"{"content": "a", "path": "a.PŸ"}"#,
        ] {
            assert_eq!(read(line), Record::Python, "{line}");
        }
        assert_eq!(
            read_record(b"{\"content\": \"\xff\"}", &fields(), 100),
            Record::Python
        );
    }

    #[test]
    fn fields_not_read_are_parsed_as_json_parses_them() {
        // A data set's other fields, of every kind, are parsed and dropped.
        let line = r#"{"hexsha": "ab\"c\u00e9", "size": 12, "stars": -3, "frac": 0.5e1, "ok": true,
            "none": null, "licenses": ["MIT", {"k": [1, 2.5, null]}], "content": "a", "e": {}}"#;
        assert_eq!(read(line), text("a", "generic"));
        // What `Value` refuses (nesting past serde's 128 levels, a lone surrogate, invalid UTF-8
        // and a control character in a string, a number past f64, trailing text) leaves the line
        // to the Python reader even in a field no one reads: it decides such lines (json takes
        // some of them).
        let deep = format!(
            r#"{{"content": "a", "x": {}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(read(&deep), Record::Python);
        for line in [
            r#"{"content": "a", "x": "\udc00"}"#,
            "{\"content\": \"a\", \"x\": \"\t\"}",
            r#"{"content": "a", "x": 1e400}"#,
            r#"{"content": "a"} trailing"#,
        ] {
            assert_eq!(read(line), Record::Python, "{line}");
        }
        assert_eq!(
            read_record(b"{\"content\": \"a\", \"x\": \"\xff\"}", &fields(), 100),
            Record::Python
        );
    }
}
