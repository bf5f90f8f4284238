//! A code file as the corpus jobs read it: a regular file of UTF-8 text, or the reason it is
//! not read (the names of `codemill.sources.skips`). The rules live here once; Python asks them
//! of a local path (read here, without the GIL) and of an object's bytes fetched from storage.
//!
//! Reading a tree's files in Python cost ~37 µs a file (stat, open, read, close, decode, each a
//! call with the interpreter around it), most of it holding the GIL: a quarter of a one-core
//! tokenize of the 1 GB tree, and what held a 2-thread run of a small tree to ~1.3x.
use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

/// A NUL byte in this many leading bytes marks binary data.
pub const SNIFF: usize = 8192;

/// Why a file is not read as code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unread {
    Empty,
    TooLarge,
    Binary,
    InvalidUtf8,
    Unreadable,
    NotAFile,
}

impl Unread {
    /// The skip reason's name, as `codemill.sources.skips` spells it.
    pub fn reason(self) -> &'static str {
        match self {
            Unread::Empty => "empty",
            Unread::TooLarge => "too_large",
            Unread::Binary => "binary",
            Unread::InvalidUtf8 => "invalid_utf8",
            Unread::Unreadable => "unreadable",
            Unread::NotAFile => "not_a_file",
        }
    }
}

/// Whether `data` is usable code text: not empty, at most `max_bytes`, no NUL in its first
/// `SNIFF` bytes, UTF-8 (as Python's strict decoder takes it: no surrogates, no overlongs).
pub fn check(data: &[u8], max_bytes: u64) -> Result<&str, Unread> {
    if data.is_empty() {
        return Err(Unread::Empty);
    }
    if data.len() as u64 > max_bytes {
        return Err(Unread::TooLarge);
    }
    if memchr::memchr(0, &data[..data.len().min(SNIFF)]).is_some() {
        return Err(Unread::Binary);
    }
    std::str::from_utf8(data).map_err(|_| Unread::InvalidUtf8)
}

/// The text of the local file `path` when it is usable code text (`check`), else why not.
///
/// Only a regular file is opened (the metadata follows links, as a read does): opening a FIFO
/// waits for a writer, opening a device can act on it (a tape rewinds). A file larger than
/// `max_bytes` is refused before it is read; one that grew since is read one byte past the
/// limit at most, and refused then.
pub fn read(path: &Path, max_bytes: u64) -> Result<String, Unread> {
    let meta = fs::metadata(path).map_err(|_| Unread::Unreadable)?;
    if !meta.is_file() {
        return Err(Unread::NotAFile);
    }
    if meta.len() > max_bytes {
        return Err(Unread::TooLarge);
    }
    let file = File::open(path).map_err(|_| Unread::Unreadable)?;
    let mut data = Vec::with_capacity(meta.len() as usize + 1);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|_| Unread::Unreadable)?;
    check(&data, max_bytes)?;
    // SAFETY: `check` found the bytes UTF-8 (checked once: this runs for every file of a corpus).
    Ok(unsafe { String::from_utf8_unchecked(data) })
}

/// `read` of the first of `paths`, and of those after it while the texts read hold under
/// `budget` bytes (the caller asks again for the rest): a run of large files is not all held
/// at once. One result per path taken, in order.
pub fn read_within<P: AsRef<Path>>(
    paths: &[P],
    max_bytes: u64,
    budget: u64,
) -> Vec<Result<String, Unread>> {
    let mut out = Vec::with_capacity(paths.len());
    let mut held = 0u64;
    for p in paths {
        let r = read(p.as_ref(), max_bytes);
        held += r.as_ref().map_or(0, |d| d.len() as u64);
        out.push(r);
        if held >= budget {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_follows_the_skip_rules() {
        assert_eq!(check(b"", 10), Err(Unread::Empty));
        assert_eq!(check(b"x = 1\n", 6), Ok("x = 1\n"));
        assert_eq!(check(b"x = 1\n", 5), Err(Unread::TooLarge));
        assert_eq!(check(b"a\0b", 10), Err(Unread::Binary));
        // A NUL past the sniffed head is text (as the Python reader had it).
        let mut late = vec![b'a'; SNIFF];
        late.push(0);
        assert!(check(&late, 1 << 20).is_ok());
        assert_eq!(check(b"\xff", 10), Err(Unread::InvalidUtf8));
        // A surrogate's UTF-8 form and an overlong form are refused, as Python's decoder does.
        assert_eq!(check(b"\xed\xa0\x80", 10), Err(Unread::InvalidUtf8));
        assert_eq!(check(b"\xc0\xaf", 10), Err(Unread::InvalidUtf8));
        assert_eq!(check("é😀".as_bytes(), 10), Ok("é😀"));
    }

    #[test]
    fn read_refuses_what_is_not_code_text() {
        let dir = std::env::temp_dir().join(format!("codemill-code-file-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("a.py"), "print(1)\n").unwrap();
        fs::write(dir.join("empty.py"), "").unwrap();
        fs::write(dir.join("big.py"), "x".repeat(100)).unwrap();
        assert_eq!(read(&dir.join("a.py"), 100).unwrap(), "print(1)\n");
        assert_eq!(read(&dir.join("empty.py"), 100), Err(Unread::Empty));
        assert_eq!(read(&dir.join("big.py"), 99), Err(Unread::TooLarge));
        assert_eq!(read(&dir.join("big.py"), 100).unwrap().len(), 100);
        fs::write(dir.join("latin1.py"), b"Fran\xe7ois").unwrap();
        assert_eq!(read(&dir.join("latin1.py"), 100), Err(Unread::InvalidUtf8));
        assert_eq!(read(&dir, 100), Err(Unread::NotAFile));
        assert_eq!(read(&dir.join("missing.py"), 100), Err(Unread::Unreadable));
        // Files are taken until the texts read reach the budget: at least one.
        let names = ["a.py", "empty.py", "big.py", "a.py"].map(|n| dir.join(n));
        assert_eq!(read_within(&names, 100, 5).len(), 1);
        assert_eq!(read_within(&names, 100, 10).len(), 3);
        assert_eq!(read_within(&names, 100, 1000).len(), 4);
        assert_eq!(read_within(&names[1..2], 100, 0), [Err(Unread::Empty)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
