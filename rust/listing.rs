//! One directory's listing for the corpus walk, in one call: each entry's name, kind, and a
//! regular file's size and modification time, sorted as Python sorts the names. The walk in
//! Python spent more on `os.scandir`'s entry objects, the sort key and a `stat` call per file
//! than on its own rules (a tree of 82k files: ~1 s of ~1.6 s).
use crate::lex::extension_dot;
use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Bytes of an extension-less file read to find a shebang line.
pub const HEAD_BYTES: usize = 128;

/// What a listed entry is (not following a link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A FIFO, socket or device.
    Other = 0,
    File = 1,
    Dir = 2,
    Link = 3,
    /// Its type could not be read.
    Unreadable = 4,
}

/// One entry of a listing. `size` and `mtime_ns` are a regular file's (`lstat`), None when
/// not a file or its `lstat` failed. `head`: the first [`HEAD_BYTES`] of a regular file whose
/// name has no extension (its shebang names its language), None for other entries or where it
/// could not be read (the walk then opens the file itself, and counts why it cannot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: OsString,
    pub kind: Kind,
    pub size: Option<u64>,
    pub mtime_ns: Option<i128>,
    pub head: Option<Vec<u8>>,
}

/// The entries of `dir` (no `.` and `..`), sorted as Python sorts their names (see
/// [`python_order`]). An error opening or reading the directory is returned as is.
pub fn list_dir(dir: &Path) -> io::Result<Vec<Listed>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = match entry.file_type() {
            Err(_) => Kind::Unreadable,
            Ok(t) if t.is_symlink() => Kind::Link,
            Ok(t) if t.is_dir() => Kind::Dir,
            Ok(t) if t.is_file() => Kind::File,
            Ok(_) => Kind::Other,
        };
        // DirEntry::metadata does not follow a link: the lstat of os.DirEntry.stat(follow_symlinks=False).
        let meta = if kind == Kind::File {
            entry.metadata().ok()
        } else {
            None
        };
        let name = entry.file_name();
        // Read here, on the lister's thread where there is one: opening every LICENSE and
        // README of a tree from the walk took ~1/6 of planning a tree of crates.
        let head = if kind == Kind::File && extension_dot(&name_bytes(&name)).is_none() {
            read_head(&entry.path())
        } else {
            None
        };
        out.push(Listed {
            name,
            kind,
            size: meta.as_ref().map(fs::Metadata::len),
            mtime_ns: meta.as_ref().and_then(mtime_ns),
            head,
        });
    }
    if out
        .iter()
        .all(|e| std::str::from_utf8(&name_bytes(&e.name)).is_ok())
    {
        out.sort_unstable_by(|a, b| name_bytes(&a.name).cmp(&name_bytes(&b.name)));
    } else {
        out.sort_by_cached_key(|e| python_order(&name_bytes(&e.name)).into_owned());
    }
    Ok(out)
}

/// The first [`HEAD_BYTES`] of the file at `path`; None if it cannot be opened or read.
fn read_head(path: &Path) -> Option<Vec<u8>> {
    let mut open = fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    {
        // A file swapped for a FIFO since the listing must not hold the lister forever.
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(libc::O_NONBLOCK);
    }
    let mut head = Vec::with_capacity(HEAD_BYTES);
    open.open(path)
        .ok()?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .ok()?;
    Some(head)
}

/// Python's `st_mtime_ns`: nanoseconds since the epoch, negative before it.
fn mtime_ns(m: &fs::Metadata) -> Option<i128> {
    let t = m.modified().ok()?;
    Some(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    })
}

/// A name's bytes as the file system has them (elsewhere than Unix: as UTF-8).
#[cfg(unix)]
fn name_bytes(name: &OsStr) -> Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    Cow::Borrowed(name.as_bytes())
}

