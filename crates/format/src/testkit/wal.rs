//! Writers for WAL segments, in the layout `WALSegmentWriter` and the `Encode` methods of
//! influxd's `wal.go` produce: one snappy raw block per entry behind a type byte and a
//! big-endian length.

use crate::format::wal_entry;
use crate::values::Values;
use crate::wal::{WalEntry, WalWrite};

/// Builds a WAL segment in memory, entry by entry.
#[derive(Clone, Debug, Default)]
pub struct WalSegmentWriter {
    out: Vec<u8>,
}

impl WalSegmentWriter {
    /// An empty segment.
    pub fn new() -> WalSegmentWriter {
        WalSegmentWriter::default()
    }

    /// Appends any entry.
    pub fn entry(&mut self, entry: &WalEntry) -> &mut WalSegmentWriter {
        match entry {
            WalEntry::Write(writes) => self.write(writes),
            WalEntry::Delete { keys } => {
                let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                self.delete(&keys)
            }
            WalEntry::DeleteRange {
                min_time,
                max_time,
                keys,
            } => {
                let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                self.delete_range(*min_time, *max_time, &keys)
            }
        }
    }

    /// Appends a write entry (type 0x01) holding `writes` in the given order.
    pub fn write(&mut self, writes: &[WalWrite]) -> &mut WalSegmentWriter {
        self.raw_entry(wal_entry::WRITE, &encode_write(writes))
    }

    /// Appends a delete entry (type 0x02).
    pub fn delete(&mut self, keys: &[&[u8]]) -> &mut WalSegmentWriter {
        self.raw_entry(wal_entry::DELETE, &encode_delete(keys))
    }

    /// Appends a delete-range entry (type 0x03).
    pub fn delete_range(&mut self, min: i64, max: i64, keys: &[&[u8]]) -> &mut WalSegmentWriter {
        self.raw_entry(
            wal_entry::DELETE_RANGE,
            &encode_delete_range(min, max, keys),
        )
    }

    /// Appends an entry of any type byte with `payload` compressed as influxd does.
    pub fn raw_entry(&mut self, entry_type: u8, payload: &[u8]) -> &mut WalSegmentWriter {
        self.out.extend_from_slice(&frame(entry_type, payload));
        self
    }

    /// Appends bytes as they are (for torn or damaged segments).
    pub fn raw_bytes(&mut self, bytes: &[u8]) -> &mut WalSegmentWriter {
        self.out.extend_from_slice(bytes);
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The segment so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.out
    }

    /// The finished segment.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// One framed entry: type, length, snappy raw block of `payload`.
///
/// # Panics
/// When snappy refuses the payload (over about 4 GiB).
pub fn frame(entry_type: u8, payload: &[u8]) -> Vec<u8> {
    let compressed = snap::raw::Encoder::new()
        .compress_vec(payload)
        .expect("snappy compression");
    frame_raw(entry_type, &compressed)
}

/// One framed entry around bytes used as they are, compressed or not.
///
/// # Panics
/// When `compressed` is longer than `u32::MAX` bytes.
pub fn frame_raw(entry_type: u8, compressed: &[u8]) -> Vec<u8> {
    let len = u32::try_from(compressed.len()).expect("WAL entry longer than u32::MAX");
    let mut out = Vec::with_capacity(5 + compressed.len());
    out.push(entry_type);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(compressed);
    out
}

/// The uncompressed payload of a write entry.
///
/// # Panics
/// When a key is longer than `u16::MAX` bytes, a string longer than `u32::MAX`, a write
/// has more than `u32::MAX` points, or timestamps and values differ in number.
pub fn encode_write(writes: &[WalWrite]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in writes {
        assert_eq!(
            w.timestamps.len(),
            w.values.len(),
            "one timestamp per value"
        );
        out.push(w.values.field_type().wal_type());
        let key_len = u16::try_from(w.key.len()).expect("WAL key longer than u16::MAX");
        out.extend_from_slice(&key_len.to_be_bytes());
        out.extend_from_slice(&w.key);
        let count = u32::try_from(w.timestamps.len()).expect("more than u32::MAX points");
        out.extend_from_slice(&count.to_be_bytes());
        for (i, t) in w.timestamps.iter().enumerate() {
            out.extend_from_slice(&t.to_be_bytes());
            match &w.values {
                Values::Float(v) => out.extend_from_slice(&v[i].to_bits().to_be_bytes()),
                Values::Integer(v) => out.extend_from_slice(&v[i].to_be_bytes()),
                Values::Unsigned(v) => out.extend_from_slice(&v[i].to_be_bytes()),
                Values::Boolean(v) => out.push(u8::from(v[i])),
                Values::String(v) => {
                    let s = v.get(i).expect("index in range");
                    let len = u32::try_from(s.len()).expect("string longer than u32::MAX");
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(s);
                }
            }
        }
    }
    out
}

/// The uncompressed payload of a delete entry: keys joined by newlines.
pub fn encode_delete(keys: &[&[u8]]) -> Vec<u8> {
    keys.join(&b'\n')
}

/// The uncompressed payload of a delete-range entry.
///
/// # Panics
/// When a key is longer than `u32::MAX` bytes.
pub fn encode_delete_range(min: i64, max: i64, keys: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&min.to_be_bytes());
    out.extend_from_slice(&max.to_be_bytes());
    for key in keys {
        let len = u32::try_from(key.len()).expect("key longer than u32::MAX");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(key);
    }
    out
}
