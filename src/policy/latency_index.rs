//! The neighbour builder's index, kept between builds: every placed network's groups and every group's members, so a change to a few networks re-pools only their groups.
//!
//! Built once from a table snapshot (the same result as [`latency_build::build`]), then
//! [`NeighbourIndex::update`]d from the table's change log: each network changed since
//! the last position is added (located once), re-pooled or removed, and only the groups
//! it belongs to are pooled again from the new snapshot, each from all its members. The
//! aggregates are sharded ([`Aggregates::apply`]), so an update rebuilds only the shards
//! holding a changed group and publishing shares the rest. Recency weights need no refresh: every weight in a group
//! scales by the same factor as time passes, and the weighted median and mean do not
//! move; only estimates ageing past the table's maximum age do, and the table's expiry
//! logs those. Memory: about 100 bytes per placed network (see [`NeighbourIndex::heap_bytes`]).
//!
//! [`latency_build::build`]: super::latency_build::build

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::latency_build::{Contribution, Placed, contribute, place, pool};
use crate::geo::Locate;
use crate::latency::aggregate::{Aggregates, Group, level_of};
use crate::latency::{LatencyTable, NetKey};

/// No group at this level.
const NONE: u32 = u32::MAX;

/// One placed network: where it is and its group ids, in level order.
struct Slot {
    key: NetKey,
    coords: (f64, f64),
    groups: [u32; 6],
}

/// One group and the slots of its member networks (unordered).
struct Members {
    group: Group,
    nets: Vec<u32>,
}

/// Placed networks and group members, with the aggregates they pool into.
pub(crate) struct NeighbourIndex {
    dc_coords: Vec<Option<(f64, f64)>>,
    generation: u64,
    slot_of: HashMap<NetKey, u32>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    group_id: HashMap<Group, u32>,
    groups: Vec<Members>,
    free_groups: Vec<u32>,
    aggregates: Aggregates,
    /// The table's change-log position this index reflects.
    position: u64,
    scratch: Vec<Contribution>,
}

/// What an update did: networks changed, groups pooled again and their members.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Updated {
    pub(crate) networks: usize,
    pub(crate) groups: usize,
    pub(crate) members: usize,
}

impl NeighbourIndex {
    /// Indexes every network of `table` and pools every group (a full build).
    pub(crate) fn build(
        table: &LatencyTable,
        geo: &dyn Locate,
        dc_coords: &[Option<(f64, f64)>],
        now: u64,
    ) -> Self {
        let mut index = Self {
            dc_coords: dc_coords.to_vec(),
            generation: geo.generation(),
            slot_of: HashMap::with_capacity(table.networks()),
            slots: Vec::with_capacity(table.networks()),
            free_slots: Vec::new(),
            group_id: HashMap::new(),
            groups: Vec::new(),
            free_groups: Vec::new(),
            aggregates: Aggregates::default(),
            position: table.change_end(),
            scratch: Vec::new(),
        };
        let prefixes = table.prefixes();
        for key in table.keys() {
            if let Some(p) = place(key, prefixes, geo) {
                index.insert(p, &mut Vec::new());
            }
        }
        let all = u32::try_from(index.groups.len()).unwrap_or(u32::MAX);
        index.repool(table, now, 0..all);
        for m in &mut index.groups {
            m.nets.shrink_to_fit();
        }
        index.finish(table);
        index
    }

    /// Whether this index was built for these datacenter coordinates and GeoIP generation
    /// (if not, only a full build is right).
    pub(crate) fn built_for(&self, dc_coords: &[Option<(f64, f64)>], generation: u64) -> bool {
        self.dc_coords == dc_coords && self.generation == generation
    }

    /// Whether `table`'s change log still reaches back to this index's position.
    pub(crate) fn can_follow(&self, table: &LatencyTable) -> bool {
        table.changed_since(self.position).is_some()
    }

    /// Whether `table` changed since this index's position.
    pub(crate) fn behind(&self, table: &LatencyTable) -> bool {
        table.change_end() != self.position
    }

    /// The aggregates as of the last build or update (shares every shard).
    pub(crate) fn aggregates(&self) -> Aggregates {
        self.aggregates.clone()
    }

