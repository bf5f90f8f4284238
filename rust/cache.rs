//! Encode caches: sequence -> token ids, open addressing over two arenas.
//!
//! First-pass encoding inserts an entry for most lines and pieces it meets. A map of boxed
//! keys and values paid two allocations per insert plus rehashing as it grew (~20% of
//! first-pass instructions); here keys and values are appended to flat arenas and a slot is
//! 16 bytes, so an insert is two `extend_from_slice` and a store. Memory is bounded: when a
//! table or arena reaches its cap the cache is cleared (cheap, and rare on real code).

/// One slot: hash (0 = empty), where the key and value live in the arenas, and their lengths.
#[derive(Clone, Copy)]
struct Slot {
    hash: u32,
    key_at: u32,
    val_at: u32,
    key_len: u16,
    val_len: u16,
}

pub struct SeqCache<K> {
    /// Packed `Slot`s; 0 is empty.
    slots: Vec<u128>,
    keys: Vec<K>,
    vals: Vec<u32>,
    len: usize,
    max_slots: usize,
    max_arena: usize,
}

/// Table and arena caps: at most 2^18 entries, arenas of at most 4 Mi elements each, so a
/// cache stays well under 40 MB however large or odd the input.
const MAX_SLOTS: usize = 1 << 19;
const MAX_ARENA: usize = 1 << 22;
const FIRST_SLOTS: usize = 1 << 12;

/// A fast multiplicative hash of a slice (FxHash-like; keys are short and not adversarial
/// enough to matter: a collision costs a compare, never a wrong answer).
#[inline]
pub fn hash_bytes(b: &[u8]) -> u32 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h: u64 = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    finish(h)
}

#[inline]
pub fn hash_u32s(s: &[u32]) -> u32 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h: u64 = s.len() as u64;
    let mut pairs = s.chunks_exact(2);
    for p in &mut pairs {
        let w = u64::from(p[0]) | (u64::from(p[1]) << 32);
        h = (h.rotate_left(26) ^ w).wrapping_mul(K);
    }
    if let [x] = pairs.remainder() {
        h = (h.rotate_left(26) ^ u64::from(*x)).wrapping_mul(K);
    }
    finish(h)
}

/// Asks the CPU to start loading the cache line at `p` (no effect where unsupported). The
/// encoder computes a line's cache keys as the chunker yields its pieces and probes them at the
/// line's end, so the probes' memory accesses overlap instead of stalling one after another.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[inline]
fn finish(h: u64) -> u32 {
    // The high bits are the well-mixed ones; never 0 (the empty marker).
    ((h >> 32) as u32) | 1
}

/// Empty slots, written rather than taken as zeroed pages (calloc). Lookups read a table
/// before inserts write it, and a page first read from calloc'd memory maps the shared zero
/// page: the first write then faults again and flushes that page from the TLB of every core
/// the process runs on, an interrupt to each other encoding thread per page (~7% of a
/// 2-thread first pass, in TLB-shootdown IPIs). Written pages fault once, flush nothing.
fn written_zeroed<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    // Opaque to LLVM, which would otherwise fold this malloc + memset back into calloc.
    std::hint::black_box(v.as_mut_ptr());
    v.resize(n, T::default());
    v
}

impl Slot {
    #[inline]
    fn pack(self) -> u128 {
        u128::from(self.hash)
            | u128::from(self.key_at) << 32
            | u128::from(self.val_at) << 64
            | u128::from(self.key_len) << 96
            | u128::from(self.val_len) << 112
    }

    #[inline]
    fn unpack(w: u128) -> Slot {
        Slot {
            hash: w as u32,
            key_at: (w >> 32) as u32,
            val_at: (w >> 64) as u32,
            key_len: (w >> 96) as u16,
            val_len: (w >> 112) as u16,
        }
    }
}

impl<K: Copy + Eq> Default for SeqCache<K> {
    fn default() -> Self {
        Self::with_caps(MAX_SLOTS, MAX_ARENA)
    }
}

