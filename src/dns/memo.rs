//! Replies to static names remembered by a UDP socket thread: the encoded sections after the question, per name and type, for one zone snapshot.
//!
//! A NOERROR answer that no policy decided (no service decision, ECS scope 0) depends only
//! on the zone snapshot, the question name (case aside: pointers in the sections refer to
//! offsets in the question, which are the same in any case) and the type. Such a reply's
//! sections are kept in a fixed table of slots, direct-mapped by a hash of name and type,
//! and the next query for them copies the sections instead of resolving and encoding
//! again; the header, the question in the client's case and the OPT record are still
//! written per query (with the CO flag as the remembered reply had it). Only replies that fit the smallest UDP limit with the longest OPT
//! are kept, so a remembered reply is never truncated. The table is allocated once per
//! thread; a slot is overwritten by the next name hashed to it, and every slot filled
//! under an older zone snapshot is ignored. Names that get NXDOMAIN are not kept: a flood
//! of random names would only churn the table.

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
/// Bytes of a slot: the name's key, then the sections.
const SLOT_BYTES: usize = 464;

/// One remembered reply.
struct Slot {
    /// The zone snapshot generation it was filled under (0: empty).
    generation: u64,
    qtype: u16,
    key_len: u16,
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
        generation: 0,
        qtype: 0,
        key_len: 0,
        sections_len: 0,
        authoritative: false,
        compact_ok: false,
        counts: [0; 3],
        zone: None,
        bytes: [0; SLOT_BYTES],
    };

    fn key(&self) -> &[u8] {
        &self.bytes[..usize::from(self.key_len)]
    }
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
    /// The slot for `key`/`qtype` and the tag it holds when it remembers them (never 0).
    fn index(key: &[u8], qtype: u16) -> (usize, u32) {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        qtype.hash(&mut h);
        let hash = h.finish();
        ((hash as usize) & (SLOTS - 1), (hash >> 32) as u32 | 1)
    }

    /// The reply remembered for `key`/`qtype` under zone snapshot `generation`.
    pub fn get(&self, generation: u64, key: &WireKey, qtype: RecordType) -> Option<Hit<'_>> {
        let (key, qtype) = (key.full(), u16::from(qtype));
        let (at, tag) = Self::index(key, qtype);
        if self.tags[at] != tag {
            return None;
        }
        let slot = &self.slots[at];
        if slot.generation != generation || slot.qtype != qtype || slot.key() != key {
            return None;
        }
        let start = key.len();
        Some(Hit {
            authoritative: slot.authoritative,
            compact_ok: slot.compact_ok,
            counts: slot.counts,
            sections: &slot.bytes[start..start + usize::from(slot.sections_len)],
            zone: slot.zone.as_ref(),
        })
    }

    /// Remember `reply` (as encoded for a question whose wire form ends at `question_end`,
    /// its sections ending at `sections_end`) when `answer` is a static NOERROR answer and
    /// the reply fits every limit with any OPT record.
    pub(crate) fn put(
        &mut self,
        generation: u64,
        key: &WireKey,
        qtype: RecordType,
        answer: &Answer<'_>,
        reply: &[u8],
        (question_end, sections_end): (usize, usize),
    ) {
        let static_answer = answer.decision.is_none()
            && answer.ecs_scope == 0
            && answer.rtt_source.is_none()
            && answer.rcode == ResponseCode::NoError;
        let key = key.full();
        let Some(sections) = reply.get(question_end..sections_end) else {
            return;
        };
        if !static_answer
            || generation == 0
            || sections_end + MAX_OPT > PLAIN_UDP_LIMIT
            || key.len() + sections.len() > SLOT_BYTES
            || reply.len() < 12
        {
            return;
        }
        let word = |at: usize| u16::from_be_bytes([reply[at], reply[at + 1]]);
        let with_opt = u16::from(sections_end < reply.len());
        let qtype = u16::from(qtype);
        let (at, tag) = Self::index(key, qtype);
        self.tags[at] = tag;
        let slot = &mut self.slots[at];
        slot.generation = generation;
        slot.qtype = qtype;
        slot.key_len = key.len() as u16;
        slot.sections_len = sections.len() as u16;
        slot.authoritative = answer.authoritative;
        slot.compact_ok = opt_compact_ok(reply, sections_end);
        slot.counts = [word(6), word(8), word(10).saturating_sub(with_opt)];
        slot.zone = answer.zone.map(|z| z.name.clone());
        slot.bytes[..key.len()].copy_from_slice(key);
        slot.bytes[key.len()..key.len() + sections.len()].copy_from_slice(sections);
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

    #[test]
    fn static_answers_are_kept_per_snapshot_and_others_never() {
        let service: Arc<str> = "www".into();
        let mut memo = Memo::default();
        let (www, a) = (key("www.example.test."), RecordType::A);
        let static_answer = Answer::new(ResponseCode::NoError, true);
        let (r, at) = reply(40);
        memo.put(3, &www, a, &static_answer, &r, at);
        let hit = memo.get(3, &www, a).expect("kept");
        assert_eq!(hit.sections, &r[at.0..at.1]);
        assert_eq!(hit.counts, [1, 0, 1], "the OPT record is not counted");
        assert!(hit.authoritative);
        assert!(!hit.compact_ok);
        let mut co = r.clone();
        co[at.1 + 7] |= 0x40;
        memo.put(5, &www, a, &static_answer, &co, at);
        assert!(memo.get(5, &www, a).expect("kept").compact_ok, "CO as sent");
        memo.put(3, &www, a, &static_answer, &r, at);
        assert!(memo.get(4, &www, a).is_none(), "another snapshot");
        assert!(memo.get(3, &www, RecordType::AAAA).is_none());
        assert!(memo.get(3, &key("ww.example.test."), a).is_none());

        let mut decided = Answer::new(ResponseCode::NoError, true);
        decided.decision = Some((
            &service,
            crate::policy::PolicyKind::Weighted,
            Outcome::Primary,
        ));
        let mut scoped = Answer::new(ResponseCode::NoError, true);
        scoped.ecs_scope = 24;
        let missing = Answer::new(ResponseCode::NXDomain, true);
        let (big, big_at) = reply(512 - 32 - MAX_OPT + 1);
        let other = key("api.example.test.");
        for (answer, (r, at)) in [
            (&decided, reply(40)),
            (&scoped, reply(40)),
            (&missing, reply(40)),
            (&static_answer, (big, big_at)),
        ] {
            memo.put(3, &other, a, answer, &r, at);
            assert!(memo.get(3, &other, a).is_none());
        }
        memo.put(0, &other, a, &static_answer, &r, at);
        assert!(
            memo.get(0, &other, a).is_none(),
            "generation 0 marks empty slots"
        );
    }

    #[test]
    fn a_name_hashed_to_a_taken_slot_replaces_its_reply() {
        let first = key("n0.example.test.");
        let slot = Memo::index(first.full(), 1).0;
        let second = (1..10_000)
            .map(|i| key(&format!("n{i}.example.test.")))
            .find(|k| Memo::index(k.full(), 1).0 == slot)
            .expect("a colliding name among 10,000");
        let mut memo = Memo::default();
        let answer = Answer::new(ResponseCode::NoError, true);
        let (r, at) = reply(30);
        memo.put(1, &first, RecordType::A, &answer, &r, at);
        memo.put(1, &second, RecordType::A, &answer, &r, at);
        assert!(memo.get(1, &first, RecordType::A).is_none());
        assert!(memo.get(1, &second, RecordType::A).is_some());
    }
}
