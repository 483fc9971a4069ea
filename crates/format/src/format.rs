//! On-disk constants of InfluxDB 1.x storage, apart from the code that parses them.
//!
//! ```text
//! TSM file
//! ┌────────┬─────────┬──────────────────────────────┬───────────────────┬──────────────┐
//! │ magic  │ version │ blocks: [crc u32][block] ... │ index entries ... │ index start  │
//! │ 4 B BE │ 1 B = 1 │                              │                   │ u64 BE, 8 B  │
//! └────────┴─────────┴──────────────────────────────┴───────────────────┴──────────────┘
//!
//! index entry: [key len u16][key][block type u8][count u16] count × [min i64][max i64][offset u64][size u32]
//! block:       [type u8][uvarint ts_len][timestamps: ts_len bytes][values: rest]
//! ```

/// First four bytes of every TSM file, big-endian.
pub const TSM_MAGIC: u32 = 0x16D1_16D1;
/// The only TSM version InfluxDB 1.x writes.
pub const TSM_VERSION: u8 = 1;
/// Magic plus version.
pub const TSM_HEADER_LEN: usize = 5;
/// The footer: the big-endian offset where the index starts.
pub const TSM_FOOTER_LEN: usize = 8;
/// One block entry of an index entry: min, max, offset, size.
pub const INDEX_BLOCK_ENTRY_LEN: usize = 28;
/// The CRC-32 stored in front of every block.
pub const BLOCK_CRC_LEN: usize = 4;

/// Separates the series key from the field key in a composite key.
pub const FIELD_SEPARATOR: &[u8] = b"#!~#";

/// Block type codes used in TSM index entries and block headers.
pub mod block_type {
    /// 64-bit floats.
    pub const FLOAT: u8 = 0;
    /// Signed 64-bit integers.
    pub const INTEGER: u8 = 1;
    /// Booleans.
    pub const BOOLEAN: u8 = 2;
    /// Byte strings.
    pub const STRING: u8 = 3;
    /// Unsigned 64-bit integers.
    pub const UNSIGNED: u8 = 4;
}

/// Value type codes used in WAL write entries (not the TSM codes).
pub mod wal_type {
    /// 64-bit floats.
    pub const FLOAT: u8 = 1;
    /// Signed 64-bit integers.
    pub const INTEGER: u8 = 2;
    /// Booleans.
    pub const BOOLEAN: u8 = 3;
    /// Byte strings.
    pub const STRING: u8 = 4;
    /// Unsigned 64-bit integers.
    pub const UNSIGNED: u8 = 5;
}

/// WAL entry type bytes.
pub mod wal_entry {
    /// Points to write.
    pub const WRITE: u8 = 0x01;
    /// Keys to delete over all time (legacy).
    pub const DELETE: u8 = 0x02;
    /// Keys to delete inside an inclusive time range.
    pub const DELETE_RANGE: u8 = 0x03;
}

/// Tombstone file headers; anything else is a v1 text file.
pub mod tombstone_header {
    /// Uncompressed binary records.
    pub const V2: u32 = 0x0000_1502;
    /// One gzip member of records.
    pub const V3: u32 = 0x0000_1503;
    /// Concatenated gzip members of records.
    pub const V4: u32 = 0x0000_1504;
}

/// The float value that ends a Gorilla stream: Go's `math.NaN()`.
pub const FLOAT_END_MARKER: u64 = 0x7FF8_0000_0000_0001;
