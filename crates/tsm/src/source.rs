//! Where a shard's bytes come from: files mapped from a directory (what
//! [`Shard::open_with`](crate::shard::Shard::open_with) does), or bytes the caller already
//! holds: a decompressed backup, an object-store download, a test's buffers.
//!
//! A [`ShardFiles`] lists a shard's TSM files (each with its generation, sequence and
//! optional tombstone file) and WAL segments; each file is a [`FileSource`]: a name for
//! error messages and a shared owner of its bytes. [`Shard::open_from`] keeps the owners
//! of the TSM files and decodes straight from their bytes, so nothing is copied.
//!
//! [`Shard::open_from`]: crate::shard::Shard::open_from
//!
//! ```
//! use tsm::source::{FileSource, ShardFiles, TsmSource};
//!
//! let files = ShardFiles::new("backup/db/rp/7")
//!     .tsm(TsmSource::new(FileSource::new("000000001-000000001.tsm", vec![0u8; 16]), 1, 1))
//!     .wal(FileSource::new("_00001.wal", Vec::new()));
//! assert_eq!(files.tsm_files[0].file.name().to_str(), Some("000000001-000000001.tsm"));
//! assert_eq!(files.tsm_files[0].file.len(), 16);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Result;
use crate::layout::{ShardLocation, TsmFileLocation};
use crate::mmap::MappedFile;

/// A shared owner of one file's bytes: a [`MappedFile`], a `Vec<u8>`, a `bytes::Bytes`,
/// anything that lends out a `[u8]` and can move between threads.
///
/// The owner must lend out the same bytes every time it is asked; the shard re-reads
/// them while streaming (a changing owner yields errors, never a panic).
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// One storage file: a name for error messages and the bytes.
#[derive(Clone)]
pub struct FileSource {
    name: PathBuf,
    bytes: SharedBytes,
}

impl FileSource {
    /// A file named `name` (a path or any label: errors show it where they would show a
    /// path) holding `bytes`.
    pub fn new(name: impl Into<PathBuf>, bytes: impl AsRef<[u8]> + Send + Sync + 'static) -> Self {
        FileSource::shared(name, Arc::new(bytes))
    }

    /// Like [`FileSource::new`], for bytes already shared with others.
    pub fn shared(name: impl Into<PathBuf>, bytes: SharedBytes) -> Self {
        FileSource {
            name: name.into(),
            bytes,
        }
    }

    /// Maps the file at `path` read-only, named by its path.
    ///
    /// # Errors
    /// When the file cannot be opened or mapped; the error names the path.
    pub fn map(path: &Path) -> Result<Self> {
        Ok(FileSource::new(path, MappedFile::open(path)?))
    }

    /// The name errors give for this file.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        // `Arc<T>` is itself `AsRef<T>`: name the trait's target to reach the owner's bytes.
        AsRef::<[u8]>::as_ref(&*self.bytes)
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("name", &self.name)
            .field("len", &self.len())
            .finish()
    }
}

/// A TSM file of a shard, where it sits among the others, and its tombstone file.
#[derive(Clone, Debug)]
pub struct TsmSource {
    /// The `.tsm` file.
    pub file: FileSource,
    /// Generation (from the file name `GGGGGGGGG-SSSSSSSSS.tsm`); newer data has a larger
    /// (generation, sequence), and wins equal timestamps.
    pub generation: u64,
    /// Sequence (from the file name).
    pub sequence: u64,
    /// The `.tombstone` file with the same stem, when there is one.
    pub tombstone: Option<FileSource>,
}

impl TsmSource {
    /// A TSM file without tombstones.
    pub fn new(file: FileSource, generation: u64, sequence: u64) -> Self {
        TsmSource {
            file,
            generation,
            sequence,
            tombstone: None,
        }
    }

    /// Sets [`TsmSource::tombstone`].
    pub fn with_tombstone(mut self, tombstone: FileSource) -> Self {
        self.tombstone = Some(tombstone);
        self
    }
}

/// The files of one shard, ready for [`Shard::open_from`](crate::shard::Shard::open_from).
#[derive(Clone, Debug, Default)]
pub struct ShardFiles {
    /// Names the shard in errors that concern no single file (a key without a field, a
    /// field of two types); a mapped shard uses its data directory.
    pub name: PathBuf,
    /// The TSM files in any order: the shard orders them by (generation, sequence), keeping
    /// the given order between equal ones.
    pub tsm_files: Vec<TsmSource>,
    /// The WAL segments, in segment-id order (later entries win).
    pub wal_segments: Vec<FileSource>,
}

impl ShardFiles {
    /// A shard named `name` with no files yet.
    pub fn new(name: impl Into<PathBuf>) -> Self {
        ShardFiles {
            name: name.into(),
            ..ShardFiles::default()
        }
    }

    /// Adds a TSM file.
    pub fn tsm(mut self, file: TsmSource) -> Self {
        self.tsm_files.push(file);
        self
    }

    /// Adds a WAL segment after the ones already added.
    pub fn wal(mut self, segment: FileSource) -> Self {
        self.wal_segments.push(segment);
        self
    }

    /// Maps every file of `location` read-only.
    ///
    /// # Errors
    /// When a file cannot be opened or mapped; the error names its path.
    pub fn map(location: &ShardLocation) -> Result<Self> {
        let mut files = ShardFiles::new(&location.data_dir);
        for tsm in &location.tsm_files {
            let mut source =
                TsmSource::new(FileSource::map(&tsm.path)?, tsm.generation, tsm.sequence);
            if let Some(path) = &tsm.tombstone {
                source = source.with_tombstone(FileSource::map(path)?);
            }
            files.tsm_files.push(source);
        }
        for path in &location.wal_segments {
            files.wal_segments.push(FileSource::map(path)?);
        }
        Ok(files)
    }

    /// A [`ShardLocation`] naming these files, for a shard opened from them: the names
    /// stand in for paths; database and retention policy are empty, the id is 0.
    pub(crate) fn location(&self) -> ShardLocation {
        ShardLocation {
            database: String::new(),
            retention_policy: String::new(),
            id: 0,
            data_dir: self.name.clone(),
            wal_dir: None,
            tsm_files: self
                .tsm_files
                .iter()
                .map(|t| TsmFileLocation {
                    path: t.file.name().to_path_buf(),
                    generation: t.generation,
                    sequence: t.sequence,
                    tombstone: t.tombstone.as_ref().map(|s| s.name().to_path_buf()),
                })
                .collect(),
            wal_segments: self
                .wal_segments
                .iter()
                .map(|s| s.name().to_path_buf())
                .collect(),
        }
    }
}
