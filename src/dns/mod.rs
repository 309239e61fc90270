//! DNS: strict query parsing, the pure `resolve()`, response encoding, and the socket loops.

pub mod answer;
pub mod client_subnet;
pub(crate) mod explain;
pub mod handler;
pub mod memo;
pub mod node;
pub mod qname;
pub mod request;
pub mod resolve;
pub(crate) mod response;
pub(crate) mod rrl;
pub(crate) mod server;
pub(crate) mod service;
pub mod sign;
pub mod udp;
pub mod view;
pub mod wire;

pub use handler::{Handler, Transport};
pub use view::Snapshots;
