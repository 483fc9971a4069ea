//! Writers for tombstone files, byte for byte in the layouts influxd reads.
//!
//! influxd 1.x writes v4 (a header, then one gzip member per delete batch) and rewrites an
//! older file as v3; v1 and v2 only come from very old versions, but are still read.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::format::tombstone_header;
use crate::tombstone::Tombstone;

/// A v1 file: one key per line, each deleting all time.
pub fn write_v1(keys: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for key in keys {
        out.extend_from_slice(key);
        out.push(b'\n');
    }
    out
}

/// The records of `tombstones`, uncompressed.
///
/// # Panics
/// When a key is longer than `u32::MAX` bytes.
pub fn records(tombstones: &[Tombstone]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tombstones {
        let len = u32::try_from(t.key.len()).expect("tombstone key longer than u32::MAX");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&t.key);
        out.extend_from_slice(&t.min_time.to_be_bytes());
        out.extend_from_slice(&t.max_time.to_be_bytes());
    }
    out
}

/// A v2 file: header, then the records uncompressed.
pub fn write_v2(tombstones: &[Tombstone]) -> Vec<u8> {
    let mut out = tombstone_header::V2.to_be_bytes().to_vec();
    out.extend_from_slice(&records(tombstones));
    out
}

/// A v3 file: header, then one gzip member holding every record.
pub fn write_v3(tombstones: &[Tombstone]) -> Vec<u8> {
    let mut out = tombstone_header::V3.to_be_bytes().to_vec();
    out.extend_from_slice(&gzip_members(&[&records(tombstones)]));
    out
}

/// A v4 file: header, then one gzip member per batch, as influxd appends one per delete.
pub fn write_v4(batches: &[&[Tombstone]]) -> Vec<u8> {
    let members: Vec<Vec<u8>> = batches.iter().map(|b| records(b)).collect();
    let members: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
    let mut out = tombstone_header::V4.to_be_bytes().to_vec();
    out.extend_from_slice(&gzip_members(&members));
    out
}

/// Concatenated gzip members, one per input slice (for building odd files by hand).
///
/// # Panics
/// Never for in-memory output; the encoder's `io::Result` can only fail on a writer error.
pub fn gzip_members(members: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for member in members {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(member).expect("writing to a Vec");
        out.extend_from_slice(&gz.finish().expect("writing to a Vec"));
    }
    out
}
