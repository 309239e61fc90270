//! The table's change log: which networks changed, in order, bounded and copy-on-write, so the neighbour builder updates only what changed.
//!
//! Positions count every network ever logged. The log keeps the newest [`CAPACITY`]
//! entries in sealed chunks shared between table clones plus one open chunk; cloning
//! copies at most [`MAX_CHUNKS`] pointers, and the writer's next push after a publish
//! copies at most one chunk ([`CHUNK`] keys). A reader whose position fell out of the
//! log must start over (a full build). The log holds at most `CHUNK × (MAX_CHUNKS + 1)`
//! entries (1 052 672, 8 MiB of keys).

use std::collections::VecDeque;
use std::sync::Arc;

use super::net::NetKey;

/// Keys per chunk.
pub(crate) const CHUNK: usize = 4096;
/// Sealed chunks kept.
pub(crate) const MAX_CHUNKS: usize = 256;

/// Networks changed, oldest first, with their positions.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChangeLog {
    sealed: VecDeque<Arc<[NetKey]>>,
    open: Arc<Vec<NetKey>>,
    /// Position of the first entry held.
    start: u64,
}

impl ChangeLog {
    /// The position after the newest entry.
    pub(crate) fn end(&self) -> u64 {
        self.start + (self.sealed.len() * CHUNK + self.open.len()) as u64
    }

    /// Logs a change of `key`. Repeats are logged too: a reader may have read up to the
    /// previous one.
    pub(crate) fn push(&mut self, key: NetKey) {
        if self.open.len() >= CHUNK {
            let full = std::mem::take(Arc::make_mut(&mut self.open));
            self.sealed.push_back(Arc::from(full));
            if self.sealed.len() > MAX_CHUNKS {
                self.sealed.pop_front();
                self.start += CHUNK as u64;
            }
        }
        Arc::make_mut(&mut self.open).push(key);
    }

    /// The networks changed from position `from` on (repeats possible); `None` when
    /// `from` is no longer held (or lies in the future).
    pub(crate) fn since(&self, from: u64) -> Option<impl Iterator<Item = NetKey> + '_> {
        if from < self.start || from > self.end() {
            return None;
        }
        let skip = usize::try_from(from - self.start).ok()?;
        let all = self
            .sealed
            .iter()
            .flat_map(|c| c.iter())
            .chain(self.open.iter());
        Some(all.skip(skip).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPACITY: usize = CHUNK * (MAX_CHUNKS + 1);

    fn key(i: u64) -> NetKey {
        NetKey::from_raw((1 << 62) | i).unwrap()
    }

    #[test]
    fn readers_get_what_changed_since_their_position_until_it_falls_out() {
        let mut log = ChangeLog::default();
        assert_eq!(log.since(0).unwrap().count(), 0);
        log.push(key(1));
        log.push(key(2));
        assert_eq!(log.end(), 2);
        let snapshot = log.clone();
        log.push(key(2));
        assert_eq!(snapshot.since(1).unwrap().collect::<Vec<_>>(), [key(2)]);
        assert_eq!(log.since(1).unwrap().collect::<Vec<_>>(), [key(2), key(2)]);
        assert!(log.since(4).is_none(), "a future position");
        for i in 0..CAPACITY as u64 {
            log.push(key(10 + i));
        }
        assert_eq!(log.end(), 3 + CAPACITY as u64);
        assert!(log.since(0).is_none(), "overflowed");
        let from = log.end() - 5;
        let tail: Vec<NetKey> = log.since(from).unwrap().collect();
        assert_eq!(tail.len(), 5);
        assert_eq!(tail[4], key(9 + CAPACITY as u64));
    }
}
