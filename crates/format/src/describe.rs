//! What `dump` shows of a file, read from its bytes: a TSM block's checksum and headers, a
//! TSM index's totals, a tombstone file's version. Pure over `&[u8]`; the caller walks the
//! index (or the WAL, or the tombstone records) and prints.

use crate::block::decode_block;
use crate::block_info::BlockInfo;
use crate::file::{BlockEntry, IndexEntry, TsmFile};
use crate::format::{BLOCK_CRC_LEN, tombstone_header};
use crate::limits::Limits;
use crate::values::Values;
use crate::{ErrorKind, Result};

/// A block's CRC-32 as stored before it and as computed over its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc {
    /// The CRC written before the block.
    pub stored: u32,
    /// The CRC of the block's bytes as read.
    pub computed: u32,
}

impl Crc {
    /// Whether the block's bytes are what was written.
    pub fn is_ok(self) -> bool {
        self.stored == self.computed
    }
}

/// One block of a TSM file, located and checked but not decoded.
#[derive(Clone, Copy, Debug)]
pub struct BlockDescription<'a> {
    /// Its entry in the index.
    pub entry: BlockEntry,
    /// Its bytes after the CRC.
    pub bytes: &'a [u8],
    /// Its checksum.
    pub crc: Crc,
}

impl<'a> BlockDescription<'a> {
    /// Locates the block of `entry` in `file` and checks its CRC; a mismatch is part of
    /// the description, not an error.
    ///
    /// # Errors
    /// When the block lies outside the file or is shorter than its CRC.
    pub fn read(file: &TsmFile<'a>, entry: &BlockEntry) -> Result<BlockDescription<'a>> {
        // The file's own check, whose error carries both values on a mismatch; a good
        // block's stored CRC is the one computed.
        let (bytes, crc) = match file.block(entry, true) {
            Ok(bytes) => {
                let computed = crc32fast::hash(bytes);
                let crc = Crc {
                    stored: computed,
                    computed,
                };
                (bytes, crc)
            }
            Err(err) => match *err.kind() {
                ErrorKind::ChecksumMismatch { stored, computed } => {
                    (file.block(entry, false)?, Crc { stored, computed })
                }
                _ => return Err(err),
            },
        };
        Ok(BlockDescription {
            entry: *entry,
            bytes,
            crc,
        })
    }

    /// Absolute offset of the block's first byte after its CRC (its type byte).
    pub fn bytes_offset(&self) -> u64 {
        self.entry.offset + BLOCK_CRC_LEN as u64
    }

    /// The block's headers: its type, point count and the encoding of each section.
    ///
    /// # Errors
    /// As [`BlockInfo::read`].
    pub fn headers(&self) -> Result<BlockInfo> {
        BlockInfo::read(self.bytes, self.bytes_offset())
    }

    /// Decodes the block's points into `timestamps` and `values` (cleared first).
    ///
    /// # Errors
    /// As [`decode_block`].
    pub fn decode(
        &self,
        limits: &Limits,
        timestamps: &mut Vec<i64>,
        values: &mut Values,
    ) -> Result<()> {
        decode_block(self.bytes, self.bytes_offset(), limits, timestamps, values)
    }
}

/// Totals over the index entries of a TSM file, added one entry at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexTotals {
    /// Keys (index entries) seen.
    pub keys: u64,
    /// Blocks of those keys.
    pub blocks: u64,
    /// The earliest and latest time of any block, when a key was seen.
    pub time_range: Option<(i64, i64)>,
}

impl IndexTotals {
    /// Counts one index entry.
    pub fn add(&mut self, entry: &IndexEntry<'_>) {
        self.keys += 1;
        self.blocks += entry.block_count() as u64;
        let (lo, hi) = entry.time_range();
        self.time_range = Some(match self.time_range {
            Some((min, max)) => (min.min(lo), max.max(hi)),
            None => (lo, hi),
        });
    }
}

