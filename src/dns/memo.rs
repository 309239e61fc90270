//! Replies remembered by a UDP socket thread: the encoded sections after the question, per name, type and answer, for one zone snapshot.
//!
//! A NOERROR answer that no policy decided (no service decision, ECS scope 0) depends only
//! on the zone snapshot, the question name (case aside: pointers in the sections refer to
//! offsets in the question, which are the same in any case) and the type. Such a reply's
//! sections are kept in a fixed table of slots, two per hash of name and type, and the
//! next query for them copies the sections instead of resolving and encoding again; the
//! header, the question in the client's case and the OPT record are still written per
//! query (with the CO flag as the remembered reply had it).
//!
//! A signed answer that a policy decided (DO=1) is resolved per query as ever, but its
//! signed sections too depend only on the snapshot, the question and the records the
//! decision chose: their identity (`Answer::identity`: addresses and TTLs, CNAME targets,
//! the addresses of zone RRsets in the snapshot) files the reply beside name and type, so
//! the next query with that outcome skips signing and encoding, and a health change that
//! moves the decision files a reply of its own. The ECS scope is written per query.
//!
//! Only replies that fit the smallest UDP limit with the longest OPT are kept, so a
//! remembered reply is never truncated. The table is allocated once per thread; a third
//! reply hashed to a pair of slots drops the older of the two, and every slot filled under
//! an older zone snapshot, or (DO=1) before the signature cache last published, is
//! ignored. Names that get NXDOMAIN are not kept: a flood of random names would only churn
//! the table.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use rustc_hash::FxHasher;

use super::resolve::Answer;
use super::wire::{MAX_OPT, PLAIN_UDP_LIMIT};
use crate::zone::key::WireKey;

/// Slots per thread (a power of two).
pub(crate) const SLOTS: usize = 512;
/// Bytes of a slot: the name's key, the answer identity, then the sections.
const SLOT_BYTES: usize = 464;

/// What a reply was made under besides its question: the zone snapshot and, for DO=1, the
/// signature cache's epoch and the query's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    /// `Loaded::generation` (from 1; 0 marks an empty slot).
    pub generation: u64,
    /// DO=1: `SigCache::epoch` (0 for DO=0).
    pub epoch: u64,
    /// DO=1: 1, plus 2 with CO (0 for DO=0).
    pub flags: u8,
}

impl Stamp {
    /// The stamp of a DO=0 reply under zone snapshot `generation`.
    pub fn unsigned(generation: u64) -> Self {
        Self {
            generation,
            ..Self::default()
        }
    }
}

/// Where a reply is filed: its stamp, its question, and for a steered answer the identity
/// of what the decision chose (`Answer::identity`; empty for a static answer).
#[derive(Clone, Copy)]
pub struct Filed<'a> {
    /// The snapshot and flags.
    pub stamp: Stamp,
    /// The question name.
    pub key: &'a WireKey,
    /// The question type.
    pub qtype: RecordType,
    /// A steered answer's identity; empty for a static one.
    pub id: &'a [u8],
}

impl<'a> Filed<'a> {
    /// A static answer to `key`/`qtype` under `stamp`.
    pub fn new(stamp: Stamp, key: &'a WireKey, qtype: RecordType) -> Self {
        Self {
            stamp,
            key,
            qtype,
            id: &[],
        }
    }
}

/// One remembered reply.
struct Slot {
    stamp: Stamp,
    qtype: u16,
    key_len: u16,
    id_len: u16,
    sections_len: u16,
    authoritative: bool,
    /// The reply's OPT record echoed the CO flag (a signed reply to a query with CO).
    compact_ok: bool,
    /// Answer, authority and additional counts (the last without the OPT record).
    counts: [u16; 3],
    /// The answering zone's origin (metrics, the query log).
    zone: Option<Arc<str>>,
    bytes: [u8; SLOT_BYTES],
}

impl Slot {
    const EMPTY: Slot = Slot {
        stamp: Stamp {
            generation: 0,
            epoch: 0,
            flags: 0,
        },
        qtype: 0,
        key_len: 0,
        id_len: 0,
        sections_len: 0,
        authoritative: false,
        compact_ok: false,
        counts: [0; 3],
        zone: None,
        bytes: [0; SLOT_BYTES],
    };
}

