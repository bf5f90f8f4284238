//! The encoder of `codemill-tokenizer/2` and `/3` files: longest match with one token of
//! lookahead.
//!
//! The vocabulary is the one two-stage BPE training builds (`bpe_train.rs`); only the way text
//! is cut into its tokens differs from the merge-replaying encoder of `/1` files. At each
//! position the two longest tokens that match are candidates, and the one after which the next
//! longest match reaches farther wins (the longer on a tie). On held-back code of eight
//! languages this gives 1.8–3.6% fewer tokens than replaying the merges (a minimal
//! segmentation gives 2.0–4.1%, plain longest match −0.9% to +1.8%), and it needs no
//! pre-tokenizer and no rank tables: two walks of a trie per token. A `/3` file weighs the
//! second candidate only after the longest tokens it lists (`weigh_only`): those after which
//! the second won on the training text, a sixth of the vocabulary, so most tokens take one
//! walk (0.04–0.22% more tokens than `/2` on held-back code, 5–7% faster). A long text walks a
//! line it has met before only once (`chunk_cache.rs`).
//!
//! Chunks are lines, each led by the whitespace run holding its line break (as in training,
//! so no token of the vocabulary crosses a chunk's start), and capped at `MAX_CHUNK` bytes:
//! work is linear (at most three walks of at most the longest token per token) and a text
//! cut at a chunk boundary encodes to the same ids in parts.
//!
//! Tokens of the identifier vocabulary match only where they start and end on sub-identifier
//! boundaries of the whole text (`lex::is_boundary`): `data` never matches inside `metadata`.
//! A merge built on one needs the boundary on that side (`Tokenizer::from_parts`).
use crate::chunk::windows;
use crate::chunk_cache::ChunkCache;
use crate::error::{Error, Result};
use crate::lex::is_boundary;

/// Longest chunk, in bytes; a longer line is cut at a char boundary.
pub const MAX_CHUNK: usize = 4096;

const NONE: u32 = u32::MAX;

/// Texts from this many bytes on have the trie read into the caches first (`Segmenter::warm`):
/// a few microseconds where it is cached, against ~0.3 ms to encode this much.
const WARM_FROM: usize = 32 << 10;

/// Texts from this many bytes on look their repeated chunks up (`ChunkCache`) instead of
/// walking them again; a shorter one repeats too little to pay for the table.
const CACHE_FROM: usize = 64 << 10;

/// The double-array trie is one `u32` a slot: the children of a node live at
/// `slots[base + byte]`, and the slot a walk reaches is the child it looks for when the slot's
/// label (its top byte) is that byte. That is enough because no two nodes share a base, and a
/// free slot's label is a byte that leads there from no base (`Segmenter::new`). 4 bytes, so
/// the 116k slots of a 32k vocabulary take 465 KB of a 1 MB L2; the token that ends at a node
/// is in `ids`, read only for the token chosen.
///
/// Bits: the base (21), `TERMINAL` (a token ends here), the `START` / `END` edges that token
/// needs sub-identifier boundaries at (2), the label (8).
const BASE: u32 = (1 << 21) - 1;
const TERMINAL: u32 = 1 << 21;
const EDGE_SHIFT: u32 = 22;
const EDGES: u32 = 3 << EDGE_SHIFT;
const LABEL_SHIFT: u32 = 24;
/// Slots a trie may have.
const MAX_SLOTS: usize = BASE as usize + 1;
/// The edges of a token that need a sub-identifier boundary.
pub const START: u8 = 1;
pub const END: u8 = 2;

/// A node while the trie is laid out: its base and its parent's slot (`NONE`: free).
#[derive(Clone, Copy)]
struct Slot {
    base: u32,
    check: u32,
}

const FREE: Slot = Slot {
    base: 0,
    check: NONE,
};

/// A matched token: its length in bytes (0: none) and id.
#[derive(Clone, Copy, Default)]
struct Match {
    len: u32,
    /// The slot where the token ends: its id is read only if the token is chosen.
    at: u32,
}

/// The two longest tokens that match at a position (`second.len == 0`: only one).
#[derive(Clone, Copy, Default)]
struct Candidates {
    longest: Match,
    second: Match,
}

pub struct Segmenter {
    slots: Vec<u32>,
    /// By slot, the id of the token that ends there, with `PLAIN` set where that token, as the
    /// longest match, is taken without weighing its second candidate (`weigh_only`): the id is
    /// read for the decision and is then at hand for the output.
    ids: Vec<u32>,
}

/// The bit of an `ids` entry that says "no lookahead after this token" (ids stay under it:
/// `bpe::MAX_ID`).
const PLAIN: u32 = 1 << 31;

