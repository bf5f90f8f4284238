//! Directory listings made ahead of a walk, on a thread of its own.
//!
//! The corpus walk lists each directory (`listing::list_dir`) and then judges its entries in
//! Python. Over a tree of 82k files the listings were half of the walk's ~0.9 s, and the walk
//! comes before any task starts. Here, once the walk has a directory's listing, its
//! subdirectories are listed on another core while the walk judges that directory's entries:
//! the walk asks for them next (depth first, in name order). The walk still decides everything;
//! a listing it takes is the one it would have made, only made earlier. A walk that catches up
//! with the lister lists the directory after the lister's instead of waiting (the plan of that
//! tree on two cores: 0.61-0.63 s against 0.64-0.71 s, medians of 5 in alternating processes).
use crate::listing::{list_dir, Kind, Listed};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Listings made and not yet taken, at most: the lister waits beyond that (a flat folder of
/// 50,000 folders would otherwise be listed whole into memory ahead of the walk).
const AHEAD: usize = 1024;

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

pub struct ListingAhead {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The process that started the thread: a child forked mid-walk has no such thread (and
    /// maybe a lock held by it), so there it lists in turn and leaves the state alone.
    owner: u32,
}

struct Shared {
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
    made: BTreeMap<Key, io::Result<Vec<Listed>>>,
    /// The last directory the walk asked for: those before it that it did not ask for, it
    /// passed over (a `.git`, an ignored folder), and their listings are dropped.
    passed: Option<Key>,
    ended: bool,
    /// Listings the walk made ahead itself, having caught up with the lister.
    helped: usize,
}

impl ListingAhead {
    /// Starts the lister's thread. `Err` when no thread can be started.
    pub fn new() -> io::Result<ListingAhead> {
        let shared = Arc::new(Shared {
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
    /// only for one under way). Its subdirectories are queued to be listed ahead.
    pub fn list(&self, dir: &Path) -> io::Result<Vec<Listed>> {
        if std::process::id() != self.owner {
            return list_dir(dir);
        }
        let k = key(dir);
        let mut state = self.shared.lock();
        state.queued = state.queued.split_off(&k);
        state.made = state.made.split_off(&k);
        state.passed = Some(k.clone());
        let listed = loop {
            if let Some(made) = state.made.remove(&k) {
                break made;
            }
            if state.busy.as_ref() == Some(&k) {
                // Rather than wait for the lister, list the next directory it would: the walk
                // asks for it soon, and the two cores share the listings' system calls.
                let next = if state.made.len() < AHEAD {
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
                state.made.insert(next, made);
                state.helped += 1;
                continue;
            }
            state.queued.remove(&k);
            drop(state);
            let made = list_dir(dir);
            state = self.shared.lock();
            break made;
        };
        if let Ok(entries) = &listed {
            // As the walk names them: `src`, not `./src`, in `.`.
            let parent = if dir == Path::new(".") {
                PathBuf::new()
            } else {
                dir.to_path_buf()
            };
            for e in entries.iter().filter(|e| e.kind == Kind::Dir) {
                state.queued.insert((parent.clone(), e.name.clone()));
            }
        }
        self.shared.changed.notify_all();
        listed
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(state).unwrap_or_else(|e| e.into_inner())
    }

    /// The lister: lists queued directories in the order the walk will ask for them,
    /// `AHEAD` at most made and not taken.
    fn run(&self) {
        let mut state = self.lock();
        loop {
            if state.ended {
                return;
            }
            let next = if state.made.len() < AHEAD {
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
            if state.passed.as_ref().is_none_or(|p| k >= *p) {
                state.made.insert(k, made);
            }
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

    /// A walk through `ListingAhead` lists every directory as `list_dir` does, whichever of the
    /// two threads made each listing.
    #[test]
    fn listings_made_ahead_are_the_walks_own() {
        let root = std::env::temp_dir().join(format!("codemill-ahead-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for a in 0..6 {
            for b in 0..5 {
                let d = root.join(format!("d{a}")).join(format!("e{b}"));
                fs::create_dir_all(d.join("f")).unwrap();
                fs::write(d.join("x.py"), "x = 1\n".repeat(a + b)).unwrap();
            }
        }
        let ahead = ListingAhead::new().unwrap();
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

    /// A walk that asks for the listing the lister is making lists the next folders itself
    /// meanwhile, then takes the lister's: the same listings. (The lister here is the test,
    /// holding the first folder busy until the walk has listed all the others.)
    #[test]
    fn a_walk_that_catches_up_lists_the_next_folders_itself() {
        let root = std::env::temp_dir().join(format!("codemill-ahead-wide-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for a in 0..6 {
            let d = root.join(format!("d{a}"));
            fs::create_dir_all(d.join("sub")).unwrap();
            fs::write(d.join("x.py"), "x = 1\n").unwrap();
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let ahead = ListingAhead {
            shared: Arc::clone(&shared),
            thread: None,
            owner: std::process::id(),
        };
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
        assert_eq!(shared.lock().helped, 5);
        for a in 1..6 {
            let d = root.join(format!("d{a}"));
            assert!(shared.lock().made.contains_key(&key(&d)));
            assert_eq!(ahead.list(&d).unwrap(), list_dir(&d).unwrap());
        }
        drop(ahead);
        fs::remove_dir_all(&root).unwrap();
    }
}
