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
//! use influx_tsm_shard::source::{FileSource, ShardFiles, TsmSource};
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

use crate::Result;
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

    /// Maps the files of the shard at `location` as they are at one moment, on a folder a
    /// running influxd may be changing; returns the files, their listing, and how many
    /// listings were given up because the files changed under them.
    ///
    /// The WAL segments are listed and mapped before the TSM files are listed, everything
    /// listed is mapped (a mapped file's bytes stay readable after the server removes
    /// it), and the TSM folder is listed again after mapping. That gives one moment of the shard because of the
    /// order in which influxd changes its files (upstream v1.8.10, `tsdb/engine/tsm1`):
    ///
    /// - A snapshot (`Engine.WriteSnapshot` → `compactCache`) writes the cache as a new
    ///   TSM file of a new generation (`Compactor.WriteSnapshot`, `FileStore.Replace`
    ///   renaming the `.tmp` into place) *before* it removes the WAL segments it came from
    ///   (`WAL.Remove` of the closed segments). A segment listed here and removed since is
    ///   a failed map: listed again. A segment removed before the WAL listing has its data
    ///   in a TSM file that was in place before the TSM listing began.
    /// - A compaction (`Compactor.writeNewFiles`) writes files named after its inputs'
    ///   largest generation with a larger sequence and renames them in, then removes the
    ///   inputs (`FileStore.Replace`). Inputs listed and removed since are failed maps; a
    ///   listing that saw neither the inputs (removed while the folder was read) nor the
    ///   output (added while it was read) is caught by the second listing: a TSM file not
    ///   listed whose generation is not newer than every listed one. A newer generation is
    ///   a later snapshot of WAL data already mapped (or written after), so it is left out.
    /// - Seeing both a compaction's inputs and its output is harmless: the merged view
    ///   keeps each point once, with the newest file's value, which is the same.
    ///
    /// A listing that failed is made again after a wait that doubles from 20 ms, at most
    /// `attempts` times in all.
    ///
    /// # Errors
    /// [`ErrorKind::Changing`](crate::ErrorKind::Changing) naming the shard's folder
    /// when no listing of `attempts` could be mapped whole; other I/O errors as they come,
    /// a vanished shard folder among them ([`crate::Error::is_vanished`]).
    pub fn map_live(
        location: &ShardLocation,
        attempts: u32,
    ) -> Result<(ShardFiles, ShardLocation, u32)> {
        ShardFiles::map_live_watched(location, attempts, &mut |_| {})
    }

    /// [`ShardFiles::map_live`], calling `watch` between the steps of each attempt (a
    /// test changes the folder there, as a running influxd would).
    ///
    /// # Errors
    /// As [`ShardFiles::map_live`].
    pub fn map_live_watched(
        location: &ShardLocation,
        attempts: u32,
        watch: &mut dyn FnMut(ListingStep),
    ) -> Result<(ShardFiles, ShardLocation, u32)> {
        let mut wait = std::time::Duration::from_millis(20);
        let attempts = attempts.max(1);
        for attempt in 0..attempts {
            match map_listed(location, watch) {
                Ok(Some((files, listed))) => return Ok((files, listed, attempt)),
                Ok(None) => {}
                // The shard's folder itself is gone: not a change to wait out.
                Err(err) if err.is_vanished() && !location.data_dir.exists() => return Err(err),
                Err(err) if err.is_vanished() => {}
                Err(err) => return Err(err),
            }
            if attempt + 1 < attempts {
                std::thread::sleep(wait);
                wait *= 2;
            }
        }
        Err(crate::Error::new(crate::ErrorKind::Changing { attempts }).in_file(&location.data_dir))
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

/// A step of one attempt of [`ShardFiles::map_live_watched`], just done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListingStep {
    /// The WAL segments were listed.
    WalListed,
    /// The TSM and tombstone files were listed.
    TsmListed,
    /// This many files of the listing are mapped (the WAL segments, mapped as soon as they
    /// are listed, then the TSM files, each followed by its tombstone).
    Mapped(usize),
    /// Everything listed is mapped; the TSM folder is listed again next.
    AllMapped,
}

/// One attempt of [`ShardFiles::map_live`]: the files of one listing, mapped; `None` when
/// a second listing shows that the first may have missed a compaction's output.
fn map_listed(
    location: &ShardLocation,
    watch: &mut dyn FnMut(ListingStep),
) -> Result<Option<(ShardFiles, ShardLocation)>> {
    let wal_segments = crate::layout::relist_wal(location)?;
    watch(ListingStep::WalListed);
    // Mapped at once: a snapshot removing them from here on cannot take their data.
    let mut mapped = 0;
    let mut wal = Vec::with_capacity(wal_segments.len());
    for path in &wal_segments {
        wal.push(FileSource::map(path)?);
        mapped += 1;
        watch(ListingStep::Mapped(mapped));
    }
    let mut listed = crate::layout::relist_tsm(location)?;
    listed.wal_segments = wal_segments;
    watch(ListingStep::TsmListed);
    let mut files = ShardFiles::new(&listed.data_dir);
    files.wal_segments = wal;
    for tsm in &listed.tsm_files {
        let mut source = TsmSource::new(FileSource::map(&tsm.path)?, tsm.generation, tsm.sequence);
        mapped += 1;
        watch(ListingStep::Mapped(mapped));
        if let Some(path) = &tsm.tombstone {
            source = source.with_tombstone(FileSource::map(path)?);
            mapped += 1;
            watch(ListingStep::Mapped(mapped));
        }
        files.tsm_files.push(source);
    }
    watch(ListingStep::AllMapped);
    let newest = listed.tsm_files.iter().map(|f| f.generation).max();
    let missed =
        crate::layout::tsm_names(&listed.data_dir)?
            .into_iter()
            .any(|(generation, sequence)| {
                newest.is_some_and(|newest| generation <= newest)
                    && !listed
                        .tsm_files
                        .iter()
                        .any(|f| (f.generation, f.sequence) == (generation, sequence))
            });
    Ok((!missed).then_some((files, listed)))
}