impl Segmenter {
    /// `tokens`: (bytes, id, edges), `edges` the `START`/`END` bits of the sub-identifier
    /// boundaries the token needs (see `Tokenizer::from_parts`). Every single byte must be a
    /// token (byte-level vocabularies are), so every text has a segmentation. Bytes given
    /// twice keep their first id: the caller picks which.
    pub fn new<'a>(tokens: impl IntoIterator<Item = (&'a [u8], u32, u8)>) -> Result<Segmenter> {
        // Sorted, a node's tokens are one range of the list (its prefix's), its own token
        // first: the trie is laid out from ranges, with no pointer trie built first. Depth
        // first: a subtree is laid out before its siblings, so the nodes one walk visits
        // mostly lie close together (cachegrind over 2 MB of held-back code: 20-35% fewer L1
        // misses than breadth first, which spreads each level over the whole array).
        let mut toks: Vec<(&[u8], u32, u8)> =
            tokens.into_iter().filter(|t| !t.0.is_empty()).collect();
        toks.sort_by(|a, b| a.0.cmp(b.0)); // stable: of equal bytes the first given stays first
        toks.dedup_by(|later, first| later.0 == first.0);
        let singles = toks.iter().filter(|t| t.0.len() == 1).count();
        assert!(singles == 256, "every single byte must be a token");
        let mut slots = vec![FREE; 512];
        slots[0].check = 0;
        let mut free = FreeSlots::new(slots.len());
        free.take(0);
        // Bases given to nodes with children: each once, and none 255 mod 256, so that among
        // any 256 bytes one leads from no base to a free slot (its label, see `BASE`).
        let mut based = vec![false; slots.len()];
        // (first token, end, depth, slot) of each node still to lay out, the next on top.
        let mut stack = vec![(0usize, toks.len(), 0usize, 0usize)];
        // The slot where each token ends: ids and flags are set once the layout is done.
        let mut ends = Vec::with_capacity(toks.len());
        let mut children: Vec<(u8, usize, usize)> = Vec::new();
        while let Some((mut lo, hi, depth, slot)) = stack.pop() {
            if toks[lo].0.len() == depth {
                ends.push((slot, lo));
                lo += 1;
            }
            children.clear();
            for (k, tok) in toks.iter().enumerate().take(hi).skip(lo) {
                let b = tok.0[depth];
                match children.last_mut() {
                    Some(c) if c.0 == b => c.2 = k + 1,
                    _ => children.push((b, k, k + 1)),
                }
            }
            let Some(&(low, _, _)) = children.first() else {
                continue;
            };
            // The lowest child goes to a free slot: only free slots are tried, in order.
            let mut f = free.head;
            let base = loop {
                if f == NONE as usize {
                    f = free.grow(&mut slots);
                    continue;
                }
                let next = free.next[f] as usize;
                if f > usize::from(low) {
                    let base = f - usize::from(low);
                    if base + 256 >= slots.len() {
                        free.grow(&mut slots);
                        continue;
                    }
                    if base % 256 != 255
                        && based.get(base) != Some(&true)
                        && children
                            .iter()
                            .all(|&(b, _, _)| slots[base + usize::from(b)].check == NONE)
                    {
                        break base;
                    }
                }
                free.failed(f);
                f = next;
            };
            slots[slot].base = base as u32;
            based.resize(based.len().max(base + 1), false);
            based[base] = true;
            // Pushed last to first: the lowest child is laid out next.
            for &(b, clo, chi) in children.iter().rev() {
                let t = base + usize::from(b);
                slots[t].check = slot as u32;
                free.take(t);
                stack.push((clo, chi, depth + 1, t));
            }
        }
        // Room for any byte after every base, so a walk never indexes out of bounds; leaves
        // point at a block of free slots that no other node has as its base.
        let last = slots.iter().rposition(|s| s.check != NONE).unwrap_or(0);
        let max_base = slots.iter().map(|s| s.base as usize).max().unwrap_or(0);
        let len = (last + 1).max(max_base + 256);
        let len = if len % 256 == 255 { len + 1 } else { len };
        slots.resize(len, FREE);
        for s in slots.iter_mut().filter(|s| s.check != NONE && s.base == 0) {
            s.base = len as u32;
        }
        slots.resize(len + 256, FREE);
        if slots.len() > MAX_SLOTS {
            return Err(Error::Format(format!(
                "the vocabulary's trie needs {} slots, over the {MAX_SLOTS} the encoder can address",
                slots.len()
            )));
        }
        based.resize(slots.len(), false);
        based[len] = true; // the leaves' base
        let mut packed: Vec<u32> = slots
            .iter()
            .enumerate()
            .map(|(t, s)| {
                let label = match s.check {
                    // Free: a byte that no base leads here with.
                    NONE => (0..=255)
                        .find(|&c| c > t || !based[t - c])
                        .expect("a base 255 mod 256 is never taken"),
                    _ if t == 0 => 0, // the root: no base is 0, so no walk reaches it
                    parent => t - slots[parent as usize].base as usize,
                };
                s.base | (label as u32) << LABEL_SHIFT
            })
            .collect();
        let mut ids = vec![NONE; slots.len()];
        for (slot, k) in ends {
            let (_, id, edges) = toks[k];
            debug_assert!(id & PLAIN == 0, "ids stay under `PLAIN`");
            ids[slot] = id;
            packed[slot] |= TERMINAL | (u32::from(edges & (START | END)) << EDGE_SHIFT);
        }
        Ok(Segmenter { slots: packed, ids })
    }

    /// Weighs the second candidate only where the longest token's id is one `weighed` keeps;
    /// elsewhere the longest is taken without the lookahead walk. The second candidate wins
    /// 3.5–5% of the decisions, and after most longest tokens never (`count_second_wins`).
    pub fn weigh_only(&mut self, weighed: impl Fn(u32) -> bool) {
        for id in self.ids.iter_mut().filter(|id| **id != NONE) {
            let bare = *id & !PLAIN;
            *id = if weighed(bare) { bare } else { bare | PLAIN };
        }
    }

    /// Adds to `wins[id]`, for each token that is the longest match somewhere in `text` and
    /// loses to its second candidate there, how often it does, every second weighed whatever
    /// `weigh_only` said: what it is chosen from. `wins` is indexed by id.
    pub fn count_second_wins(&self, text: &str, wins: &mut [u32]) {
        for_each_chunk(text, |start, end| {
            let chunk = Chunk { text, start, end };
            self.segment_chunk(
                &chunk,
                |_| true,
                |chosen, longest| {
                    if chosen.len != longest.len {
                        if let Some(w) = wins.get_mut(self.id(longest) as usize) {
                            *w = w.saturating_add(1);
                        }
                    }
                },
            );
        });
    }

    /// Appends the ids of `text`, chunk by chunk.
    pub fn encode(&self, text: &str, out: &mut Vec<u32>) {
        if text.len() >= WARM_FROM {
            self.warm();
        }
        let mut cache = (text.len() >= CACHE_FROM)
            .then(|| ChunkCache::new(text.len(), out.len()))
            .flatten();
        let b = text.as_bytes();
        for_each_chunk(text, |start, end| {
            let chunk = Chunk { text, start, end };
            let keyed = cache
                .as_mut()
                .and_then(|cache| Some((cache, ChunkCache::key(b, start, end)?)));
            let Some((cache, key)) = keyed else {
                self.encode_chunk(&chunk, out);
                return;
            };
            if !cache.get(key, b, start, end, out) {
                let at = out.len();
                self.encode_chunk(&chunk, out);
                cache.put(key, start, end, at, out.len());
            }
        });
    }

    /// Appends the ids of one chunk. Not inlined into its callers: inlined (stop 49), the
    /// encoder ran 3–8% slower.
    #[inline(never)]
    fn encode_chunk(&self, chunk: &Chunk, out: &mut Vec<u32>) {
        self.segment_chunk(
            chunk,
            // SAFETY: `at` is a slot a walk reached; `ids` is as long as `slots`.
            |longest| unsafe { *self.ids.get_unchecked(longest.at as usize) } & PLAIN == 0,
            |chosen, _| out.push(self.id(chosen)),
        );
    }

    /// Cuts one chunk into tokens, calling `take(chosen, longest)` for each in order. Where
    /// the longest match has a second candidate and `weighs(longest)`, the one after which the
    /// next longest match reaches farther wins (the longer on a tie).
    #[inline(always)]
    fn segment_chunk(
        &self,
        chunk: &Chunk,
        weighs: impl Fn(Match) -> bool,
        mut take: impl FnMut(Match, Match),
    ) {
        let n = chunk.end - chunk.start;
        let mut i = 0;
        let mut cur = self.candidates(chunk, 0);
        while i < n {
            let Candidates { longest, second } = cur;
            if second.len == 0 || !weighs(longest) {
                take(longest, longest);
                i += longest.len as usize;
                cur = self.candidates(chunk, i);
                continue;
            }
            let (after_longest, after_second) =
                self.candidates_pair(chunk, i + longest.len as usize, i + second.len as usize);
            if second.len + after_second.longest.len > longest.len + after_longest.longest.len {
                take(second, longest);
                i += second.len as usize;
                cur = after_second;
            } else {
                take(longest, longest);
                i += longest.len as usize;
                cur = after_longest;
            }
        }
    }

    /// The two longest tokens matching `chunk` at byte `i` (none at the end).
    #[inline(always)]
    fn candidates(&self, chunk: &Chunk, i: usize) -> Candidates {
        let mut w = Walk::new(self, chunk, i);
        while w.step(self, chunk) {}
        w.candidates()
    }

    /// `candidates` at `p` and at `q`, the two walks interleaved: each step waits on a load
    /// that depends on the one before, and two independent walks let the core overlap them.
    #[inline(always)]
    fn candidates_pair(&self, chunk: &Chunk, p: usize, q: usize) -> (Candidates, Candidates) {
        let (mut a, mut b) = (Walk::new(self, chunk, p), Walk::new(self, chunk, q));
        loop {
            let (more_a, more_b) = (a.step(self, chunk), b.step(self, chunk));
            if !more_a {
                while b.step(self, chunk) {}
                break;
            }
            if !more_b {
                while a.step(self, chunk) {}
                break;
            }
        }
        (a.candidates(), b.candidates())
    }

    /// Reads the trie once, a line at a time, in order. Text nobody encoded for a while finds
    /// it out of the caches, where each walk's step would wait on memory (~100 ns, and the
    /// walks touch a good part of it); read in order it streams in at the memory's bandwidth
    /// in tens of microseconds, and in a few when it is cached already.
    fn warm(&self) {
        let mut sum = 0u32;
        for line in self.slots.chunks(16) {
            sum = sum.wrapping_add(line[0]);
        }
        for line in self.ids.chunks(16) {
            sum = sum.wrapping_add(line[0]);
        }
        std::hint::black_box(sum);
    }

    /// The label of slot `t` (in bounds), read as the one byte it is: a walk's step compares
    /// it with the text's byte straight from memory (six fewer instructions a byte of text than
    /// shifting it out of the slot, in cachegrind).
    #[inline(always)]
    fn label(&self, t: usize) -> u8 {
        const BYTE: usize = (LABEL_SHIFT / 8) as usize;
        const AT: usize = if cfg!(target_endian = "little") {
            BYTE
        } else {
            3 - BYTE
        };
        debug_assert!(t < self.slots.len());
        // SAFETY: `t` is in bounds (see `Walk::step`); a `u32`'s bytes are readable as `u8`.
        unsafe { *self.slots.as_ptr().add(t).cast::<u8>().add(AT) }
    }

    /// The id of a chosen token.
    #[inline(always)]
    fn id(&self, m: Match) -> u32 {
        // SAFETY: `at` is a slot a walk reached; `ids` is as long as `slots`.
        unsafe { *self.ids.get_unchecked(m.at as usize) & !PLAIN }
    }
}

