//! A Bloom filter of one hash: one bit per hashed key; a clear bit means the key was never
//! inserted. It sits in front of a table that most lookups miss and whose probe is a likely
//! cache miss on text seen for the first time: the bits say "absent" from a few KB instead.
//! No false negatives, so answers never change; a false positive only costs the probe.

pub struct Bloom {
    bits: Vec<u64>,
    shift: u32,
}

impl Bloom {
    /// Room for about `n` keys at ~8 bits each (then ~12% of absent keys pass).
    pub fn new(n: usize) -> Self {
        let bits = (n * 8).next_power_of_two().max(1 << 12);
        Bloom {
            bits: vec![0; bits / 64],
            shift: 64 - bits.trailing_zeros(),
        }
    }

    /// A hash of its own: `key` may already be a table's hash, whose bits picked its slot.
    #[inline(always)]
    fn index(&self, key: u64) -> usize {
        (key.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> self.shift) as usize
    }

    pub fn insert(&mut self, key: u64) {
        let i = self.index(key);
        self.bits[i >> 6] |= 1 << (i & 63);
    }

    #[inline(always)]
    pub fn may_contain(&self, key: u64) -> bool {
        let i = self.index(key);
        self.bits[i >> 6] >> (i & 63) & 1 != 0
    }

    pub fn clear(&mut self) {
        self.bits.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_every_key_inserted_and_few_others() {
        let mut x = 7u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 24
        };
        let keys: Vec<u64> = (0..16_000).map(|_| next()).collect();
        let mut f = Bloom::new(keys.len());
        keys.iter().for_each(|&k| f.insert(k));
        assert!(keys.iter().all(|&k| f.may_contain(k)));
        let passed = (0..100_000).filter(|_| f.may_contain(next())).count();
        assert!(passed < 20_000, "{passed} of 100,000 absent keys passed");
        f.clear();
        assert!(!keys.iter().any(|&k| f.may_contain(k)));
    }
}