/// A remembered reply found for a query.
pub struct Hit<'m> {
    pub(crate) authoritative: bool,
    /// Echo the CO flag in the OPT record.
    pub(crate) compact_ok: bool,
    pub(crate) counts: [u16; 3],
    /// The encoded answer, authority and additional sections.
    pub(crate) sections: &'m [u8],
    /// The origin of the zone that answered, if any.
    pub zone: Option<&'m Arc<str>>,
}

/// One thread's remembered replies.
pub struct Memo {
    /// Per slot, high bits of the hash of what it holds (0: empty): a query for a name
    /// that is not remembered (every NXDOMAIN) reads this small, cache-hot array only.
    tags: Box<[u32]>,
    slots: Box<[Slot]>,
}

impl Default for Memo {
    fn default() -> Self {
        Self {
            tags: vec![0; SLOTS].into_boxed_slice(),
            slots: (0..SLOTS).map(|_| Slot::EMPTY).collect(),
        }
    }
}

impl Memo {
    /// The first of the two slots (a pair) that may hold `key`/`qtype`/`id`, and the tag a
    /// slot holds when it does (never 0).
    #[inline]
    fn index(key: &[u8], qtype: u16, id: &[u8]) -> (usize, u32) {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        qtype.hash(&mut h);
        if !id.is_empty() {
            id.hash(&mut h);
        }
        let hash = h.finish();
        ((hash as usize) & (SLOTS - 2), (hash >> 32) as u32 | 1)
    }

    /// Whether slot `at` holds what `filed` names (tag `tag`), under any stamp.
    #[inline]
    fn holds(&self, at: usize, tag: u32, filed: &Filed<'_>) -> bool {
        let (key, id) = (filed.key.full(), filed.id);
        let slot = &self.slots[at];
        self.tags[at] == tag
            && slot.qtype == u16::from(filed.qtype)
            && usize::from(slot.key_len) == key.len()
            && usize::from(slot.id_len) == id.len()
            && slot.bytes[..key.len()] == *key
            && (id.is_empty() || slot.bytes[key.len()..key.len() + id.len()] == *id)
    }

    /// The slot of the pair at `pair` that holds what `filed` names, under any stamp.
    #[inline]
    fn find(&self, pair: usize, tag: u32, filed: &Filed<'_>) -> Option<usize> {
        if self.holds(pair, tag, filed) {
            Some(pair)
        } else if self.holds(pair + 1, tag, filed) {
            Some(pair + 1)
        } else {
            None
        }
    }