/// A chunk of a text: walks stop at its end, boundaries are judged in the whole text (a
/// chunk cut at `MAX_CHUNK` inside an identifier is no boundary there).
struct Chunk<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

impl Chunk<'_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        &self.text.as_bytes()[self.start..self.end]
    }

    /// Whether a token over `[s, e)` of the chunk has the boundaries `edges` asks for.
    #[cold]
    fn at_edges(&self, edges: u32, s: usize, e: usize) -> bool {
        (edges & u32::from(START) == 0 || is_boundary(self.text, self.start + s))
            && (edges & u32::from(END) == 0 || is_boundary(self.text, self.start + e))
    }
}

/// A walk down the trie from byte `start` of a chunk. The longest and second-longest match
/// so far are each one register: the offset just past the token's end in the high half, its
/// slot in the low half (a second of offset `start`: none), so keeping a token is two
/// conditional moves; the id is read only for the chosen token (`Segmenter::id`).
struct Walk {
    start: usize,
    j: usize,
    base: usize,
    longest: u64,
    second: u64,
}

impl Walk {
    #[inline(always)]
    fn new(seg: &Segmenter, chunk: &Chunk, start: usize) -> Walk {
        let none = (start as u64) << 32;
        let mut w = Walk {
            start,
            j: chunk.end - chunk.start,
            base: 0,
            longest: none,
            second: none,
        };
        if let Some(&first) = chunk.bytes().get(start) {
            // The first step always succeeds: every byte is a token.
            let t = (seg.slots[0] & BASE) as usize + usize::from(first);
            w.base = (seg.slots[t] & BASE) as usize;
            w.j = start + 1;
            w.longest = (w.j as u64) << 32 | t as u64;
        }
        w
    }

