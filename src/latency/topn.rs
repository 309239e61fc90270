//! The busiest keys of a stream in bounded memory: Space-Saving over an indexed min-heap.
//!
//! Metwally, Agrawal and El Abbadi's Space-Saving keeps `capacity` counters. A key that
//! has a counter adds to it; a new key takes over the smallest counter, inheriting its
//! count as its possible overestimate (`error`). Every key whose true count exceeds
//! total/capacity is guaranteed to hold a counter, and `count - error <= true <= count`.
//! The smallest counter is the heap root, so each observation costs O(log capacity).
//! [`SpaceSaving::decay`] halves every counter so old traffic fades (halving keeps the
//! heap order, so it needs no rebuild).

use std::collections::HashMap;
use std::hash::Hash;

/// One monitored key: `count` over-estimates its weight by at most `error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counter<K> {
    pub(crate) key: K,
    pub(crate) count: u64,
    pub(crate) error: u64,
}

/// Space-Saving heavy hitters with a fixed number of counters.
#[derive(Clone, Debug)]
pub(crate) struct SpaceSaving<K> {
    capacity: usize,
    heap: Vec<Counter<K>>,
    pos: HashMap<K, usize>,
}

impl<K: Copy + Eq + Hash> SpaceSaving<K> {
    /// A summary keeping at most `capacity` counters (0 keeps nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            heap: Vec::with_capacity(capacity.min(1 << 16)),
            pos: HashMap::with_capacity(capacity.min(1 << 16)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Counts `weight` more occurrences of `key`.
    pub(crate) fn observe(&mut self, key: K, weight: u64) {
        if let Some(&i) = self.pos.get(&key) {
            self.heap[i].count = self.heap[i].count.saturating_add(weight);
            self.sift_down(i);
        } else if self.heap.len() < self.capacity {
            self.heap.push(Counter {
                key,
                count: weight,
                error: 0,
            });
            let i = self.heap.len() - 1;
            self.pos.insert(key, i);
            self.sift_up(i);
        } else if let Some(root) = self.heap.first().copied() {
            self.pos.remove(&root.key);
            self.heap[0] = Counter {
                key,
                count: root.count.saturating_add(weight),
                error: root.count,
            };
            self.pos.insert(key, 0);
            self.sift_down(0);
        }
    }

    /// The `n` largest counters, largest first (ties by smaller error first).
    pub(crate) fn top(&self, n: usize) -> Vec<Counter<K>> {
        let mut all = self.heap.clone();
        all.sort_unstable_by(|a, b| b.count.cmp(&a.count).then(a.error.cmp(&b.error)));
        all.truncate(n);
        all
    }

    /// Halves every count and error; counters that reach 0 are dropped.
    pub(crate) fn decay(&mut self) {
        for c in &mut self.heap {
            c.count /= 2;
            c.error /= 2;
        }
        // Halving is monotone, so the heap order holds; zeros sit at the top and are
        // removed one root at a time.
        while self.heap.first().is_some_and(|c| c.count == 0) {
            self.remove_root();
        }
    }

    fn remove_root(&mut self) {
        let Some(last) = self.heap.pop() else {
            return;
        };
        if let Some(root) = self.heap.first().copied() {
            self.pos.remove(&root.key);
            self.heap[0] = last;
            self.pos.insert(last.key, 0);
            self.sift_down(0);
        } else {
            self.pos.remove(&last.key);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos.insert(self.heap[a].key, a);
        self.pos.insert(self.heap[b].key, b);
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent].count <= self.heap[i].count {
                break;
            }
            self.swap(parent, i);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < self.heap.len() && self.heap[l].count < self.heap[smallest].count {
                smallest = l;
            }
            if r < self.heap.len() && self.heap[r].count < self.heap[smallest].count {
                smallest = r;
            }
            if smallest == i {
                return;
            }
            self.swap(i, smallest);
            i = smallest;
        }
    }

    #[cfg(test)]
    fn check(&self) {
        for i in 1..self.heap.len() {
            assert!(self.heap[(i - 1) / 2].count <= self.heap[i].count);
        }
        assert_eq!(self.pos.len(), self.heap.len());
        for (k, &i) in &self.pos {
            assert!(self.heap[i].key == *k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn exact_while_under_capacity() {
        let mut s = SpaceSaving::new(4);
        for (k, n) in [(1, 5), (2, 3), (3, 9)] {
            for _ in 0..n {
                s.observe(k, 1);
            }
        }
        s.check();
        let top = s.top(2);
        assert_eq!(
            top,
            [
                Counter {
                    key: 3,
                    count: 9,
                    error: 0
                },
                Counter {
                    key: 1,
                    count: 5,
                    error: 0
                }
            ]
        );
    }

    #[test]
    fn heavy_hitters_survive_a_long_tail() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut s = SpaceSaving::new(64);
        let mut truth: HashMap<u64, u64> = HashMap::new();
        for _ in 0..200_000 {
            // Keys 0..8 carry half the traffic; 100 000 others share the rest.
            let key = if rng.random_bool(0.5) {
                rng.random_range(0..8)
            } else {
                rng.random_range(1000..101_000)
            };
            *truth.entry(key).or_default() += 1;
            s.observe(key, 1);
        }
        s.check();
        let top: Vec<u64> = s.top(8).iter().map(|c| c.key).collect();
        let mut sorted = top.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..8).collect::<Vec<_>>());
        for c in s.top(64) {
            let t = truth[&c.key];
            assert!(c.count >= t && c.count - c.error <= t, "{c:?} true {t}");
        }
    }

    #[test]
    fn weights_and_takeover_inherit_the_minimum() {
        let mut s = SpaceSaving::new(2);
        s.observe("a", 10);
        s.observe("b", 3);
        s.observe("c", 1);
        s.check();
        let top = s.top(3);
        assert_eq!(top[0].key, "a");
        assert_eq!(
            top[1],
            Counter {
                key: "c",
                count: 4,
                error: 3
            }
        );
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn decay_halves_and_drops_zeros() {
        let mut s = SpaceSaving::new(8);
        s.observe(1, 1);
        s.observe(2, 8);
        s.observe(3, 3);
        s.decay();
        s.check();
        let top = s.top(8);
        assert_eq!(
            top.iter().map(|c| (c.key, c.count)).collect::<Vec<_>>(),
            [(2, 4), (3, 1)]
        );
        s.decay();
        s.decay();
        s.check();
        assert_eq!(s.top(8).len(), 1);
        s.decay();
        assert!(s.is_empty());
        let mut none = SpaceSaving::new(0);
        none.observe(1, 1);
        assert!(none.is_empty());
    }
}
