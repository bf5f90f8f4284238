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

/// The class of an ASCII byte: the one place the rule for ASCII is written (`class` looks
/// non-ASCII chars up by their Unicode properties, the ASCII path of `for_each_boundary` uses
/// this table directly).
const ASCII_CLASS: [Class; 128] = {
    let mut t = [Class::Other; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'_' => Class::Underscore,
            b'0'..=b'9' => Class::Digit,
            b'A'..=b'Z' => Class::Upper,
            b'a'..=b'z' => Class::Lower,
            _ => Class::Other,
        };
        b += 1;
    }
    t
};

fn class(c: char) -> Class {
    if c.is_ascii() {
        ASCII_CLASS[c as usize]
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_alphabetic() {
        Class::Lower
    } else {
        // Non-ASCII digits too: only ASCII digits form a digit run.
        Class::Other
    }
}

/// Whether there is a boundary between classes `prev` and `cur`, `next` the class after `cur`.
#[inline]
fn splits(prev: Class, cur: Class, next: Option<Class>) -> bool {
    match (prev, cur) {
        // Inside an upper-case run, `HTTPServer` splits before the `S` that starts a
        // capitalised word: look ahead for a lower-case letter.
        (a, b) if a == b => cur == Class::Upper && next == Some(Class::Lower),
        (Class::Upper, Class::Lower) => false,
        _ => true,
    }
}

/// Whether `b` is an ASCII byte that is no part of an identifier: there is a boundary on both
/// of its sides whatever stands beyond them (`splits` looks past `cur` only for a lower-case
/// letter), so a stretch of text between two such bytes has the same boundaries anywhere.
pub fn separates(b: u8) -> bool {
    b < 128 && ASCII_CLASS[usize::from(b)] == Class::Other
}

/// Whether byte offset `p` of `text` (a char boundary) is a sub-identifier boundary: the edge
/// of the text, next to a character that is not part of an identifier, or where `splits` says.
/// The same rule as `for_each_boundary`, asked at one offset of running text.
pub fn is_boundary(text: &str, p: usize) -> bool {
    let b = text.as_bytes();
    if p == 0 || p >= b.len() {
        return true;
    }
    let (prev, cur) = (b[p - 1], b[p]);
    if prev < 128 && cur < 128 {
        let cls = |x: u8| ASCII_CLASS[usize::from(x)];
        let (pc, cc) = (cls(prev), cls(cur));
        if pc == Class::Other || cc == Class::Other {
            return true;
        }
        let next = match b.get(p + 1) {
            Some(&n) if n < 128 => Some(cls(n)),
            Some(_) => text[p + 1..].chars().next().map(class),
            None => None,
        };
        return splits(pc, cc, next);
    }
    let mut after = text[p..].chars();
    let (Some(pc), Some(cc)) = (
        text[..p].chars().next_back().map(class),
        after.next().map(class),
    ) else {
        return true;
    };
    pc == Class::Other || cc == Class::Other || splits(pc, cc, after.next().map(class))
}

/// Calls `f(offset)` for every boundary of `ident`, in increasing order, 0 and `len` included.
/// ASCII identifiers (nearly all) go byte by byte through a table; others char by char.
pub fn for_each_boundary(ident: &str, mut f: impl FnMut(usize)) {
    if ident.is_ascii() {
        let cls = |b: u8| ASCII_CLASS[usize::from(b)];
        let b = ident.as_bytes();
        f(0);
        for i in 1..b.len() {
            if splits(cls(b[i - 1]), cls(b[i]), b.get(i + 1).map(|&n| cls(n))) {
                f(i);
            }
        }
        if !b.is_empty() {
            f(b.len());
        }
        return;
    }
    for_each_boundary_chars(ident, f);
}

fn for_each_boundary_chars(ident: &str, mut f: impl FnMut(usize)) {
    f(0);
    let mut prev: Option<(char, Class)> = None;
    let mut chars = ident.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let cls = class(c);
        if let Some((_, pcls)) = prev {
            if splits(pcls, cls, chars.peek().map(|&(_, n)| class(n))) {
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

    #[test]
    fn is_boundary_agrees_with_for_each_boundary_inside_identifiers() {
        for ident in [
            "getHTTPResponse2",
            "user_data",
            "größeWert",
            "metadata",
            "__init__",
            "xÄb9",
        ] {
            let mut expected = Vec::new();
            for_each_boundary(ident, |b| expected.push(b));
            let text = format!("({ident})");
            let got: Vec<usize> = (1..=ident.len() + 1)
                .filter(|&p| text.is_char_boundary(p) && is_boundary(&text, p))
                .map(|p| p - 1)
                .collect();
            assert_eq!(got, expected, "{ident}");
        }
    }

    #[test]
    fn ascii_path_matches_the_char_path() {
        let alphabet = b"aZ_9bQ$x0AB.c";
        let mut x = 12345u64;
        for len in 0..40 {
            for _ in 0..200 {
                let s: String = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        alphabet[(x >> 33) as usize % alphabet.len()] as char
                    })
                    .collect();
                let (mut fast, mut chars) = (Vec::new(), Vec::new());
                for_each_boundary(&s, |b| fast.push(b));
                for_each_boundary_chars(&s, |b| chars.push(b));
                assert_eq!(fast, chars, "{s:?}");
            }
        }
    }
}
