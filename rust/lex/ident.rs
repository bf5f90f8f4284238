//! Sub-identifier boundaries: where `snake_case`, `camelCase`, `HTTPServer` and `utf8` split.
//!
//! The identifier vocabulary accepts a match only if it starts and ends on one of these
//! boundaries, so `data` never matches inside `metadata` but does inside `user_data`.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Underscore,
    Other,
}

fn class(c: char) -> Class {
    if c == '_' {
        Class::Underscore
    } else if c.is_ascii_digit() {
        Class::Digit
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_alphabetic() {
        Class::Lower
    } else {
        Class::Other
    }
}

/// Calls `f(offset)` for every boundary of `ident`, in increasing order, 0 and `len` included.
pub fn for_each_boundary(ident: &str, mut f: impl FnMut(usize)) {
    f(0);
    let mut prev: Option<(char, Class)> = None;
    let mut chars = ident.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let cls = class(c);
        if let Some((_, pcls)) = prev {
            let boundary = match (pcls, cls) {
                (a, b) if a == b => {
                    // Inside an upper-case run, `HTTPServer` splits before the `S` that starts
                    // a capitalised word: look ahead for a lower-case letter.
                    cls == Class::Upper
                        && matches!(chars.peek(), Some(&(_, n)) if class(n) == Class::Lower)
                }
                (Class::Upper, Class::Lower) => false,
                _ => true,
            };
            if boundary {
                f(i);
            }
        }
        prev = Some((c, cls));
    }
    if !ident.is_empty() {
        f(ident.len());
    }
}

/// The parts between consecutive boundaries (`getHTTPResponse2` -> get, HTTP, Response, 2).
pub fn parts(ident: &str) -> impl Iterator<Item = &str> {
    let mut bounds = Vec::with_capacity(8);
    for_each_boundary(ident, |b| bounds.push(b));
    (1..bounds.len()).map(move |k| &ident[bounds[k - 1]..bounds[k]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<&str> {
        parts(s).collect()
    }

    #[test]
    fn splits_identifier_styles() {
        assert_eq!(split("getUserById"), ["get", "User", "By", "Id"]);
        assert_eq!(split("HTTPServer"), ["HTTP", "Server"]);
        assert_eq!(split("user_data"), ["user", "_", "data"]);
        assert_eq!(split("__init__"), ["__", "init", "__"]);
        assert_eq!(split("utf8Decode"), ["utf", "8", "Decode"]);
        assert_eq!(split("metadata"), ["metadata"]);
        assert_eq!(split("MAX_SIZE"), ["MAX", "_", "SIZE"]);
        assert_eq!(split("größeWert"), ["größe", "Wert"]);
        assert_eq!(split("x"), ["x"]);
        assert!(split("").is_empty());
    }
}