    /// One byte further; false once the walk has ended (no child, or the chunk's end).
    #[inline(always)]
    fn step(&mut self, seg: &Segmenter, chunk: &Chunk) -> bool {
        let bytes = chunk.bytes();
        let Some(&b) = bytes.get(self.j) else {
            return false;
        };
        // `new` leaves 256 slots after every base, so `t` is in bounds.
        let t = self.base + usize::from(b);
        if seg.label(t) != b {
            self.j = bytes.len();
            return false;
        }
        // SAFETY: `t` is in bounds (above).
        let slot = unsafe { *seg.slots.get_unchecked(t) };
        self.base = (slot & BASE) as usize;
        self.j += 1;
        let mut end = slot & TERMINAL != 0;
        if slot & EDGES != 0 {
            end = chunk.at_edges(slot >> EDGE_SHIFT, self.start, self.j);
        }
        // Branch-free (whether a token ends here is as good as random): conditional moves.
        let here = (self.j as u64) << 32 | t as u64;
        let keep = u64::from(end).wrapping_neg();
        self.second = (self.longest & keep) | (self.second & !keep);
        self.longest = (here & keep) | (self.longest & !keep);
        true
    }

    #[inline(always)]
    fn candidates(&self) -> Candidates {
        let found = |m: u64| Match {
            len: (m >> 32) as u32 - self.start as u32,
            at: m as u32,
        };
        Candidates {
            longest: found(self.longest),
            second: found(self.second),
        }
    }
}

