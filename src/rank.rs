//! A growable set of flags with counts and "the k-th set flag" in O(log n): a Fenwick
//! (binary indexed) tree over 0/1 values. The cluster model draws a uniformly random
//! available pod from it on every failure and flap, where collecting the candidates would cost
//! O(pods) per draw.

/// Flags indexed `0..len`, appended one at a time.
#[derive(Clone, Debug, Default)]
pub struct RankSet {
    /// `tree[i]` (1-based) sums the flags of `(i - lowbit(i), i]`; `tree[0]` is unused.
    tree: Vec<u32>,
    flags: Vec<bool>,
    count: u32,
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl RankSet {
    pub fn new() -> Self {
        RankSet {
            tree: vec![0],
            flags: Vec::new(),
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.flags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// How many flags are set.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The number of set flags among the first `n`.
    fn prefix(&self, mut n: usize) -> u32 {
        let mut sum = 0;
        while n > 0 {
            sum += self.tree[n];
            n -= lowbit(n);
        }
        sum
    }

    /// Appends a flag; returns its index.
    pub fn push(&mut self, flag: bool) -> usize {
        let n = self.flags.len() + 1;
        let node = u32::from(flag) + self.prefix(n - 1) - self.prefix(n - lowbit(n));
        self.tree.push(node);
        self.flags.push(flag);
        self.count += u32::from(flag);
        n - 1
    }

    /// Sets flag `i` (which must exist).
    pub fn set(&mut self, i: usize, flag: bool) {
        if self.flags[i] == flag {
            return;
        }
        self.flags[i] = flag;
        let mut n = i + 1;
        while n < self.tree.len() {
            if flag {
                self.tree[n] += 1;
            } else {
                self.tree[n] -= 1;
            }
            n += lowbit(n);
        }
        if flag {
            self.count += 1;
        } else {
            self.count -= 1;
        }
    }

    /// The index of the `k`-th set flag (0-based, in index order), if there are more than `k`.
    pub fn select(&self, k: u32) -> Option<usize> {
        if k >= self.count {
            return None;
        }
        let len = self.flags.len();
        let (mut pos, mut rest) = (0, k + 1);
        let mut step = if len == 0 { 0 } else { 1 << len.ilog2() };
        while step > 0 {
            if pos + step <= len && self.tree[pos + step] < rest {
                pos += step;
                rest -= self.tree[pos];
            }
            step >>= 1;
        }
        Some(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every count and selection equals a scan of a plain vector of flags.
        #[test]
        fn equals_a_scan(ops in prop::collection::vec((any::<bool>(), 0usize..300, any::<bool>()), 0..400)) {
            let mut set = RankSet::new();
            let mut plain: Vec<bool> = Vec::new();
            for (push, i, flag) in ops {
                if push || plain.is_empty() {
                    prop_assert_eq!(set.push(flag), plain.len());
                    plain.push(flag);
                } else {
                    let i = i % plain.len();
                    set.set(i, flag);
                    plain[i] = flag;
                }
                let ones: Vec<usize> = (0..plain.len()).filter(|&i| plain[i]).collect();
                prop_assert_eq!(set.count() as usize, ones.len());
                for (k, &want) in ones.iter().enumerate() {
                    prop_assert_eq!(set.select(k as u32), Some(want));
                }
                prop_assert_eq!(set.select(ones.len() as u32), None);
            }
        }
    }
}
