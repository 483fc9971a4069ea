//! Where files go and what says they are done: the output folder (local, or a staging
//! folder for object storage), its state records for `--resume`, and `manifest.json`.

pub mod atomic;
pub(crate) mod earlier;
pub mod manifest;
pub mod records;
pub mod remote;
pub mod state;

/// The state folder inside the output directory.
pub const STATE_DIR: &str = ".influx-tsm";
