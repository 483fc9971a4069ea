//! The single integration-test binary of the `influx-tsm` command.

mod common;

mod azure;
mod backup;
mod cli;
mod cluster;
mod damaged;
mod duckdb;
mod end_to_end;
mod hostile;
mod interrupt;
mod lp;
mod partition;
mod readers;
mod s3;
mod tables;
mod verify;