/// The free slots of a double array being laid out, in order (a doubly linked list), so a
/// search for a base tries free slots only. A slot tried and found wanting `MAX_FAILS` times
/// leaves the list (it may still take a child that is not the lowest): without that, the few
/// holes no node fits are tried by every later node, and the layout is quadratic.
struct FreeSlots {
    head: usize,
    tail: usize,
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Failed tries; `u8::MAX`: not in the list.
    fails: Vec<u8>,
}

const MAX_FAILS: u8 = 16;

impl FreeSlots {
    /// All of `0..len` free.
    fn new(len: usize) -> FreeSlots {
        let mut free = FreeSlots {
            head: NONE as usize,
            tail: NONE as usize,
            next: Vec::new(),
            prev: Vec::new(),
            fails: Vec::new(),
        };
        free.append(0, len);
        free
    }

    /// Links the new slots `from..to` at the tail.
    fn append(&mut self, from: usize, to: usize) {
        self.next.resize(to, NONE);
        self.prev.resize(to, NONE);
        self.fails.resize(to, 0);
        for t in from..to {
            self.prev[t] = self.tail as u32;
            if self.tail == NONE as usize {
                self.head = t;
            } else {
                self.next[self.tail] = t as u32;
            }
            self.tail = t;
        }
    }

    /// Doubles the array; returns the first new slot.
    fn grow(&mut self, slots: &mut Vec<Slot>) -> usize {
        let from = slots.len();
        slots.resize(from * 2, FREE);
        self.append(from, from * 2);
        from
    }

    /// Takes `t` out of the list: it holds a node now, or was tried `MAX_FAILS` times (it then
    /// stays free, for children that are not the lowest). Taking it again does nothing.
    fn take(&mut self, t: usize) {
        if self.fails[t] == u8::MAX {
            return;
        }
        self.fails[t] = u8::MAX;
        let (p, n) = (self.prev[t] as usize, self.next[t] as usize);
        if p == NONE as usize {
            self.head = n;
        } else {
            self.next[p] = n as u32;
        }
        if n == NONE as usize {
            self.tail = p;
        } else {
            self.prev[n] = p as u32;
        }
    }

    fn failed(&mut self, t: usize) {
        self.fails[t] += 1;
        if self.fails[t] >= MAX_FAILS {
            self.take(t);
        }
    }
}

