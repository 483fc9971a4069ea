//! Caps on sizes read from files.
//!
//! Every count and length in a TSM, WAL or tombstone file is a claim by the file. Before
//! the decoder allocates for it, the claim is checked against these limits; exceeding one
//! is a [`crate::ErrorKind::LimitExceeded`] error, never an allocation failure.

/// Caps on sizes read from files. The defaults are far above anything InfluxDB writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Values in one TSM block. InfluxDB writes 1,000 (10,000 in 1.12+ aggressive
    /// compactions). Default: 1,048,576.
    pub max_block_values: usize,
    /// Decompressed bytes of one string block or one WAL entry or one tombstone file,
    /// and the size of a tombstone file on disk (tombstone files are mapped, never read
    /// whole; TSM files and WAL segments are mapped too and need no cap). The WAL
    /// writer caps an entry's payload well below this. Default: 1 GiB.
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_block_values: 1 << 20,
            max_decompressed_bytes: 1 << 30,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_block_values`].
    pub fn max_block_values(mut self, n: usize) -> Limits {
        self.max_block_values = n;
        self
    }

    /// Sets [`Limits::max_decompressed_bytes`].
    pub fn max_decompressed_bytes(mut self, n: usize) -> Limits {
        self.max_decompressed_bytes = n;
        self
    }
}
