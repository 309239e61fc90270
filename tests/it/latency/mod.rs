//! Latency steering: the agent's probes, measured RTTs reaching the server, and their operations (import, state file, views).

mod agent;
mod lab;
mod neighbours;
mod ops;
mod steering;
