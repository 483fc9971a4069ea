//! A bucket (S3, GCS, Azure) behind a local staging folder: files are written whole into
//! the folder, uploaded, then deleted from it; state files are kept in both, so that the
//! folder's logic (resume, records) works on the bucket's state.

use std::path::Path;
use std::sync::Arc;

use crate::destination::publish::{Access, Destination};
use crate::destination::remote::Remote;
use crate::destination::{OPTIONS_FILE, STATE_DIR};
use crate::error::{Error, OutDirError, Result};
use crate::plan::options::OutMode;

/// An export uploaded into `remote`.
#[derive(Debug)]
pub(crate) struct Bucket {
    remote: Arc<Remote>,
}

impl Bucket {
    pub(crate) fn new(remote: Arc<Remote>) -> Bucket {
        Bucket { remote }
    }
}

impl Destination for Bucket {
    /// As a local folder is readied: a fresh export needs an empty prefix; an overwrite
    /// deletes an earlier export (only one influx-tsm wrote); a resume aborts the uploads
    /// the earlier run left and brings its state into the staging folder, where the local
    /// logic takes over.
    fn prepare(&self, mode: OutMode, folder: &Path, access: Access) -> Result<()> {
        let remote = &self.remote;
        let (write, shared, cluster) = (access.write, access.shared, access.cluster);
        let url = remote.url();
        let not_empty = remote.check()?;
        let ours = remote.has_state()?;
        match mode {
            // Nothing there yet: every mode starts afresh (a resumed partition's first run).
            _ if !not_empty => Ok(()),
            // Partitions share the prefix: another one started it (the options are compared
            // when each writes its own).
            // A node of a cluster export needs the others' state: their registrations, the
            // cluster's tables and shares, the shards they finished.
            OutMode::Fresh if shared && ours && cluster => remote.download_state(folder),
            OutMode::Fresh if shared && ours => Ok(()),
            OutMode::Fresh => Err(Error::OutDir(OutDirError::NotEmpty {
                out: url.to_string(),
            })),
            OutMode::Overwrite | OutMode::Resume if !ours => {
                Err(Error::OutDir(OutDirError::NotOursInBucket {
                    url: url.to_string(),
                    options_file: format!("{STATE_DIR}/{OPTIONS_FILE}"),
                }))
            }
            OutMode::Overwrite => {
                if write && ours {
                    remote.abort_unfinished_uploads()?;
                    remote.delete_all()?;
                }
                Ok(())
            }
            OutMode::Resume => {
                // Processes sharing the prefix may be uploading now: each aborts only the
                // uploads of the shards it is about to write (`OutDir::remove_group_files`).
                if write && !shared {
                    remote.abort_unfinished_uploads()?;
                }
                remote.download_state(folder)
            }
        }
    }

    fn publish_file(&self, relative: &str, bytes: &[u8]) -> Result<()> {
        self.remote.put_small(relative, bytes.to_vec())
    }

    fn publish_data(&self, folder: &Path, files: &[&str]) -> Result<bool> {
        for file in files {
            self.remote.upload(&folder.join(file), file)?;
        }
        Ok(true)
    }

    fn refresh_state(&self, folder: &Path) -> Result<()> {
        self.remote.download_state(folder)
    }

    fn has_root_file(&self, _folder: &Path, name: &str) -> Result<bool> {
        self.remote.exists(name)
    }

    fn abandon_partial(&self, of: &dyn Fn(&str) -> bool) -> Result<()> {
        self.remote.abort_uploads_of(of).map(|_| ())
    }
}