impl<K: Copy + Eq> SeqCache<K> {
    pub fn with_caps(max_slots: usize, max_arena: usize) -> Self {
        SeqCache {
            slots: Vec::new(),
            keys: Vec::new(),
            vals: Vec::new(),
            len: 0,
            max_slots: max_slots.next_power_of_two().max(FIRST_SLOTS),
            max_arena,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        if self.is_empty() {
            return;
        }
        // The same pages again: already mapped and written, no fault.
        self.slots.fill(0);
        self.keys.clear();
        self.vals.clear();
        self.len = 0;
    }

    /// Starts loading the slot a lookup of `hash` probes first (see `prefetch`).
    #[inline(always)]
    pub fn prefetch(&self, hash: u32) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[(hash as usize >> 1) & (self.slots.len() - 1)]);
        }
    }

    #[inline]
    pub fn get(&self, hash: u32, key: &[K]) -> Option<&[u32]> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize >> 1) & mask;
        loop {
            let s = Slot::unpack(self.slots[i]);
            if s.hash == 0 {
                return None;
            }
            if s.hash == hash && usize::from(s.key_len) == key.len() {
                let at = s.key_at as usize;
                // An element loop, not `==`: keys are short, where a memcmp call costs more.
                let stored = &self.keys[at..at + key.len()];
                if stored.iter().zip(key).all(|(a, b)| a == b) {
                    let v = s.val_at as usize;
                    return Some(&self.vals[v..v + usize::from(s.val_len)]);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts `key -> val` (the caller has just missed it). Keys or values longer than a
    /// slot can describe are simply not cached.
    pub fn insert(&mut self, hash: u32, key: &[K], val: &[u32]) {
        if key.len() > usize::from(u16::MAX) || val.len() > usize::from(u16::MAX) {
            return;
        }
        if self.keys.len() + key.len() > self.max_arena
            || self.vals.len() + val.len() > self.max_arena
        {
            self.clear();
        }
        if (self.len + 1) * 2 > self.slots.len() {
            if self.slots.len() >= self.max_slots {
                self.clear();
            } else {
                self.grow();
            }
        }
        let s = Slot {
            hash,
            key_at: self.keys.len() as u32,
            val_at: self.vals.len() as u32,
            key_len: key.len() as u16,
            val_len: val.len() as u16,
        };
        self.keys.extend_from_slice(key);
        self.vals.extend_from_slice(val);
        self.place(s);
        self.len += 1;
    }

    #[inline]
    fn place(&mut self, s: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = (s.hash as usize >> 1) & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = s.pack();
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(FIRST_SLOTS);
        let old = std::mem::replace(&mut self.slots, written_zeroed(n));
        for w in old {
            if w != 0 {
                self.place(Slot::unpack(w));
            }
        }
    }
}

/// Stage-1 tokens of short pieces (2..=16 bytes, at most three tokens: nearly all pieces of
/// code), with the key's bytes in the slot. A lookup is one memory access where `SeqCache`
/// needs three dependent ones (slot, key arena, value arena), and keying needs no hash loop.
/// Two-way sets of 32-byte slots, one cache line a set; a full set loses its older slot, so
/// memory stays at 4 MB and nothing is ever cleared for space.
#[derive(Default)]
pub struct ShortCache {
    /// Per slot: the key's two words, `len | ident << 5 | count << 6 | id0 << 8 | id1 << 32`
    /// (len 0: empty), and id2.
    slots: Vec<[u64; 4]>,
}

pub const SHORT_MAX: usize = 16;
// A slot keeps a token id in 24 bits.
const _: () = assert!(crate::bpe::MAX_ID <= 1 << 24);
const SHORT_SETS: usize = 1 << 16;

/// A key of 2..=16 bytes as two words. Overlapping loads of its first and last bytes: with the
/// length (stored beside them) they determine every byte, and need no copy loop.
#[inline]
pub fn short_key(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    debug_assert!((2..=SHORT_MAX).contains(&n));
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let half = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()));
    let quarter = |at: usize| u64::from(u16::from_le_bytes(b[at..at + 2].try_into().unwrap()));
    if n >= 8 {
        (word(0), word(n - 8))
    } else if n >= 4 {
        (half(0) | half(n - 4) << 32, 0)
    } else {
        (quarter(0) | quarter(n - 2) << 16, 0)
    }
}

/// What a short slot keeps beside a key's words: its length, and whether it is an identifier.
#[inline(always)]
fn short_tag(len: usize, ident: bool) -> u64 {
    len as u64 | u64::from(ident) << 5
}

impl ShortCache {
    #[inline]
    fn set(&self, k: (u64, u64), tag: u64) -> usize {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let h = (k.0 ^ k.1.rotate_left(29) ^ tag.rotate_left(53)).wrapping_mul(K);
        ((h >> 40) as usize & (SHORT_SETS - 1)) * 2
    }

