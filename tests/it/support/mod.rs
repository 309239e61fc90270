//! The one set of helpers every integration test module shares: the server and DNS to it,
//! health backends, the admin API over HTTP, polling, skips, private network namespaces.

pub mod backend;
pub mod dns;
pub mod http;
pub mod netns;
pub mod skip;
pub mod wait;

pub use backend::backend;
pub use dns::*;
pub use skip::{need_tool, skip};
pub use wait::eventually;