/// Calls `f(start, end)` for each chunk of `text`, in order: a chunk starts where a whitespace
/// run holding a line break starts, and is at most `MAX_CHUNK` bytes (cut at a char boundary).
pub fn for_each_chunk(text: &str, mut f: impl FnMut(usize, usize)) {
    let b = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\n', &b[i..]) {
        let newline = i + k;
        let mut run = newline;
        while run > start && matches!(b[run - 1], b' ' | b'\t' | b'\r' | b'\x0c') {
            run -= 1;
        }
        if run > start {
            windows(text, start, run, MAX_CHUNK, &mut f);
            start = run;
        }
        i = newline + 1;
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n' | b'\x0c') {
            i += 1;
        }
    }
    windows(text, start, b.len(), MAX_CHUNK, f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The reference: the same rule over a map of token strings, written plainly.
    struct Reference {
        tokens: HashMap<Vec<u8>, (u32, u8)>,
        max_len: usize,
        /// The longest tokens whose second candidate is weighed (None: every one).
        weighed: Option<std::collections::HashSet<u32>>,
    }

    impl Reference {
        /// Tokens matching `text[i..end]` at `i` (absolute offsets), shortest first.
        fn candidates(&self, text: &str, end: usize, i: usize) -> Vec<(usize, u32)> {
            let b = text.as_bytes();
            let mut v = Vec::new();
            for j in i + 1..=(i + self.max_len).min(end) {
                if let Some(&(id, edges)) = self.tokens.get(&b[i..j]) {
                    if (edges & START == 0 || is_boundary(text, i))
                        && (edges & END == 0 || is_boundary(text, j))
                    {
                        v.push((j - i, id));
                    }
                }
            }
            v
        }

        fn longest(&self, text: &str, end: usize, i: usize) -> usize {
            self.candidates(text, end, i).last().map_or(0, |c| c.0)
        }

        fn encode(&self, text: &str) -> Vec<u32> {
            let mut out = Vec::new();
            for_each_chunk(text, |s, e| {
                let mut i = s;
                while i < e {
                    let c = self.candidates(text, e, i);
                    let mut best = (0, 0, 0);
                    let longest = c.last().map_or(0, |c| c.1);
                    let weighs = self.weighed.as_ref().is_none_or(|w| w.contains(&longest));
                    for &(len, id) in c.iter().rev().take(if weighs { 2 } else { 1 }) {
                        let reach = len + self.longest(text, e, i + len);
                        if reach > best.0 {
                            best = (reach, len, id);
                        }
                    }
                    out.push(best.2);
                    i += best.1;
                }
            });
            out
        }
    }

    const BOTH: u8 = START | END;

    fn vocab() -> Vec<(Vec<u8>, u32, u8)> {
        let mut v: Vec<(Vec<u8>, u32, u8)> =
            (0..=255u8).map(|b| (vec![b], u32::from(b), 0)).collect();
        let words = [
            ("user", 0), // also an identifier token below: the first given wins
            ("data", BOTH),
            ("user", BOTH),
            ("self", 0),
            ("self.", 0),
            ("\n    ", 0),
            ("\n    return", 0),
            ("return", 0),
            (" self", 0),
            ("re", 0),
            ("turn", 0),
            ("ab", 0),
            ("abc", 0),
            ("bcd", 0),
            ("cdef", 0),
            ("    ", 0),
            ("  ", 0),
            ("é", 0),
            ("data_", START), // a merge that starts with an identifier token
            ("_id", END),     // a merge that ends with one
            ("x", 0),
        ];
        for (k, (w, edges)) in words.iter().enumerate() {
            v.push((w.as_bytes().to_vec(), 256 + k as u32, *edges));
        }
        v
    }

    fn both(v: &[(Vec<u8>, u32, u8)]) -> (Segmenter, Reference) {
        let seg = Segmenter::new(v.iter().map(|(b, id, e)| (b.as_slice(), *id, *e))).unwrap();
        let mut tokens = HashMap::new();
        for (b, id, edges) in v {
            tokens.entry(b.clone()).or_insert((*id, *edges));
        }
        let max_len = v.iter().map(|t| t.0.len()).max().unwrap();
        let reference = Reference {
            tokens,
            max_len,
            weighed: None,
        };
        (seg, reference)
    }

    fn decode(v: &[(Vec<u8>, u32, u8)], ids: &[u32]) -> Vec<u8> {
        let by_id: HashMap<u32, &[u8]> = v.iter().map(|(b, id, _)| (*id, b.as_slice())).collect();
        ids.iter()
            .flat_map(|id| by_id[id].iter().copied())
            .collect()
    }

    /// The fast encoder gives the reference's ids for `text`, and they decode to it.
    fn same_as_reference(
        seg: &Segmenter,
        reference: &Reference,
        v: &[(Vec<u8>, u32, u8)],
        text: &str,
    ) {
        let mut out = Vec::new();
        seg.encode(text, &mut out);
        assert_eq!(out, reference.encode(text), "{text:?}");
        assert_eq!(decode(v, &out), text.as_bytes(), "{text:?}");
    }

    #[test]
    fn the_second_candidate_is_weighed_only_after_the_tokens_listed() {
        // Each third token weighs its second, then none, then all again: every time the ids of
        // the reference under the same list, on short texts and on long ones that look
        // repeated chunks up.
        let v = vocab();
        let (mut seg, mut reference) = both(&v);
        let text: String = [
            "\n    return self.data_id",
            "abcdef user_data",
            "\n  cdef abc",
        ]
        .iter()
        .cycle()
        .take(12)
        .copied()
        .collect();
        let long = text.repeat(CACHE_FROM / text.len() + 2);
        for keep in [|id: u32| id % 3 == 0, |_| false, |_| true] {
            seg.weigh_only(keep);
            reference.weighed = Some((0..600).filter(|&id| keep(id)).collect());
            same_as_reference(&seg, &reference, &v, &text);
            same_as_reference(&seg, &reference, &v, &long);
        }
        // With none weighed, "abcdef" is "abc" "d" "e" "f" (longest first), not "ab" "cdef".
        seg.weigh_only(|_| false);
        let mut out = Vec::new();
        seg.encode("abcdef", &mut out);
        assert_eq!(decode(&v, &out), b"abcdef");
        assert_eq!(out.len(), 4, "abc d e f");
    }

    #[test]
    fn second_wins_are_counted_for_the_longest_token() {
        let v = vocab();
        let (seg, _) = both(&v);
        let id = |w: &str| v.iter().find(|t| t.0 == w.as_bytes()).unwrap().1;
        let mut wins = vec![0u32; 600];
        // "abc" is longest at 0 and loses to "ab" + "cdef".
        seg.count_second_wins("abcdef abcdef", &mut wins);
        assert_eq!(wins[id("abc") as usize], 2);
        assert_eq!(wins.iter().sum::<u32>(), 2);
    }

    #[test]
    fn lookahead_prefers_the_candidate_that_reaches_farther() {
        let v = vocab();
        let (seg, _) = both(&v);
        let mut out = Vec::new();
        // Longest match takes "abc" then "d", "e", "f"; "ab" + "cdef" is two tokens.
        seg.encode("abcdef", &mut out);
        assert_eq!(decode(&v, &out), b"abcdef");
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn identifier_tokens_only_at_boundaries() {
        let v = vocab();
        let (seg, _) = both(&v);
        let ids = |text: &str| {
            let mut out = Vec::new();
            seg.encode(text, &mut out);
            out
        };
        let (data, user, data_, id_) = (257, 256, 274, 275);
        assert!(!ids("metadata").contains(&data));
        assert!(ids("user_data").contains(&data));
        // "user" is given first as a token that matches anywhere: that id is the one used.
        assert!(ids("superuser").contains(&user));
        // A merge that starts (ends) with an identifier token needs a boundary there only.
        assert!(ids("data_x").contains(&data_));
        assert!(!ids("metadata_x").contains(&data_));
        assert!(ids("x_id").contains(&id_));
        assert!(!ids("x_idx").contains(&id_));
        // A chunk cut at MAX_CHUNK inside an identifier is no boundary.
        let long = format!("{}data", "a".repeat(MAX_CHUNK));
        assert!(!ids(&long).contains(&data));
    }
    #[test]
    fn matches_the_reference_and_is_lossless() {
        let v = vocab();
        let (seg, reference) = both(&v);
        let alphabet: Vec<&str> = vec![
            "_id", "data_", "a", "b", "c", "d", "e", "f", " ", "\n", "    ", "self", ".", "return",
            "user", "data", "_", "D", "é", "\t", "x",
        ];
        let mut x = 7u64;
        // Lengths up to 60 pieces, and a few long texts (the trie is read first from
        // `WARM_FROM` bytes on).
        let lengths = (0..60).flat_map(|len| std::iter::repeat_n(len, 300));
        for len in lengths.chain(std::iter::repeat_n(WARM_FROM / 2, 4)) {
            let text: String = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(x >> 33) as usize % alphabet.len()]
                })
                .collect();
            same_as_reference(&seg, &reference, &v, &text);
        }
    }

    #[test]
    fn repeated_chunks_of_a_long_text_match_the_reference() {
        // Texts from `CACHE_FROM` bytes on look repeated chunks up: lines drawn from a few, so
        // most repeat; identifier tokens at a line's edges; a line over `MAX_CHUNK` whose
        // windows start and end inside identifiers (not cached, as their boundaries depend on
        // what is beside them); the text ending on a chunk seen before.
        let v = vocab();
        let (seg, reference) = both(&v);
        let long = format!("x{}data_id", "data".repeat(MAX_CHUNK / 4));
        let lines = [
            "\n    return self.data_id",
            "\n    data_x = user_data",
            "\ndata metadata x_idx",
            "\n\tabcdef é data",
            "\n  superuser_id _id",
            long.as_str(),
            "\n    return self.data_id",
        ];
        let mut x = 3u64;
        for ends_with_seen in [false, true] {
            let mut text = String::new();
            while text.len() < 3 * CACHE_FROM {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(lines[(x >> 33) as usize % (lines.len() - 1)]);
            }
            if ends_with_seen {
                text.push_str(lines[0]);
            }
            same_as_reference(&seg, &reference, &v, &text);
            // After ids already in the output: a hit copies from where the chunk's ids are.
            let mut out = vec![7, 7, 7];
            seg.encode(&text, &mut out);
            assert_eq!(&out[3..], reference.encode(&text), "after other ids");
        }
    }

    #[test]
    fn a_large_random_vocabulary_lays_out_and_matches_the_reference() {
        // Thousands of tokens over a small alphabet: deep, bushy nodes that make the layout
        // grow its array and retire slots no node fits.
        let mut x = 11u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let alphabet = b"abcde _.\n()";
        let mut v: Vec<(Vec<u8>, u32, u8)> =
            (0..=255u8).map(|b| (vec![b], u32::from(b), 0)).collect();
        for id in 256..6000u32 {
            let len = 2 + next(14) as usize;
            let token: Vec<u8> = (0..len)
                .map(|_| alphabet[next(alphabet.len() as u64) as usize])
                .collect();
            let edges = if next(8) == 0 { BOTH } else { 0 };
            v.push((token, id, edges));
        }
        let (seg, reference) = both(&v);
        assert_trie_holds(&seg, &v);
        for _ in 0..200 {
            let len = next(400) as usize;
            let text: String = (0..len)
                .map(|_| char::from(alphabet[next(alphabet.len() as u64) as usize]))
                .collect();
            same_as_reference(&seg, &reference, &v, &text);
        }
    }

    /// Walks every byte from every node the trie has: the strings it reaches are the prefixes
    /// of the tokens, and a token's id is where it ends. A free slot's label that matched a
    /// byte from some node would add a string.
    fn assert_trie_holds(seg: &Segmenter, v: &[(Vec<u8>, u32, u8)]) {
        let mut expected: HashMap<Vec<u8>, Option<u32>> = HashMap::new();
        for (t, id, _) in v {
            for k in 1..t.len() {
                expected.entry(t[..k].to_vec()).or_insert(None);
            }
            let end = expected.entry(t.clone()).or_insert(None);
            end.get_or_insert(*id);
        }
        let mut found = HashMap::new();
        let mut stack = vec![(Vec::new(), 0usize)];
        while let Some((prefix, node)) = stack.pop() {
            let base = (seg.slots[node] & BASE) as usize;
            for b in 0..=255u8 {
                let t = base + usize::from(b);
                if seg.label(t) != b {
                    continue;
                }
                let mut s = prefix.clone();
                s.push(b);
                let id = (seg.slots[t] & TERMINAL != 0).then_some(seg.ids[t]);
                assert!(found.insert(s.clone(), id).is_none(), "{s:?} reached twice");
                stack.push((s, t));
            }
        }
        assert_eq!(found, expected);
    }

    #[test]
    fn the_trie_holds_the_tokens_and_nothing_else() {
        let v = vocab();
        assert_trie_holds(&both(&v).0, &v);
        // Nodes with one child, byte 255, take bases one after another (the layout skips
        // bases 255 mod 256, so that some byte leads to each free slot from no base).
        let mut v: Vec<(Vec<u8>, u32, u8)> =
            (0..=255u8).map(|b| (vec![b], u32::from(b), 0)).collect();
        for x in 0..=255u8 {
            for len in 2..5 {
                let mut t = vec![x];
                t.resize(len, 255);
                v.push((t, v.len() as u32, 0));
            }
        }
        let (seg, reference) = both(&v);
        assert_trie_holds(&seg, &v);
        same_as_reference(&seg, &reference, &v, &"aÿz".repeat(100));
    }

    #[test]
    fn chunks_start_at_line_breaks_and_are_capped() {
        let text = format!("a = 1  \n\n    b\n{}", "é".repeat(MAX_CHUNK));
        let mut chunks = Vec::new();
        for_each_chunk(&text, |s, e| chunks.push(&text[s..e]));
        assert_eq!(chunks.concat(), text);
        assert_eq!(chunks[0], "a = 1");
        assert_eq!(chunks[1], "  \n\n    b");
        assert!(chunks[2].starts_with('\n'));
        assert!(chunks.iter().all(|c| c.len() <= MAX_CHUNK && !c.is_empty()));
    }
}
