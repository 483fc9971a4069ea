//! Helpers shared by the benchmarks (`benches/*.rs`) and the measuring examples
//! (`examples/*.rs`): the in-repo fixtures and the blocks they hold, seeded synthetic
//! columns in the shapes that matter to each decoder, synthetic shards written with
//! `influx_tsm_shard::testkit`, and a sampler of the process's anonymous memory.
//!
//! Nothing here is timed; it prepares inputs and checks results.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod data;
pub mod fixture;
pub mod mem;
pub mod synth;
