//! Directory listings made ahead of a walk, on a thread of its own.
//!
//! The corpus walk lists each directory (`listing::list_dir`) and then judges its entries in
//! Python. Over a tree of 82k files the listings' system calls were most of the walk, and the
//! walk comes before any task starts. Here the subdirectories of every listing made are listed
//! in turn on another core, depth first in name order, as the walk will ask for them, while
//! the walk judges the entries it has. The walk still decides everything; a listing it takes is
//! the one it would have made, only made earlier, and those of folders it passes over are
//! dropped. Folders that the walk never enters by their name (`PassOver`: `.git`,
//! `node_modules`, a virtual environment) are not listed ahead. A walk that catches up with
//! the lister lists the directory after the lister's instead of waiting.
use crate::listing::{list_dir, Kind, Listed};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Listings made and not yet taken, at most: the lister waits beyond that (a flat folder of
/// 50,000 folders would otherwise be listed whole into memory ahead of the walk).
const AHEAD: usize = 1024;
/// Entries in the listings made and not yet taken, at most (~2 MB): 1,024 listings of folders
/// of 200 files held ~27 MB ahead of the walk of a 10 GB tree (66 MB planning it against 39 MB
/// for 5 GB). The lister still makes one listing whatever its size.
const AHEAD_ENTRIES: usize = 16_384;

/// A directory as its parent and its name. The walk (depth first, a directory's entries in
/// name order) lists each directory while it judges its parent's entries, so it asks for
/// listings in the order of these keys: parents in walk order (`Path` compares component by
/// component, a parent before its subtree), then names.
type Key = (PathBuf, OsString);

fn key(dir: &Path) -> Key {
    match (dir.parent(), dir.file_name()) {
        (Some(parent), Some(name)) => (parent.to_path_buf(), name.to_os_string()),
        _ => (PathBuf::new(), dir.as_os_str().to_os_string()),
    }
}

/// Folders the walk passes over by their name alone, or by a marker file among their entries:
/// their subtrees are not listed ahead (a `.git` holds hundreds of folders). The walk's own
/// rules, handed over by it: what this leaves out it lists itself if it ever asks.
#[derive(Default)]
pub struct PassOver {
    pub names: Vec<OsString>,
    pub suffixes: Vec<OsString>,
    pub markers: Vec<OsString>,
}

impl PassOver {
    fn name(&self, name: &OsStr) -> bool {
        let b = name.as_encoded_bytes();
        self.names.iter().any(|n| n == name)
            || self
                .suffixes
                .iter()
                .any(|s| b.ends_with(s.as_encoded_bytes()))
    }

    fn marked(&self, entries: &[Listed]) -> bool {
        entries.iter().any(|e| self.markers.contains(&e.name))
    }
}

pub struct ListingAhead {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The process that started the thread: a child forked mid-walk has no such thread (and
    /// maybe a lock held by it), so there it lists in turn and leaves the state alone.
    owner: u32,
}

struct Shared {
    pass_over: PassOver,
    state: Mutex<State>,
    /// A listing was made or taken, a directory queued, or the walk ended.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Directories to list, the one the walk will want first first.
    queued: BTreeSet<Key>,
    /// Being listed now.
    busy: Option<Key>,
    made: Made,
    /// The last directory the walk asked for: those before it that it did not ask for, it
    /// passed over (a `.git`, an ignored folder), and their listings are dropped.
    passed: Option<Key>,
    ended: bool,
    /// Listings the walk made ahead itself, having caught up with the lister.
    helped: usize,
    /// Folders the walk passed over (`ListingAhead::pass_over`) that a listing under way may
    /// still be in, dropped once the walk is past them.
    passed_over: Vec<PathBuf>,
}

/// The listings made and not yet taken, by directory, and how many entries they hold.
#[derive(Default)]
struct Made {
    listings: BTreeMap<Key, io::Result<Vec<Listed>>>,
    entries: usize,
}

fn entries(listed: &io::Result<Vec<Listed>>) -> usize {
    listed.as_ref().map_or(0, Vec::len)
}

impl Made {
    /// Whether the lister may make another listing (`AHEAD`, `AHEAD_ENTRIES`).
    fn has_room(&self) -> bool {
        self.listings.len() < AHEAD && self.entries < AHEAD_ENTRIES
    }

    fn insert(&mut self, k: Key, listed: io::Result<Vec<Listed>>) {
        self.entries += entries(&listed);
        if let Some(old) = self.listings.insert(k, listed) {
            self.entries -= entries(&old);
        }
    }

    fn remove(&mut self, k: &Key) -> Option<io::Result<Vec<Listed>>> {
        let listed = self.listings.remove(k)?;
        self.entries -= entries(&listed);
        Some(listed)
    }

    /// Drops the listings before `k` (the walk is past them).
    fn drop_before(&mut self, k: &Key) {
        let rest = self.listings.split_off(k);
        for listed in std::mem::replace(&mut self.listings, rest).values() {
            self.entries -= entries(listed);
        }
    }
}

impl ListingAhead {
    /// Starts the lister's thread. `Err` when no thread can be started.
    pub fn new(pass_over: PassOver) -> io::Result<ListingAhead> {
        let shared = Arc::new(Shared {
            pass_over,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let mine = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("codemill-listing".into())
            .spawn(move || mine.run())?;
        Ok(ListingAhead {
            shared,
            thread: Some(thread),
            owner: std::process::id(),
        })
    }

    /// The listing of `dir`, as `list_dir` gives it: the one made ahead, else made now (waiting
    /// only for one under way).
    pub fn list(&self, dir: &Path) -> io::Result<Vec<Listed>> {
        if std::process::id() != self.owner {
            return list_dir(dir);
        }
        let k = key(dir);
        let mut state = self.shared.lock();
        state.queued = state.queued.split_off(&k);
        state.made.drop_before(&k);
        // Folders passed over that lie wholly before `k`: no listing under way is in them now.
        state.passed_over.retain(|p| p > &k.0 || k.0.starts_with(p));
        state.passed = Some(k.clone());
        let listed = loop {
            if let Some(made) = state.made.remove(&k) {
                break made;
            }
            if state.busy.as_ref() == Some(&k) {
                // Rather than wait for the lister, list the next directory it would: the walk
                // asks for it soon, and the two cores share the listings' system calls.
                let next = if state.made.has_room() {
                    state.queued.pop_first()
                } else {
                    None
                };
                let Some(next) = next else {
                    state = self.shared.wait(state);
                    continue;
                };
                drop(state);
                let made = list_dir(&next.0.join(&next.1));
                state = self.shared.lock();
                self.shared.keep(&mut state, next, made);
                state.helped += 1;
                continue;
            }
            state.queued.remove(&k);
            drop(state);
            let made = list_dir(dir);
            state = self.shared.lock();
            self.shared.queue_subdirs(&mut state, &k, &made);
            break made;
        };
        self.shared.changed.notify_all();
        listed
    }

    /// The walk passes over the directory `dir` (a folder its rules ignore): what was listed
    /// or queued in it is dropped, and nothing more in it is listed.
    pub fn pass_over(&self, dir: &Path) {
        if std::process::id() != self.owner {
            return;
        }
        let mut state = self.shared.lock();
        let k = key(dir);
        state.queued.remove(&k);
        state.made.remove(&k);
        let from = (dir.to_path_buf(), OsString::new());
        for q in run_in(dir, state.queued.range(&from..)) {
            state.queued.remove(&q);
        }
        for m in run_in(dir, state.made.listings.range(&from..).map(|(k, _)| k)) {
            state.made.remove(&m);
        }
        state.passed_over.push(dir.to_path_buf());
        self.shared.changed.notify_all(); // room for the lister, if it waited
    }
}

/// The keys in `dir` at the start of `keys`, which start at `dir`'s own first key: what lies
/// in a folder is one run of keys, as a path sorts with those it starts.
fn run_in<'a>(dir: &Path, keys: impl Iterator<Item = &'a Key>) -> Vec<Key> {
    keys.take_while(|k| k.0.starts_with(dir)).cloned().collect()
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(state).unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the listing `made` of the directory `k` for the walk, and queues its
    /// subdirectories, unless the walk is past `k` already or passed over a folder it is in.
    fn keep(&self, state: &mut State, k: Key, made: io::Result<Vec<Listed>>) {
        let dir = k.0.join(&k.1);
        let passed_over = state.passed_over.iter().any(|p| dir.starts_with(p));
        if state.passed.as_ref().is_none_or(|p| k >= *p) && !passed_over {
            self.queue_subdirs(state, &k, &made);
            state.made.insert(k, made);
        }
    }

    /// Queues the subdirectories of the directory `k` listed as `made`, to be listed ahead,
    /// those of a folder the walk passes over by its name or marker left out.
    fn queue_subdirs(&self, state: &mut State, k: &Key, made: &io::Result<Vec<Listed>>) {
        let Ok(entries) = made else {
            return;
        };
        if self.pass_over.marked(entries) {
            return;
        }
        // As the walk names them: `src`, not `./src`, in `.`.
        let dir = k.0.join(&k.1);
        let parent = if dir == Path::new(".") {
            PathBuf::new()
        } else {
            dir
        };
        for e in entries.iter().filter(|e| e.kind == Kind::Dir) {
            if !self.pass_over.name(&e.name) {
                state.queued.insert((parent.clone(), e.name.clone()));
            }
        }
    }

    /// The lister: lists queued directories in the order the walk will ask for them,
    /// `AHEAD` listings (and `AHEAD_ENTRIES` entries) at most made and not taken.
    fn run(&self) {
        let mut state = self.lock();
        loop {
            if state.ended {
                return;
            }
            let next = if state.made.has_room() {
                state.queued.pop_first()
            } else {
                None
            };
            let Some(k) = next else {
                state = self.wait(state);
                continue;
            };
            state.busy = Some(k.clone());
            drop(state);
            let made = list_dir(&k.0.join(&k.1));
            state = self.lock();
            state.busy = None;
            self.keep(&mut state, k, made);
            self.changed.notify_all();
        }
    }
}

impl Drop for ListingAhead {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            std::mem::forget(self.thread.take()); // the parent's thread: not ours to join
            return;
        }
        self.shared.lock().ended = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A fresh folder in the temporary directory holding the folders `dirs`.
    fn tree(name: &str, dirs: &[&str]) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("codemill-ahead-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for d in dirs {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        root
    }

    /// A `ListingAhead` with no lister thread: the test plays the lister, every step seen.
    fn walk_side() -> (Arc<Shared>, ListingAhead) {
        let shared = Arc::new(Shared {
            pass_over: PassOver::default(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let ahead = ListingAhead {
            shared: Arc::clone(&shared),
            thread: None,
            owner: std::process::id(),
        };
        (shared, ahead)
    }

    /// A listing of `n` files.
    fn files(n: usize) -> io::Result<Vec<Listed>> {
        let file = |i: usize| Listed {
            name: OsString::from(format!("f{i}")),
            kind: Kind::File,
            size: Some(1),
            mtime_ns: None,
            head: None,
        };
        Ok((0..n).map(file).collect())
    }

    /// The listings held ahead stop at `AHEAD_ENTRIES` entries as well as at `AHEAD` listings,
    /// and their count follows every listing kept, taken and dropped.
    #[test]
    fn listings_ahead_are_bounded_by_their_entries() {
        let k = |name: &str| key(Path::new(name));
        let mut made = Made::default();
        assert!(made.has_room());
        made.insert(k("a"), files(AHEAD_ENTRIES / 2));
        made.insert(k("b"), Err(io::Error::other("unreadable")));
        assert!(made.has_room() && made.entries == AHEAD_ENTRIES / 2);
        made.insert(k("c"), files(AHEAD_ENTRIES / 2));
        assert!(!made.has_room(), "two listings of half the entries fill it");
        assert!(made.remove(&k("a")).is_some() && made.has_room());
        made.insert(k("d"), files(AHEAD_ENTRIES));
        made.insert(k("d"), files(1)); // made again: counted once
        assert_eq!(made.entries, AHEAD_ENTRIES / 2 + 1);
        made.drop_before(&k("d"));
        assert_eq!((made.entries, made.listings.len()), (1, 1));
        for i in 0..AHEAD {
            made.insert(k(&format!("e{i:05}")), Ok(Vec::new()));
        }
        assert!(!made.has_room(), "AHEAD empty listings fill it too");
    }

    /// A walk through `ListingAhead` lists every directory as `list_dir` does, whichever of the
    /// two threads made each listing.
    #[test]
    fn listings_made_ahead_are_the_walks_own() {
        let root = tree("walk", &[]);
        for a in 0..6 {
            for b in 0..5 {
                let d = root.join(format!("d{a}")).join(format!("e{b}"));
                fs::create_dir_all(d.join("f")).unwrap();
                fs::write(d.join("x.py"), "x = 1\n".repeat(a + b)).unwrap();
            }
        }
        let ahead = ListingAhead::new(PassOver::default()).unwrap();
        let mut stack = vec![root.clone()];
        let mut dirs = 0;
        while let Some(dir) = stack.pop() {
            let listed = ahead.list(&dir).unwrap();
            assert_eq!(listed, list_dir(&dir).unwrap());
            dirs += 1;
            for e in listed.iter().rev().filter(|e| e.kind == Kind::Dir) {
                stack.push(dir.join(&e.name));
            }
        }
        assert_eq!(dirs, 1 + 6 + 6 * 5 * 2);
        assert!(ahead.list(&root.join("missing")).is_err());
        drop(ahead);
        fs::remove_dir_all(&root).unwrap();
    }

    /// Once the walk has a listing, the lister lists the whole subtree ahead, leaving out the
    /// folders the walk passes over by name (and what they hold) and the contents of a folder
    /// with a marker (a virtual environment's).
    #[test]
    fn lists_subtrees_ahead_but_not_what_the_walk_passes_over() {
        let root = tree(
            "deep",
            &["a/b/c", ".git/objects/x", "venv/lib/y", "pkg.egg-info/z"],
        );
        fs::write(root.join("venv/pyvenv.cfg"), "").unwrap();
        let ahead = ListingAhead::new(PassOver {
            names: vec![".git".into()],
            suffixes: vec![".egg-info".into()],
            markers: vec!["pyvenv.cfg".into()],
        })
        .unwrap();
        assert_eq!(ahead.list(&root).unwrap(), list_dir(&root).unwrap());
        let idle = |s: &State| s.queued.is_empty() && s.busy.is_none();
        let mut state = ahead.shared.lock();
        while !idle(&state) {
            state = ahead.shared.wait(state);
        }
        let made: Vec<PathBuf> = state.made.listings.keys().map(|k| k.0.join(&k.1)).collect();
        drop(state);
        // In the order the walk asks: the root's subdirectories, then a's, then b's.
        let want: Vec<PathBuf> = ["a", "venv", "a/b", "a/b/c"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        assert_eq!(made, want);
        for d in &want {
            assert_eq!(ahead.list(d).unwrap(), list_dir(d).unwrap());
        }
        drop(ahead);
        fs::remove_dir_all(&root).unwrap();
    }

    /// A folder the walk passes over (its rules ignore it) loses what was listed or queued in
    /// it, and nothing more in it is listed; the rest of the tree is listed ahead as before.
    #[test]
    fn nothing_is_listed_in_a_folder_the_walk_passes_over() {
        let root = tree("over", &["a/b", "data/x/y", "data/z", "src/c"]);
        let (shared, ahead) = walk_side();
        ahead.list(&root).unwrap();
        let data = root.join("data");
        // Listings made in `data` and queued in it, both dropped.
        for d in [
            root.join("a"),
            data.clone(),
            data.join("x"),
            root.join("src"),
        ] {
            let k = key(&d);
            let made = list_dir(&d);
            let mut state = shared.lock();
            state.queued.remove(&k);
            shared.keep(&mut state, k, made);
        }
        let listed = |dir: &Path| {
            let state = shared.lock();
            state
                .queued
                .iter()
                .chain(state.made.listings.keys())
                .any(|k| k.0.join(&k.1).starts_with(dir))
        };
        assert!(listed(&data.join("x/y")) && listed(&data.join("z")));
        assert!(shared
            .lock()
            .made
            .listings
            .contains_key(&key(&data.join("x"))));
        ahead.pass_over(&data);
        assert!(!listed(&data));
        // A listing under way in it when the walk passed it over queues nothing.
        let k = key(&data.join("x"));
        let mut state = shared.lock();
        shared.keep(&mut state, k.clone(), list_dir(&data.join("x")));
        assert!(!state.made.listings.contains_key(&k) && !state.queued.is_empty());
        assert!(state.queued.iter().all(|q| !q.0.starts_with(&data)));
        drop(state);
        assert!(listed(&root.join("a/b")) && listed(&root.join("src/c")));
        drop(ahead);
        fs::remove_dir_all(&root).unwrap();
    }

    /// A walk that asks for the listing the lister is making lists the next folders itself
    /// meanwhile, then takes the lister's: the same listings. (The lister here is the test,
    /// holding the first folder busy until the walk has listed all the others.)
    #[test]
    fn a_walk_that_catches_up_lists_the_next_folders_itself() {
        let subs: Vec<String> = (0..6).map(|a| format!("d{a}/sub")).collect();
        let root = tree("wide", &subs.iter().map(String::as_str).collect::<Vec<_>>());
        for a in 0..6 {
            fs::write(root.join(format!("d{a}/x.py")), "x = 1\n").unwrap();
        }
        let (shared, ahead) = walk_side();
        assert_eq!(ahead.list(&root).unwrap(), list_dir(&root).unwrap());
        let first = root.join("d0");
        {
            let mut state = shared.lock();
            assert_eq!(state.queued.len(), 6);
            state.queued.remove(&key(&first));
            state.busy = Some(key(&first));
        }
        let lister = std::thread::spawn({
            let (shared, first) = (Arc::clone(&shared), first.clone());
            move || {
                let mut state = shared.lock();
                while !state.queued.is_empty() {
                    // The walk says nothing when it lists ahead (no one waits for that): look again.
                    drop(state);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    state = shared.lock();
                }
                state.made.insert(key(&first), list_dir(&first));
                state.busy = None;
                shared.changed.notify_all();
            }
        });
        assert_eq!(ahead.list(&first).unwrap(), list_dir(&first).unwrap());
        lister.join().unwrap();
        // d1..d5, then their `sub` folders, queued as each of them was listed.
        assert_eq!(shared.lock().helped, 10);
        for a in 1..6 {
            let d = root.join(format!("d{a}"));
            assert!(shared.lock().made.listings.contains_key(&key(&d)));
            assert_eq!(ahead.list(&d).unwrap(), list_dir(&d).unwrap());
        }
        drop(ahead);
        fs::remove_dir_all(&root).unwrap();
    }
}
