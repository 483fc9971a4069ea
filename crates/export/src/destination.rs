//! Where files go and what says they are done: the output folder (local, or a staging
//! folder for object storage), its state records for `--resume`, and `manifest.json`.

pub mod atomic;
mod bucket;
pub(crate) mod earlier;
pub mod manifest;
pub(crate) mod publish;
pub mod records;
#[cfg(feature = "object-store")]
pub mod remote;
// Without the feature, the same API over a `Remote` that cannot exist: the rest of the
// crate keeps one code path, and the compiler removes the remote branches.
#[cfg(not(feature = "object-store"))]
#[path = "destination/remote_off.rs"]
pub mod remote;
pub mod state;

/// The export's options in the state folder: what a resume must match.
pub(crate) const OPTIONS_FILE: &str = "options.json";

/// The state folder inside the output directory.
pub const STATE_DIR: &str = ".influx-tsm";

/// Whether `out` names an object store rather than a local folder: `scheme://...`.
pub fn is_url(out: &str) -> bool {
    out.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
    })
}