    /// Applies every change of `table` since this index's position; `None` (nothing
    /// changed) when the change log no longer reaches back that far.
    pub(crate) fn update(
        &mut self,
        table: &LatencyTable,
        geo: &dyn Locate,
        now: u64,
    ) -> Option<Updated> {
        let mut keys: Vec<NetKey> = table.changed_since(self.position)?.collect();
        keys.sort_unstable();
        keys.dedup();
        let (mut touched, mut shrunk) = (Vec::new(), Vec::new());
        let mut removed = HashSet::new();
        let prefixes = table.prefixes();
        for &key in &keys {
            match self.slot_of.get(&key) {
                Some(&s) => {
                    let ids = self.slots[s as usize]
                        .groups
                        .into_iter()
                        .filter(|&g| g != NONE);
                    touched.extend(ids.clone());
                    if !table.contains(key) {
                        self.slot_of.remove(&key);
                        removed.insert(s);
                        shrunk.extend(ids);
                    }
                }
                None if table.contains(key) => {
                    if let Some(p) = place(key, prefixes, geo) {
                        self.insert(p, &mut touched);
                    }
                }
                None => {}
            }
        }
        shrunk.sort_unstable();
        shrunk.dedup();
        for &g in &shrunk {
            self.groups[g as usize]
                .nets
                .retain(|s| !removed.contains(s));
        }
        self.free_slots.extend(removed);
        touched.sort_unstable();
        touched.dedup();
        let members = self.repool(table, now, touched.iter().copied());
        self.finish(table);
        Some(Updated {
            networks: keys.len(),
            groups: touched.len(),
            members,
        })
    }

    fn finish(&mut self, table: &LatencyTable) {
        self.position = table.change_end();
        self.aggregates.placed = self.slot_of.len();
    }

    /// Adds a placed network to its groups (creating them), noting their ids in `touched`.
    fn insert(&mut self, p: Placed, touched: &mut Vec<u32>) {
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    key: p.key,
                    coords: p.coords,
                    groups: [NONE; 6],
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(NONE)
            }
        };
        let mut ids = [NONE; 6];
        for (id, group) in ids.iter_mut().zip(p.groups) {
            if let Some(group) = group {
                *id = self.group(group);
                self.groups[*id as usize].nets.push(slot);
                touched.push(*id);
            }
        }
        self.slots[slot as usize] = Slot {
            key: p.key,
            coords: p.coords,
            groups: ids,
        };
        self.slot_of.insert(p.key, slot);
    }

    /// The id of `group`, created (without members) when new.
    fn group(&mut self, group: Group) -> u32 {
        if let Some(&id) = self.group_id.get(&group) {
            return id;
        }
        let members = Members {
            group,
            nets: Vec::new(),
        };
        let id = match self.free_groups.pop() {
            Some(id) => {
                self.groups[id as usize] = members;
                id
            }
            None => {
                self.groups.push(members);
                u32::try_from(self.groups.len() - 1).unwrap_or(NONE)
            }
        };
        self.group_id.insert(group, id);
        id
    }

    /// Pools each group of `ids` again from all its members (an empty group is dropped);
    /// returns how many members were pooled.
    fn repool(&mut self, table: &LatencyTable, now: u64, ids: impl Iterator<Item = u32>) -> usize {
        let (mut pooled, mut changes) = (0, Vec::new());
        for id in ids {
            let members = &mut self.groups[id as usize];
            let group = members.group;
            if members.nets.is_empty() {
                members.nets = Vec::new();
                self.group_id.remove(&group);
                self.free_groups.push(id);
                changes.push((group, None));
                continue;
            }
            self.scratch.clear();
            pooled += members.nets.len();
            for &s in &members.nets {
                let slot = &self.slots[s as usize];
                let at = (slot.key, slot.coords);
                contribute(table, at, &self.dc_coords, now, &mut self.scratch);
            }
            let estimates = pool(&mut self.scratch, level_of(&group) as usize);
            let estimates = (!estimates.is_empty()).then(|| Arc::from(estimates));
            changes.push((group, estimates));
        }
        self.aggregates.apply(changes);
        pooled
    }

    /// Heap bytes of the index itself (not the aggregates): the network map and slots,
    /// the group map and member lists, estimated from their capacities.
    pub(crate) fn heap_bytes(&self) -> usize {
        let map = |cap: usize, entry: usize| (cap * 8 / 7).next_power_of_two() * (entry + 1);
        let members: usize = self.groups.iter().map(|m| m.nets.capacity() * 4).sum();
        map(self.slot_of.capacity(), 16)
            + self.slots.capacity() * size_of::<Slot>()
            + map(self.group_id.capacity(), 24)
            + self.groups.capacity() * size_of::<Members>()
            + members
            + (self.free_slots.capacity() + self.free_groups.capacity()) * 4
    }
}

#[cfg(test)]
#[path = "latency_index_tests.rs"]
mod tests;
