//! The single integration-test binary of the `influx-tsm` command.

mod common;

mod cli;
mod end_to_end;
mod naming;
