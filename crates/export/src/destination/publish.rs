//! Where finished files end up: the output folder itself, or a bucket the folder stages
//! files for. [`OutDir`](crate::destination::state::OutDir) writes every file, record and
//! state file into its folder first, whole; a [`Destination`] then makes it visible where
//! the export goes. The local folder needs nothing more; a bucket uploads.

use std::fmt::Debug;
use std::path::Path;

use crate::error::Result;
use crate::plan::options::OutMode;

/// What an output does beyond the files [`OutDir`](crate::destination::state::OutDir)
/// writes into its folder.
pub(crate) trait Destination: Debug + Send + Sync {
    /// Readies the destination for `mode` before the folder is looked at: checks it is
    /// empty or ours, deletes an earlier export, brings an earlier run's state into the
    /// folder. `write` is false for a dry run, which changes nothing.
    fn prepare(&self, mode: OutMode, folder: &Path, access: Access) -> Result<()>;

    /// Publishes a state or root file just written whole at `relative` in the folder.
    fn publish_file(&self, relative: &str, bytes: &[u8]) -> Result<()>;

    /// Publishes a finished group's data files (relative paths in the folder), before its
    /// record says it is finished; `true` when the folder's copies are only staged and
    /// are to be deleted once the record is published.
    fn publish_data(&self, folder: &Path, files: &[&str]) -> Result<bool>;

    /// Brings into the folder the state records other processes sharing the output
    /// published.
    fn refresh_state(&self, folder: &Path) -> Result<()>;

    /// Whether the output has the file `name` at its root.
    fn has_root_file(&self, folder: &Path, name: &str) -> Result<bool>;

    /// Abandons the unfinished uploads of the files `of` selects (relative paths), which a
    /// killed process sharing the output may have left.
    fn abandon_partial(&self, of: &dyn Fn(&str) -> bool) -> Result<()>;
}

/// How a run uses its output.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Access {
    /// False for a dry run: nothing is changed.
    pub(crate) write: bool,
    /// Other partitions or nodes write into the same output.
    pub(crate) shared: bool,
    /// A node of a cluster export.
    pub(crate) cluster: bool,
}

/// A local folder: the files are where they were written.
#[derive(Debug)]
pub(crate) struct LocalFolder;

impl Destination for LocalFolder {
    fn prepare(&self, _mode: OutMode, _folder: &Path, _access: Access) -> Result<()> {
        Ok(())
    }

    fn publish_file(&self, _relative: &str, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }

    fn publish_data(&self, _folder: &Path, _files: &[&str]) -> Result<bool> {
        Ok(false)
    }

    fn refresh_state(&self, _folder: &Path) -> Result<()> {
        Ok(())
    }

    fn has_root_file(&self, folder: &Path, name: &str) -> Result<bool> {
        Ok(folder.join(name).is_file())
    }

    fn abandon_partial(&self, _of: &dyn Fn(&str) -> bool) -> Result<()> {
        Ok(())
    }
}