#[cfg(not(unix))]
fn name_bytes(name: &OsStr) -> Cow<'_, [u8]> {
    match name.to_string_lossy() {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// A sort key whose byte order is the order of the names as Python strings. Python decodes a
/// file name as UTF-8 with `surrogateescape`: an undecodable byte `b` becomes U+DC00 + `b`. UTF-8
/// keeps code point order in byte order, so valid parts stay as they are and each undecodable
/// byte becomes that surrogate's three-byte form.
pub fn python_order(name: &[u8]) -> Cow<'_, [u8]> {
    if std::str::from_utf8(name).is_ok() {
        return Cow::Borrowed(name);
    }
    let mut key = Vec::with_capacity(name.len() * 3);
    for chunk in name.utf8_chunks() {
        key.extend_from_slice(chunk.valid().as_bytes());
        for &b in chunk.invalid() {
            let c = 0xDC00u32 + u32::from(b);
            key.extend_from_slice(&[
                0xE0 | (c >> 12) as u8,
                0x80 | ((c >> 6) & 0x3F) as u8,
                0x80 | (c & 0x3F) as u8,
            ]);
        }
    }
    Cow::Owned(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)] // a link
    fn lists_sorted_with_kinds_sizes_and_times() {
        let dir = std::env::temp_dir().join(format!("codemill-listing-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("b.py"), "x = 1\n").unwrap();
        fs::write(dir.join("a.rs"), "").unwrap();
        std::os::unix::fs::symlink(dir.join("b.py"), dir.join("c.py")).unwrap();
        let listed = list_dir(&dir).unwrap();
        let names: Vec<_> = listed.iter().map(|e| e.name.to_str().unwrap()).collect();
        assert_eq!(names, ["a.rs", "b.py", "c.py", "sub"]);
        let kinds: Vec<_> = listed.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [Kind::File, Kind::File, Kind::Link, Kind::Dir]);
        assert_eq!(
            (listed[0].size, listed[1].size, listed[2].size),
            (Some(0), Some(6), None)
        );
        let m = fs::symlink_metadata(dir.join("b.py")).unwrap();
        use std::os::unix::fs::MetadataExt;
        let ns = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
        assert_eq!(listed[1].mtime_ns, Some(ns));
        assert_eq!(listed[1].mtime_ns, mtime_ns(&m));
        assert!(list_dir(&dir.join("missing")).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_head_of_files_without_an_extension() {
        let dir = std::env::temp_dir().join(format!("codemill-heads-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("tool")).unwrap();
        let long = format!("#!/usr/bin/env python3\n{}", "x".repeat(300));
        fs::write(dir.join("script"), &long).unwrap();
        fs::write(dir.join(".bashrc"), "#!/bin/sh\n").unwrap();
        fs::write(dir.join("empty"), "").unwrap();
        fs::write(dir.join("a.py"), "#!/usr/bin/env python\n").unwrap();
        let listed = list_dir(&dir).unwrap();
        let head = |n: &str| listed.iter().find(|e| e.name == n).unwrap().head.clone();
        assert_eq!(head("script"), Some(long.as_bytes()[..HEAD_BYTES].to_vec()));
        assert_eq!(head(".bashrc").as_deref(), Some(&b"#!/bin/sh\n"[..]));
        assert_eq!(head("empty"), Some(Vec::new()));
        assert_eq!((head("a.py"), head("tool")), (None, None));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn undecodable_bytes_sort_as_their_surrogates() {
        // As Python: "z" < "é" (U+00E9) < "\udcff" (the byte 0xFF) < "\ue000".
        let names: Vec<Vec<u8>> = vec![
            b"\xee\x80\x80".to_vec(),
            b"\xff".to_vec(),
            "é".into(),
            b"z".to_vec(),
        ];
        let mut sorted = names.clone();
        sorted.sort_by_cached_key(|n| python_order(n).into_owned());
        assert_eq!(
            sorted,
            [
                b"z".to_vec(),
                "é".into(),
                b"\xff".to_vec(),
                b"\xee\x80\x80".to_vec()
            ]
        );
        // U+DC80 in its three-byte form between the valid parts.
        assert_eq!(&*python_order(b"a\x80b"), [b'a', 0xED, 0xB2, 0x80, b'b']);
    }
}