    /// Starts loading the set a lookup of `k` reads (see `prefetch`). Its first slot only:
    /// fetching the second's line too (a set may straddle two) measured the same.
    #[inline(always)]
    pub fn prefetch(&self, k: (u64, u64), len: usize, ident: bool) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.set(k, short_tag(len, ident))]);
        }
    }

    /// The stage-1 tokens of a piece whose `short_key` is `k`, if cached; appended to `out`.
    /// Always inlined: it runs for most pieces, and as a call it cost ~15 instructions each.
    #[inline(always)]
    pub fn get(&self, k: (u64, u64), len: usize, ident: bool, out: &mut Vec<u32>) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let tag = short_tag(len, ident);
        let at = self.set(k, tag);
        for s in &self.slots[at..at + 2] {
            if s[0] == k.0 && s[1] == k.1 && s[2] & 0x3f == tag {
                let ids = s[2] >> 8;
                out.push((ids & 0xff_ffff) as u32);
                match (s[2] >> 6) & 3 {
                    1 => {}
                    2 => out.push((s[2] >> 32) as u32),
                    _ => out.extend([(s[2] >> 32) as u32, s[3] as u32]),
                }
                return true;
            }
        }
        false
    }

    /// Caches `ids` (one to three tokens; more are not cached) for the piece keyed `k`.
    pub fn insert(&mut self, k: (u64, u64), len: usize, ident: bool, ids: &[u32]) {
        if ids.is_empty() || ids.len() > 3 {
            return;
        }
        if self.slots.is_empty() {
            self.slots = written_zeroed(SHORT_SETS * 2);
        }
        let tag = short_tag(len, ident);
        let at = self.set(k, tag);
        let id = |i: usize| u64::from(ids.get(i).copied().unwrap_or(0));
        let slot = [
            k.0,
            k.1,
            tag | (ids.len() as u64) << 6 | id(0) << 8 | id(1) << 32,
            id(2),
        ];
        // The newer entry goes first; the older of the two falls out.
        self.slots[at + 1] = self.slots[at];
        self.slots[at] = slot;
    }

    pub fn clear(&mut self) {
        self.slots.fill([0; 4]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_stays_bounded() {
        let mut c: SeqCache<u8> = SeqCache::with_caps(1 << 12, 1 << 12);
        let mut model = std::collections::HashMap::new();
        for i in 0..10_000u32 {
            let key = format!("k{}", i % 3000).into_bytes();
            let h = hash_bytes(&key);
            match c.get(h, &key) {
                Some(v) => assert_eq!(Some(&v.to_vec()), model.get(&key)),
                None => {
                    let val = vec![i, i + 1];
                    c.insert(h, &key, &val);
                    model.insert(key.clone(), val.clone());
                    assert_eq!(c.get(h, &key), Some(val.as_slice()));
                }
            }
            assert!(c.len() * 2 <= 1 << 12 && c.keys.len() <= 1 << 12);
        }
        // Equal hashes with different keys never answer for each other.
        let (a, b) = ([1u32, 2], [2u32, 1]);
        let mut c: SeqCache<u32> = SeqCache::default();
        c.insert(7, &a, &[9]);
        assert_eq!(c.get(7, &b), None);
        assert_eq!(c.get(7, &a), Some(&[9][..]));
        assert_ne!(hash_u32s(&a), hash_u32s(&b));
    }

    #[test]
    fn short_cache_keys_every_byte_and_keeps_two_per_set() {
        // Keys of every length that share first and last bytes, or differ in one middle byte.
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for n in 2..=SHORT_MAX {
            for fill in if n > 2 { &b"ab"[..] } else { &b"a"[..] } {
                let mut k = vec![*fill; n];
                k[0] = b'x';
                k[n - 1] = b'y';
                keys.push(k);
            }
        }
        let mut c = ShortCache::default();
        let mut out = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            for ident in [false, true] {
                assert!(!c.get(short_key(k), k.len(), ident, &mut out));
                let ids: Vec<u32> = (0..1 + i as u32 % 3)
                    .map(|j| i as u32 * 8 + j + u32::from(ident))
                    .collect();
                c.insert(short_key(k), k.len(), ident, &ids);
                out.clear();
                assert!(c.get(short_key(k), k.len(), ident, &mut out));
                assert_eq!(out, ids);
            }
        }
        // Four tokens are not cached; an id of 20 bits survives the packing.
        c.insert(short_key(b"abcd"), 4, false, &[1, 2, 3, 4]);
        out.clear();
        assert!(!c.get(short_key(b"abcd"), 4, false, &mut out));
        c.insert(
            short_key(b"abcd"),
            4,
            false,
            &[(1 << 20) - 1, 5, (1 << 20) - 2],
        );
        assert!(c.get(short_key(b"abcd"), 4, false, &mut out));
        assert_eq!(out, [(1 << 20) - 1, 5, (1 << 20) - 2]);
        c.clear();
        assert!(!c.get(short_key(b"abcd"), 4, false, &mut out));
    }
}
