//! The UDP query path allocates nothing per query: every kind of question the reference
//! zone answers, counted by a global allocator (no metrics recorder installed, so only
//! Meridian's own code is counted; `query_allocations_exported.rs` adds the recorder).

mod alloc_support;
mod support;

use alloc_support::{Thread, allocations, handler, questions};

#[test]
fn answering_allocates_nothing_per_query() {
    let handler = handler();
    let questions = questions();
    let mut thread = Thread::new(&handler);
    // Warm-up: metric handles, the memo, the decoded-GeoIP cache, the weighted draw.
    assert_eq!(thread.rounds(&questions, 64), 64 * questions.len());
    // Each question on its own, then all of them interleaved.
    let mut allocating = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let before = allocations();
        for _ in 0..64 {
            thread.ask(q);
        }
        let n = allocations() - before;
        if n > 0 {
            allocating.push(format!("question {i}: {n} allocations in 64 replies"));
        }
    }
    assert!(allocating.is_empty(), "{allocating:#?}");
    let before = allocations();
    let replies = thread.rounds(&questions, 256);
    let allocated = allocations() - before;
    assert_eq!(replies, 256 * questions.len());
    assert_eq!(
        allocated, 0,
        "{allocated} allocations over {replies} queries"
    );
}
