//! Object storage when the crate is built without its `object-store` feature: a
//! [`Remote`] that cannot be made, so every branch that would upload is dead code the
//! compiler removes, and the local export has one code path either way. An `--out` URL
//! needs the feature (the `influx-tsm` binary and the Python package have it).

use std::path::Path;

use crate::error::Result;

pub use crate::destination::is_url;

/// A bucket an export is written into: without the `object-store` feature there is none,
/// and this type has no value.
#[derive(Debug)]
pub enum Remote {}

impl Remote {
    /// The bucket's URL.
    pub fn url(&self) -> &str {
        match *self {}
    }

    /// Whether the bucket holds anything under the prefix.
    pub fn check(&self) -> Result<bool> {
        match *self {}
    }

    /// Whether the bucket holds an export's state.
    pub fn has_state(&self) -> Result<bool> {
        match *self {}
    }

    /// Whether the bucket has `relative`.
    pub fn exists(&self, _relative: &str) -> Result<bool> {
        match *self {}
    }

    /// Downloads the state records into `staging`.
    pub fn download_state(&self, _staging: &Path) -> Result<()> {
        match *self {}
    }

    /// Deletes everything under the prefix.
    pub fn delete_all(&self) -> Result<()> {
        match *self {}
    }

    /// Aborts every unfinished upload under the prefix.
    pub fn abort_unfinished_uploads(&self) -> Result<usize> {
        match *self {}
    }

    /// Aborts the unfinished uploads of the files `of` selects.
    pub fn abort_uploads_of(&self, _of: impl Fn(&str) -> bool) -> Result<usize> {
        match *self {}
    }

    /// Writes a small object.
    pub fn put_small(&self, _relative: &str, _bytes: Vec<u8>) -> Result<()> {
        match *self {}
    }

    /// Uploads a local file.
    pub fn upload(&self, _local: &Path, _relative: &str) -> Result<()> {
        match *self {}
    }
}
