//! Load-aware steering end to end: load reported through the admin API, HTTP headers, JSON
//! bodies, agent replies and a real Prometheus moves the expected share of a few thousand
//! ECS client networks, the same ones each time, and brings them back.

mod api;
mod lab;
mod probes;
mod prometheus;
