//! Read-only memory maps of storage files: the crate's only `unsafe` code.
//!
//! Decoding works on `&[u8]`; this module turns a path into one without reading the file
//! into memory, so a 2 GiB TSM file costs address space, not heap, and the page cache
//! serves repeated reads.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::{Error, Result};

/// A file mapped read-only for as long as this value lives.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    // `None` for an empty file: mapping zero bytes is an error on most platforms.
    map: Option<Mmap>,
}

impl MappedFile {
    /// Maps `path` read-only.
    ///
    /// # Errors
    /// When the file cannot be opened, its size read, or mapped; the error names the path.
    pub fn open(path: &Path) -> Result<MappedFile> {
        let file = File::open(path).map_err(|e| Error::from(e).in_file(path))?;
        MappedFile::map_file(&file, path)
    }

    /// Maps an open `file` read-only (an unlinked temporary file, say), named `path` in
    /// errors. The mapping stays valid after `file` is closed.
    ///
    /// # Errors
    /// When the file's size cannot be read or it cannot be mapped.
    pub fn map_file(file: &File, path: &Path) -> Result<MappedFile> {
        let len = file
            .metadata()
            .map_err(|e| Error::from(e).in_file(path))?
            .len();
        let map = if len == 0 {
            None
        } else {
            // SAFETY: memmap2 requires that the file not be modified or truncated while
            // mapped, or reads may see changing bytes or fault (SIGBUS). This tool reads
            // copies of InfluxDB directories and never writes to its input; the contract
            // for callers (documented on the crate) is to not point it at the files of a
            // running server, and a caller mapping its own temporary file stops writing
            // to it first. Every read of the mapping goes through bounds-checked slice
            // access, so even changing bytes cannot cause out-of-bounds reads.
            #[allow(unsafe_code)]
            let map = unsafe { Mmap::map(file) }.map_err(|e| Error::from(e).in_file(path))?;
            Some(map)
        };
        Ok(MappedFile {
            path: path.to_path_buf(),
            map,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
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

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}
