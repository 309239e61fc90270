//! The DNS wire path as a whole: replies equal to the reference resolver's, properties that hold for any packet, and bounded fuzz loops; the last two share the fuzz crate's fixture and oracle.

mod equivalence;
#[path = "../../../fuzz/src/fixture.rs"]
mod fixture;
mod fuzz_loops;
#[path = "../../../fuzz/src/oracle.rs"]
mod oracle;
mod properties;