/// The version of a tombstone file, from its first four bytes (see
/// [`crate::tombstone`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TombstoneVersion {
    /// Text, one key per line (any other header, or fewer than four bytes).
    V1,
    /// Binary records.
    V2,
    /// One gzip stream of records.
    V3,
    /// Gzip members of whole records.
    V4,
}

impl TombstoneVersion {
    /// The version `data` says it is.
    pub fn of(data: &[u8]) -> TombstoneVersion {
        match data.first_chunk::<4>().map(|h| u32::from_be_bytes(*h)) {
            Some(tombstone_header::V2) => TombstoneVersion::V2,
            Some(tombstone_header::V3) => TombstoneVersion::V3,
            Some(tombstone_header::V4) => TombstoneVersion::V4,
            _ => TombstoneVersion::V1,
        }
    }

    /// `v1` … `v4`.
    pub fn name(self) -> &'static str {
        match self {
            TombstoneVersion::V1 => "v1",
            TombstoneVersion::V2 => "v2",
            TombstoneVersion::V3 => "v3",
            TombstoneVersion::V4 => "v4",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::tsm::TsmWriter;

    fn file() -> Vec<u8> {
        let mut w = TsmWriter::new();
        w.write_block(b"cpu#!~#v", &[1, 2, 3], &Values::Float(vec![1.0, 2.0, 3.0]));
        w.write_block(b"mem#!~#v", &[5, 9], &Values::Float(vec![1.5, 2.5]));
        w.finish()
    }

    #[test]
    fn good_block_then_flipped_byte() {
        let mut data = file();
        let tsm = TsmFile::parse(&data).unwrap();
        let entry = tsm.index().next().unwrap().unwrap();
        let block = entry.blocks().next().unwrap();
        let described = BlockDescription::read(&tsm, &block).unwrap();
        assert!(described.crc.is_ok());
        assert_eq!(
            described.crc.stored.to_be_bytes(),
            data[block.offset as usize..][..4]
        );
        let headers = described.headers().unwrap();
        assert_eq!(headers.count, 3);
        let (mut ts, mut values) = (Vec::new(), Values::new(crate::FieldType::Float));
        described
            .decode(&Limits::default(), &mut ts, &mut values)
            .unwrap();
        assert_eq!(ts, [1, 2, 3]);

        // The last byte of the block's values.
        let last = (block.offset + u64::from(block.size) - 1) as usize;
        data[last] ^= 1;
        let tsm = TsmFile::parse(&data).unwrap();
        let described = BlockDescription::read(&tsm, &block).unwrap();
        assert!(!described.crc.is_ok());
        assert_eq!(
            described.crc.stored.to_be_bytes(),
            data[block.offset as usize..][..4]
        );
        assert_eq!(
            described.crc.computed,
            crc32fast::hash(&data[block.offset as usize + 4..=last])
        );
    }

    #[test]
    fn block_outside_the_file_is_an_error() {
        let data = file();
        let tsm = TsmFile::parse(&data).unwrap();
        let entry = BlockEntry {
            min_time: 0,
            max_time: 0,
            offset: data.len() as u64 - 2,
            size: 100,
        };
        assert!(BlockDescription::read(&tsm, &entry).is_err());
    }

    #[test]
    fn totals() {
        let data = file();
        let tsm = TsmFile::parse(&data).unwrap();
        let mut totals = IndexTotals::default();
        assert_eq!(totals.time_range, None);
        for entry in tsm.index() {
            totals.add(&entry.unwrap());
        }
        assert_eq!((totals.keys, totals.blocks), (2, 2));
        assert_eq!(totals.time_range, Some((1, 9)));
    }

    #[test]
    fn tombstone_versions() {
        assert_eq!(TombstoneVersion::of(b""), TombstoneVersion::V1);
        assert_eq!(TombstoneVersion::of(b"cpu#!~#v\n"), TombstoneVersion::V1);
        assert_eq!(
            TombstoneVersion::of(&[0, 0, 0x15, 0x02]),
            TombstoneVersion::V2
        );
        assert_eq!(TombstoneVersion::of(&[0, 0, 0x15, 0x04, 1]).name(), "v4");
    }
}