    /// The reply remembered as `filed`.
    pub fn get(&self, filed: &Filed<'_>) -> Option<Hit<'_>> {
        let (key, id, qtype) = (filed.key.full(), filed.id, u16::from(filed.qtype));
        let (pair, tag) = Self::index(key, qtype, id);
        // The slot tagged so (a reply is filed in one slot of its pair only).
        let at = if self.tags[pair] == tag {
            pair
        } else if self.tags[pair + 1] == tag {
            pair + 1
        } else {
            return None;
        };
        let slot = &self.slots[at];
        let (n, end) = (key.len(), key.len() + id.len());
        if slot.stamp != filed.stamp
            || slot.qtype != qtype
            || usize::from(slot.key_len) != n
            || usize::from(slot.id_len) != id.len()
            || slot.bytes[..n] != *key
            // Not compared when empty: `memcmp` of zero bytes at an empty slice's dangling
            // address costs a fault-suppressed masked load on some CPUs.
            || (!id.is_empty() && slot.bytes[n..end] != *id)
        {
            return None;
        }
        Some(Hit {
            authoritative: slot.authoritative,
            compact_ok: slot.compact_ok,
            counts: slot.counts,
            sections: &slot.bytes[end..end + usize::from(slot.sections_len)],
            zone: slot.zone.as_ref(),
        })
    }

    /// The slot to fill for `filed`: the first of its pair, after the two swapped unless it
    /// already holds `filed` (under an older stamp): the last reply filled stays, and so
    /// does the second slot's when it holds `filed`.
    fn slot_for(&mut self, filed: &Filed<'_>) -> &mut Slot {
        let (pair, tag) = Self::index(filed.key.full(), u16::from(filed.qtype), filed.id);
        if self.find(pair, tag, filed) != Some(pair) {
            self.slots.swap(pair, pair + 1);
            self.tags.swap(pair, pair + 1);
        }
        self.tags[pair] = tag;
        &mut self.slots[pair]
    }

    /// Remember `reply` (as encoded for a question whose wire form ends at `question_end`,
    /// its sections ending at `sections_end`) as `filed`, when `answer` is a NOERROR answer
    /// that is static or (with an identity) steered, and the reply fits every limit with
    /// any OPT record.
    pub(crate) fn put(
        &mut self,
        filed: &Filed<'_>,
        answer: &Answer<'_>,
        reply: &[u8],
        (question_end, sections_end): (usize, usize),
    ) {
        let static_answer =
            answer.decision.is_none() && answer.ecs_scope == 0 && answer.rtt_source.is_none();
        let (key, id) = (filed.key.full(), filed.id);
        // A steered answer is kept only with its identity.
        let steered = !id.is_empty();
        let Some(sections) = reply.get(question_end..sections_end) else {
            return;
        };
        if !(static_answer || steered)
            || answer.rcode != ResponseCode::NoError
            || filed.stamp.generation == 0
            || sections_end + MAX_OPT > PLAIN_UDP_LIMIT
            || key.len() + id.len() + sections.len() > SLOT_BYTES
            || reply.len() < 12
        {
            return;
        }
        let word = |at: usize| u16::from_be_bytes([reply[at], reply[at + 1]]);
        let with_opt = u16::from(sections_end < reply.len());
        let slot = self.slot_for(filed);
        slot.stamp = filed.stamp;
        slot.qtype = u16::from(filed.qtype);
        slot.key_len = key.len() as u16;
        slot.id_len = id.len() as u16;
        slot.sections_len = sections.len() as u16;
        slot.authoritative = answer.authoritative;
        slot.compact_ok = opt_compact_ok(reply, sections_end);
        slot.counts = [word(6), word(8), word(10).saturating_sub(with_opt)];
        slot.zone = answer.zone.map(|z| z.name.clone());
        let mut bytes = &mut slot.bytes[..];
        for part in [key, id, sections] {
            let (to, rest) = bytes.split_at_mut(part.len());
            to.copy_from_slice(part);
            bytes = rest;
        }
    }
}

/// Whether the OPT record at `at` in `reply` (if any) has the CO flag: the high byte of the
/// flags is the third of its TTL, which follows its root owner, type and class.
fn opt_compact_ok(reply: &[u8], at: usize) -> bool {
    reply.get(at + 7).is_some_and(|flags| flags & 0x40 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::answer::AnswerId;
    use crate::policy::Outcome;
    use hickory_proto::rr::Name;

    fn key(name: &str) -> WireKey {
        WireKey::new(&Name::from_ascii(name).unwrap())
    }

    /// A reply with the counts 1/0/1 (+ OPT), a 20-byte question and `sections` bytes of
    /// sections; returns it with (question end, sections end).
    fn reply(sections: usize) -> (Vec<u8>, (usize, usize)) {
        let mut r = vec![0, 7, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 2];
        r.extend_from_slice(&[9; 20]);
        let q = r.len();
        r.extend((0..sections).map(|i| i as u8));
        let end = r.len();
        r.extend_from_slice(&[0; 11]);
        (r, (q, end))
    }

    /// Filed as a static answer to `key`/`qtype` under zone snapshot `generation`, DO=0.
    fn at(generation: u64, key: &WireKey, qtype: RecordType) -> Filed<'_> {
        Filed::new(Stamp::unsigned(generation), key, qtype)
    }

    fn decided<'a>(service: &'a Arc<str>, addrs: &[&str]) -> Answer<'a> {
        let mut answer = Answer::new(ResponseCode::NoError, true);
        answer.decision = Some((
            service,
            crate::policy::PolicyKind::Weighted,
            Outcome::Primary,
        ));
        answer.ecs_scope = 24;
        for a in addrs {
            answer.answer.push(super::super::answer::Rr::Addr {
                ttl: 60,
                addr: a.parse().unwrap(),
            });
        }
        answer
    }

    #[test]
    fn static_answers_are_kept_per_snapshot_and_others_never() {
        let service: Arc<str> = "www".into();
        let mut memo = Memo::default();
        let (www, a) = (key("www.example.test."), RecordType::A);
        let static_answer = Answer::new(ResponseCode::NoError, true);
        let (r, ends) = reply(40);
        memo.put(&at(3, &www, a), &static_answer, &r, ends);
        let hit = memo.get(&at(3, &www, a)).expect("kept");
        assert_eq!(hit.sections, &r[ends.0..ends.1]);
        assert_eq!(hit.counts, [1, 0, 1], "the OPT record is not counted");
        assert!(hit.authoritative);
        assert!(!hit.compact_ok);
        let mut co = r.clone();
        co[ends.1 + 7] |= 0x40;
        memo.put(&at(5, &www, a), &static_answer, &co, ends);
        assert!(
            memo.get(&at(5, &www, a)).expect("kept").compact_ok,
            "CO as sent"
        );
        memo.put(&at(3, &www, a), &static_answer, &r, ends);
        assert!(memo.get(&at(4, &www, a)).is_none(), "another snapshot");
        assert!(memo.get(&at(3, &www, RecordType::AAAA)).is_none());
        assert!(memo.get(&at(3, &key("ww.example.test."), a)).is_none());

        let decided = decided(&service, &["192.0.2.1"]);
        let mut scoped = Answer::new(ResponseCode::NoError, true);
        scoped.ecs_scope = 24;
        let missing = Answer::new(ResponseCode::NXDomain, true);
        let (big, big_ends) = reply(512 - 32 - MAX_OPT + 1);
        let other = key("api.example.test.");
        for (answer, (r, ends)) in [
            (&decided, reply(40)),
            (&scoped, reply(40)),
            (&missing, reply(40)),
            (&static_answer, (big, big_ends)),
        ] {
            memo.put(&at(3, &other, a), answer, &r, ends);
            assert!(memo.get(&at(3, &other, a)).is_none());
        }
        memo.put(&at(0, &other, a), &static_answer, &r, ends);
        assert!(
            memo.get(&at(0, &other, a)).is_none(),
            "generation 0 marks empty slots"
        );
    }

    #[test]
    fn steered_answers_are_kept_per_decision_and_stamp() {
        let service: Arc<str> = "geo".into();
        let mut memo = Memo::default();
        let (geo, a) = (key("geo.example.test."), RecordType::A);
        let signed = |epoch, flags| Stamp {
            generation: 2,
            epoch,
            flags,
        };
        let (eu, us) = (
            decided(&service, &["192.0.2.1"]),
            decided(&service, &["192.0.2.2"]),
        );
        let (mut eu_id, mut us_id) = (AnswerId::new(), AnswerId::new());
        assert!(eu.identity(&mut eu_id) && us.identity(&mut us_id));
        let filed = |id, epoch, flags| Filed {
            id,
            ..Filed::new(signed(epoch, flags), &geo, a)
        };
        let ((r1, ends), (r2, _)) = (reply(40), reply(41));
        memo.put(&filed(&eu_id, 7, 1), &eu, &r1, ends);
        memo.put(&filed(&us_id, 7, 1), &us, &r2, (ends.0, ends.1 + 1));
        let hit = memo.get(&filed(&eu_id, 7, 1)).expect("kept");
        assert_eq!(hit.sections, &r1[ends.0..ends.1]);
        assert_eq!(memo.get(&filed(&us_id, 7, 1)).unwrap().sections.len(), 41);
        assert!(memo.get(&filed(&eu_id, 8, 1)).is_none(), "a newer epoch");
        assert!(memo.get(&filed(&eu_id, 7, 3)).is_none(), "CO asked");
        assert!(memo.get(&Filed::new(signed(7, 1), &geo, a)).is_none());
    }

    #[test]
    fn a_third_reply_hashed_to_a_pair_drops_the_older_one() {
        let names: Vec<WireKey> = (0..10_000)
            .map(|i| key(&format!("n{i}.example.test.")))
            .collect();
        let pair = Memo::index(names[0].full(), 1, &[]).0;
        let mut same: Vec<&WireKey> = names
            .iter()
            .filter(|k| Memo::index(k.full(), 1, &[]).0 == pair)
            .collect();
        assert!(same.len() >= 3, "three colliding names among 10,000");
        same.truncate(3);
        let mut memo = Memo::default();
        let answer = Answer::new(ResponseCode::NoError, true);
        let (r, ends) = reply(30);
        let a = RecordType::A;
        for k in &same[..2] {
            memo.put(&at(1, k, a), &answer, &r, ends);
        }
        assert!(same[..2].iter().all(|k| memo.get(&at(1, k, a)).is_some()));
        // Refiled under a new stamp, the first stays where it is; the third drops the second.
        memo.put(&at(2, same[0], a), &answer, &r, ends);
        memo.put(&at(1, same[2], a), &answer, &r, ends);
        assert!(memo.get(&at(2, same[0], a)).is_some());
        assert!(memo.get(&at(1, same[1], a)).is_none());
        assert!(memo.get(&at(1, same[2], a)).is_some());
    }
}
