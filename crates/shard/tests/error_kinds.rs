//! Damage a caller must tell apart comes out as its own [`ErrorKind`], with typed fields
//! and the offset of the damage in the file the caller named.

use std::path::Path;

use influx_tsm_shard::file::TsmFile;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};
use influx_tsm_shard::source::{FileSource, ShardFiles, TsmSource};
use influx_tsm_shard::tombstone::decode_tombstones;
use influx_tsm_shard::wal::WalSegmentReader;
use influx_tsm_shard::{ErrorKind, IndexEntryFault, Limits, TombstoneFault, WalEntryFault};

fn fixture_tsm() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/small-a/influxdb/data/fleet_ops/autogen/17/000000003-000000001.tsm");
    std::fs::read(path).expect("read")
}

fn open(name: &str, bytes: Vec<u8>, options: &ShardOptions) -> influx_tsm_shard::Result<Shard> {
    let files = ShardFiles::new("shard").tsm(TsmSource::new(FileSource::new(name, bytes), 1, 1));
    Shard::open_from(files, options)
}

/// Streams every row of every measurement; the first error.
fn stream(shard: &Shard) -> influx_tsm_shard::Result<usize> {
    let mut rows = 0;
    for (i, schema) in shard.measurements().iter().enumerate() {
        let mut it = shard.rows(i, TimeRange::ALL);
        let mut batch = RowBatch::new(schema);
        while it.next_batch(&mut batch, 4096, 1 << 20)? {
            rows += batch.len();
        }
    }
    Ok(rows)
}

#[test]
fn a_flipped_block_byte_is_a_checksum_mismatch_at_the_block() {
    let mut bytes = fixture_tsm();
    let (block, stored) = {
        let file = TsmFile::parse(&bytes).expect("parses");
        let entry = file.index().next().expect("a key").expect("an entry");
        let block = entry.blocks().next().expect("a block");
        let at = block.offset as usize;
        let crc = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        (block, crc)
    };
    bytes[block.offset as usize + 7] ^= 0x01;
    let shard = open("copy.tsm", bytes, &ShardOptions::default().verify_crc(true)).expect("opens");
    let err = stream(&shard).expect_err("the damaged block stops the stream");
    match err.kind() {
        ErrorKind::ChecksumMismatch {
            stored: s,
            computed,
        } => {
            assert_eq!(*s, stored);
            assert_ne!(*computed, stored);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.offset(), Some(block.offset));
    assert_eq!(err.path(), Some(Path::new("copy.tsm")));
    assert!(err.is_corruption());
}

#[test]
fn a_file_shorter_than_header_and_footer_is_truncated() {
    let bytes = fixture_tsm()[..10].to_vec();
    let err = open("short.tsm", bytes, &ShardOptions::default())
        .err()
        .expect("too short");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Truncated {
                needed: 13,
                available: 10
            }
        ),
        "{err}"
    );
    assert_eq!(err.offset(), Some(0));
    assert_eq!(err.path(), Some(Path::new("short.tsm")));
    assert!(err.is_corruption());
}

#[test]
fn a_footer_pointing_past_the_index_is_out_of_bounds() {
    let mut bytes = fixture_tsm();
    let footer_at = bytes.len() - 8;
    bytes[footer_at..].copy_from_slice(&u64::MAX.to_be_bytes());
    let err = open("copy.tsm", bytes, &ShardOptions::default())
        .err()
        .expect("bad footer");
    match err.kind() {
        ErrorKind::OutOfBounds {
            start, len, bounds, ..
        } => {
            assert_eq!((*start, *len), (u64::MAX, 0));
            assert_eq!(*bounds, 5..footer_at as u64);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.offset(), Some(footer_at as u64));
    assert!(err.to_string().contains("lies outside"), "{err}");
}

/// A TSM file with one 10-byte block and an index entry per key, in the order given.
fn tsm_with_keys(keys: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0x16, 0xd1, 0x16, 0xd1, 1];
    out.extend_from_slice(&[0; 10]);
    let index_start = out.len() as u64;
    for key in keys {
        out.extend_from_slice(&(key.len() as u16).to_be_bytes());
        out.extend_from_slice(key);
        out.push(0);
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&0i64.to_be_bytes());
        out.extend_from_slice(&0i64.to_be_bytes());
        out.extend_from_slice(&5u64.to_be_bytes());
        out.extend_from_slice(&10u32.to_be_bytes());
    }
    out.extend_from_slice(&index_start.to_be_bytes());
    out
}

#[test]
fn index_keys_out_of_order_and_empty_keys_have_their_own_kinds() {
    let bytes = tsm_with_keys(&[b"m#!~#b", b"m#!~#a"]);
    let file = TsmFile::parse(&bytes).expect("parses");
    let mut index = file.index();
    index.next().expect("first").expect("ok");
    let err = index.next().expect("second").expect_err("out of order");
    assert!(matches!(err.kind(), ErrorKind::KeysOutOfOrder), "{err}");
    assert_eq!(err.key(), Some(&b"m#!~#a"[..]));
    // The second entry starts after the 15 bytes before the index and the first entry.
    assert_eq!(err.offset(), Some(15 + 2 + 6 + 1 + 2 + 28));

    let bytes = tsm_with_keys(&[b""]);
    let err = TsmFile::parse(&bytes)
        .expect("parses")
        .index()
        .next()
        .expect("an entry")
        .expect_err("empty key");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::InvalidIndexEntry(IndexEntryFault::EmptyKey)
        ),
        "{err}"
    );
    assert_eq!(err.offset(), Some(15));
}

#[test]
fn a_wal_entry_of_unknown_type_is_a_bad_wal_entry() {
    // Type 9, then a 4-byte snappy block holding "ab": it inflates, but no type 9 exists.
    let segment = [9, 0, 0, 0, 4, 0x02, 0x04, b'a', b'b'];
    let err = WalSegmentReader::new(&segment, Limits::default())
        .next_entry()
        .expect_err("unknown type");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::BadWalEntry(WalEntryFault::UnknownType(9))
        ),
        "{err}"
    );
    assert_eq!(err.offset(), Some(0));

    // The snappy block is damaged: the decompressor's complaint, at the entry.
    let segment = [1, 0, 0, 0, 4, 0x09, 0x04, b'a', b'b'];
    let err = WalSegmentReader::new(&segment, Limits::default())
        .next_entry()
        .expect_err("bad snappy");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::BadWalEntry(WalEntryFault::SnappyBlock(_))
        ),
        "{err}"
    );
}

#[test]
fn damaged_tombstone_files_are_bad_tombstones() {
    let err =
        decode_tombstones(&0x1503u32.to_be_bytes(), &Limits::default()).expect_err("header only");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::BadTombstone(TombstoneFault::NoGzipData)
        ),
        "{err}"
    );
    assert_eq!(err.offset(), Some(4));

    let mut garbage = 0x1503u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(b"not gzip at all");
    let err = decode_tombstones(&garbage, &Limits::default()).expect_err("not gzip");
    match err.kind() {
        ErrorKind::BadTombstone(TombstoneFault::Gzip {
            stream,
            stream_offset,
            ..
        }) => assert_eq!((*stream, *stream_offset), ("v3 gzip stream", 4)),
        other => panic!("{other:?}"),
    }
    assert!(err.is_corruption());
}
