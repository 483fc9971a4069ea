//! A TSM file writer: header, CRC-framed blocks, index, footer.

use crate::file::BlockEntry;
use crate::format::{TSM_MAGIC, TSM_VERSION};
use crate::testkit::encode::encode_block;
use crate::values::{FieldType, Values};

/// Builds a TSM file in memory. Keys must be written in ascending byte order, all blocks
/// of a key together, as InfluxDB's writer requires.
#[derive(Debug)]
pub struct TsmWriter {
    buf: Vec<u8>,
    index: Vec<(Vec<u8>, FieldType, Vec<BlockEntry>)>,
}

impl Default for TsmWriter {
    fn default() -> TsmWriter {
        TsmWriter::new()
    }
}

impl TsmWriter {
    /// A writer with the header written.
    pub fn new() -> TsmWriter {
        let mut buf = TSM_MAGIC.to_be_bytes().to_vec();
        buf.push(TSM_VERSION);
        TsmWriter {
            buf,
            index: Vec::new(),
        }
    }

    /// Encodes and appends one block of `key`. `timestamps` must be sorted and as long as
    /// `values`.
    pub fn write_block(&mut self, key: &[u8], timestamps: &[i64], values: &Values) {
        let block = encode_block(timestamps, values);
        let min = timestamps.first().copied().unwrap_or(0);
        let max = timestamps.last().copied().unwrap_or(0);
        self.write_raw_block(key, values.field_type(), min, max, &block);
    }

    /// Appends already encoded block bytes (type byte onwards) with the given index
    /// times: for building damaged files.
    pub fn write_raw_block(&mut self, key: &[u8], ty: FieldType, min: i64, max: i64, block: &[u8]) {
        let offset = self.buf.len() as u64;
        self.buf
            .extend_from_slice(&crc32fast::hash(block).to_be_bytes());
        self.buf.extend_from_slice(block);
        let entry = BlockEntry {
            min_time: min,
            max_time: max,
            offset,
            size: (block.len() + 4) as u32,
        };
        match self.index.last_mut() {
            Some((k, _, blocks)) if k.as_slice() == key => blocks.push(entry),
            _ => {
                assert!(
                    self.index.last().is_none_or(|(k, _, _)| k.as_slice() < key),
                    "keys must be written in ascending order"
                );
                self.index.push((key.to_vec(), ty, vec![entry]));
            }
        }
    }

    /// Writes the index and footer and returns the file's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let index_start = self.buf.len() as u64;
        for (key, ty, blocks) in &self.index {
            self.buf
                .extend_from_slice(&(key.len() as u16).to_be_bytes());
            self.buf.extend_from_slice(key);
            self.buf.push(ty.block_type());
            self.buf
                .extend_from_slice(&(blocks.len() as u16).to_be_bytes());
            for b in blocks {
                self.buf.extend_from_slice(&b.min_time.to_be_bytes());
                self.buf.extend_from_slice(&b.max_time.to_be_bytes());
                self.buf.extend_from_slice(&b.offset.to_be_bytes());
                self.buf.extend_from_slice(&b.size.to_be_bytes());
            }
        }
        self.buf.extend_from_slice(&index_start.to_be_bytes());
        self.buf
    }
}
