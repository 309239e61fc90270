//! A static search tree: sorted keys with a value each, answering "the last key at or below
//! x" while touching one node per level.
//!
//! Nodes hold `B` keys (one or two cache lines). The upper levels only hold separators, the
//! first key of each child but the first, and together are a few percent of the size, so
//! they stay in cache; a lookup then costs about one uncached leaf, whose values sit right
//! after its keys. A flat binary search over the same keys touches a new cache line at
//! nearly every step once the range is wider than a line.

/// Keys per node.
const B: usize = 16;

/// A key type: unsigned integers compared as numbers.
pub(crate) trait Key: Copy + Ord {
    /// Pads nodes; never a real separator.
    const MAX: Self;
}

impl Key for u32 {
    const MAX: Self = u32::MAX;
}

impl Key for u64 {
    const MAX: Self = u64::MAX;
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Node<K> {
    keys: [K; B],
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Leaf<K> {
    keys: [K; B],
    values: [u32; B],
}

/// Keys in ascending order with a `u32` each, fixed once built.
pub(crate) struct SearchTree<K: Key> {
    /// Separator levels, root first; child `j` of node `i` is node `i * (B + 1) + j` of the
    /// level below (or leaf), and key `t` of a node is the smallest key under child `t + 1`.
    levels: Vec<Box<[Node<K>]>>,
    leaves: Box<[Leaf<K>]>,
    len: usize,
}

/// Keys one prefetch pass follows together (a UDP batch at most).
const PREFETCH_CHUNK: usize = 32;

/// Ask the CPU to start loading every cache line of `t` (a hint; nothing on other targets).
fn prefetch_lines<T>(t: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = std::ptr::from_ref::<T>(t).cast::<i8>();
        for offset in (0..size_of::<T>()).step_by(64) {
            // SAFETY: SSE is part of x86_64, a prefetch never faults, and every line named
            // lies inside `t`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = t;
}

/// How many of `keys` are at or below `x` (branch-free, so the compiler can vectorise it).
fn at_or_below<K: Key>(keys: &[K; B], x: K) -> usize {
    keys.iter().map(|k| usize::from(*k <= x)).sum()
}

/// Builds a tree from pairs pushed in ascending key order (the caller checks the order).
pub(crate) struct Builder<K: Key> {
    leaves: Vec<Leaf<K>>,
    len: usize,
}

impl<K: Key> Default for Builder<K> {
    fn default() -> Self {
        Self {
            leaves: Vec::new(),
            len: 0,
        }
    }
}

impl<K: Key> Builder<K> {
    pub(crate) fn push(&mut self, key: K, value: u32) {
        let slot = self.len % B;
        if slot == 0 {
            self.leaves.push(Leaf {
                keys: [K::MAX; B],
                values: [0; B],
            });
        }
        if let Some(leaf) = self.leaves.last_mut() {
            leaf.keys[slot] = key;
            leaf.values[slot] = value;
        }
        self.len += 1;
    }

    /// The last key pushed.
    pub(crate) fn last(&self) -> Option<(K, u32)> {
        let slot = self.len.checked_sub(1)? % B;
        let leaf = self.leaves.last()?;
        Some((leaf.keys[slot], leaf.values[slot]))
    }

    /// Adds the separator levels.
    pub(crate) fn finish(self) -> SearchTree<K> {
        // The smallest key under each node of the level being built upon.
        let mut mins: Vec<K> = self.leaves.iter().map(|l| l.keys[0]).collect();
        let mut levels = Vec::new();
        while mins.len() > 1 {
            let parents = mins.len().div_ceil(B + 1);
            let mut level = Vec::with_capacity(parents);
            let mut parent_mins = Vec::with_capacity(parents);
            for p in 0..parents {
                let first = p * (B + 1);
                let mut node = Node { keys: [K::MAX; B] };
                for (t, key) in node.keys.iter_mut().enumerate() {
                    if let Some(m) = mins.get(first + t + 1) {
                        *key = *m;
                    }
                }
                level.push(node);
                parent_mins.push(mins[first]);
            }
            levels.push(level.into_boxed_slice());
            mins = parent_mins;
        }
        levels.reverse();
        SearchTree {
            levels,
            leaves: self.leaves.into_boxed_slice(),
            len: self.len,
        }
    }
}

impl<K: Key> SearchTree<K> {
    /// Builds from `(key, value)` pairs sorted by key (the caller checks the order).
    #[cfg(test)]
    pub(crate) fn new(pairs: &[(K, u32)]) -> Self {
        let mut builder = Builder::default();
        for (k, v) in pairs {
            builder.push(*k, *v);
        }
        builder.finish()
    }

    /// The last pair whose key is at or below `x`: its position and value.
    pub(crate) fn floor(&self, x: K) -> Option<(usize, K, u32)> {
        let mut node = 0usize;
        for depth in 0..self.levels.len() {
            node = self.child(depth, node, x)?;
        }
        let leaf = self.leaves.get(node)?;
        let m = at_or_below(&leaf.keys, x);
        // m == 0 only below the very first key; past `len` only for x == MAX (padding).
        let slot = m.checked_sub(1)?.min((self.len - 1).checked_sub(node * B)?);
        Some((node * B + slot, leaf.keys[slot], leaf.values[slot]))
    }

    /// The child of node `node` of level `depth` that holds `x`: its index in the level
    /// below (or among the leaves).
    fn child(&self, depth: usize, node: usize, x: K) -> Option<usize> {
        let below = self
            .levels
            .get(depth + 1)
            .map_or(self.leaves.len(), |l| l.len());
        let j = at_or_below(&self.levels.get(depth)?.get(node)?.keys, x);
        // Only the last node of a level has missing children (separators MAX, counted only
        // for x == MAX): its last real child is the level's last node.
        Some((node * (B + 1) + j).min(below.checked_sub(1)?))
    }

    /// Start fetching the leaves `floor` will read for each of `xs`, level by level: a
    /// level's nodes are requested for every key before any of them is read, so the cache
    /// misses of a batch of lookups overlap instead of coming one after another.
    pub(crate) fn prefetch(&self, xs: &[K]) {
        for chunk in xs.chunks(PREFETCH_CHUNK) {
            self.prefetch_chunk(chunk);
        }
    }

    fn prefetch_chunk(&self, xs: &[K]) {
        let mut nodes = [0usize; PREFETCH_CHUNK];
        for depth in 0..self.levels.len() {
            for (x, node) in xs.iter().zip(&mut nodes) {
                let Some(child) = self.child(depth, *node, *x) else {
                    return;
                };
                *node = child;
                match self.levels.get(depth + 1) {
                    Some(next) => next.get(child).map(prefetch_lines),
                    None => self.leaves.get(child).map(prefetch_lines),
                };
            }
        }
    }

    /// Pairs held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of nodes and leaves.
    pub(crate) fn bytes(&self) -> usize {
        let nodes: usize = self.levels.iter().map(|l| l.len()).sum();
        nodes * size_of::<Node<K>>() + self.leaves.len() * size_of::<Leaf<K>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    /// The answer by binary search over the plain sorted keys.
    fn expected(keys: &[u32], x: u32) -> Option<usize> {
        keys.partition_point(|k| *k <= x).checked_sub(1)
    }

    fn check(keys: &[u32], probes: impl IntoIterator<Item = u32>) {
        let pairs: Vec<(u32, u32)> = keys.iter().map(|k| (*k, k.wrapping_mul(7))).collect();
        let tree = SearchTree::new(&pairs);
        assert_eq!(tree.len(), keys.len());
        for x in probes {
            // A hint only, but it walks the same levels: it must not panic anywhere.
            tree.prefetch(&[x, x.wrapping_add(1), 0]);
            let got = tree.floor(x);
            match expected(keys, x) {
                Some(i) => assert_eq!(got, Some((i, keys[i], keys[i].wrapping_mul(7))), "x={x}"),
                None => assert_eq!(got, None, "x={x}"),
            }
        }
    }

    #[test]
    fn floor_matches_binary_search_at_every_size_around_node_boundaries() {
        for n in [1usize, 2, 15, 16, 17, 271, 272, 273, 290, 4913, 4914, 5000] {
            let keys: Vec<u32> = (0..n as u32).map(|i| 10 + i * 3).collect();
            let mut probes = vec![0, 9, 10, 11, u32::MAX, u32::MAX - 1];
            probes.extend(keys.iter().flat_map(|k| [*k - 1, *k, *k + 1]));
            check(&keys, probes);
        }
    }

    #[test]
    fn floor_matches_binary_search_on_random_keys_including_the_extremes() {
        let mut rng = StdRng::seed_from_u64(20261123);
        for n in [3usize, 100, 20_000] {
            let mut keys: Vec<u32> = (0..n).map(|_| rng.random()).collect();
            keys.extend([0, u32::MAX]);
            keys.sort_unstable();
            keys.dedup();
            let probes: Vec<u32> = (0..20_000)
                .map(|_| rng.random())
                .chain([0, u32::MAX])
                .collect();
            check(&keys, probes);
        }
    }

    #[test]
    fn an_empty_tree_finds_nothing() {
        let tree = SearchTree::<u64>::new(&[]);
        assert_eq!(tree.floor(5), None);
        assert_eq!(tree.floor(u64::MAX), None);
    }
}
