//! The crate's one error type.
//!
//! Every error can carry the file it came from, the absolute byte offset inside that file
//! and the composite key being decoded. Decoders working on a sub-slice report offsets
//! relative to that slice; the layer that knows where the slice sits in the file rebases
//! them with [`Error::rebase`], so the message a user sees always points into the file.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::values::FieldType;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error while reading InfluxDB storage files.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    path: Option<PathBuf>,
    offset: Option<u64>,
    key: Option<Vec<u8>>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operating system refused a read, open or map.
    Io(std::io::Error),
    /// A shard's files kept changing while they were listed and mapped (a running
    /// influxd's snapshots and compactions replace them): no listing of one moment could
    /// be mapped whole in this many attempts.
    Changing {
        /// Attempts made.
        attempts: u32,
    },
    /// The data ends before a field that must be there.
    Truncated {
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left at that offset.
        available: u64,
    },
    /// A TSM file does not start with `0x16D116D1`.
    BadMagic {
        /// The four bytes found, big-endian.
        found: u32,
    },
    /// A TSM file has a version other than 1.
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// A stored CRC-32 does not match the block bytes.
    ChecksumMismatch {
        /// The CRC stored before the block.
        stored: u32,
        /// The CRC of the bytes as read.
        computed: u32,
    },
    /// A block or WAL value type byte is not one InfluxDB writes.
    UnknownType {
        /// The type byte found.
        found: u8,
    },
    /// An encoding header byte that no InfluxDB version writes.
    UnknownEncoding {
        /// Which stream: `"timestamp"`, `"float"`, ...
        stream: &'static str,
        /// The header byte found.
        header: u8,
    },
    /// A block holds a different number of timestamps and values.
    CountMismatch {
        /// Timestamps decoded.
        timestamps: usize,
        /// Values decoded.
        values: usize,
    },
    /// A size or count read from a file is larger than the configured limit.
    LimitExceeded {
        /// What was being sized.
        what: &'static str,
        /// The size the file claims.
        claimed: u64,
        /// The limit in force.
        limit: u64,
    },
    /// An offset or a span read from the file points outside the region it must lie in.
    OutOfBounds {
        /// What the file points at: `"block"`, `"index entry"`, ...
        what: &'static str,
        /// Where the file says it starts.
        start: u64,
        /// Its length in bytes, 0 where only a position is given.
        len: u64,
        /// The region it must lie in: `"file"`, `"index"`, ...
        region: &'static str,
        /// The region's bytes.
        bounds: Range<u64>,
    },
    /// A TSM index entry breaks a rule no writer breaks.
    InvalidIndexEntry(IndexEntryFault),
    /// A TSM index key is not larger than the key before it (the index is sorted; the key
    /// is [`Error::key`]).
    KeysOutOfOrder,
    /// A block decoded to no values.
    EmptyBlock,
    /// A block holds values of another type than the one it must hold.
    TypeMismatch {
        /// The type of the block's values.
        found: FieldType,
        /// The type expected.
        expected: FieldType,
        /// Who expects it: `"the index says"`, `"the key's type is"`.
        expected_by: &'static str,
    },
    /// A block holds times outside the range its index entry gives (damage the CRC does not
    /// cover, or CRCs not checked).
    TimesOutsideIndex {
        /// The block's first time.
        first: i64,
        /// The block's last time.
        last: i64,
        /// The index entry's min time.
        min_time: i64,
        /// The index entry's max time.
        max_time: i64,
    },
    /// Values of a key or field come in two types; those of type `found` were left out.
    TypeConflict {
        /// The type of the values left out.
        found: FieldType,
        /// The type kept.
        kept: FieldType,
        /// Where the kept type comes from.
        with: ConflictWith,
    },
    /// A composite key without the `#!~#` separator before its field.
    MissingFieldSeparator,
    /// A WAL entry that cannot be decoded.
    BadWalEntry(WalEntryFault),
    /// A tombstone file whose records cannot be read.
    BadTombstone(TombstoneFault),
    /// A varint that runs past the end of its bytes or beyond 64 bits.
    BadVarint,
    /// An encoded stream breaks its encoding's layout.
    BadEncoding {
        /// Which stream: `"timestamp"`, `"integer"`, `"unsigned"`, `"float"`, `"string"`,
        /// `"simple8b"`.
        stream: &'static str,
        /// What is wrong with it.
        what: EncodingFault,
    },
    /// The meta store (`meta.db`, or a backup's copy of it) cannot be read.
    BadMeta(MetaFault),
    /// Bytes that decode, but disagree with each other (found by [`crate::verify`]).
    Inconsistent(Inconsistency),
    /// A WAL segment unreadable from an entry on (found by [`crate::verify`]).
    UnreadableWal {
        /// Bytes from the entry to the end of the segment, all of them lost.
        lost: u64,
        /// Whether the entry is a torn last entry (what a crash leaves) rather than damage.
        torn: bool,
        /// Why the entry cannot be read, with its own offset.
        cause: Box<Error>,
    },
    /// Damage found by a reader of a container around these files (a backup's tar
    /// archive or manifest), which reports it with an error of its own: that error's kind
    /// is here, to be matched with `downcast_ref`; the file and offset are this error's.
    Container(Box<dyn std::error::Error + Send + Sync>),
}

/// What is wrong with an encoded stream ([`ErrorKind::BadEncoding`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodingFault {
    /// A section with not even its header byte.
    EmptySection,
    /// A raw section whose length is not a header byte and whole 8-byte words.
    RawSectionLength {
        /// The section's length, header included.
        len: u64,
    },
    /// Raw values that end inside an 8-byte value.
    RawEndsInsideValue {
        /// Bytes of the last, partial value.
        tail: u64,
    },
    /// Simple8b words whose bytes are not a multiple of 8 (counted from the words' start).
    WordsLength {
        /// Bytes of words.
        len: u64,
    },
    /// A simple8b stream that ends inside a word.
    EndsInsideWord {
        /// Bytes of the last, partial word.
        tail: u64,
    },
    /// A run whose delta or count varint is unreadable.
    BadRunVarint,
    /// Bytes after a run's count.
    BytesAfterRun,
    /// Whole bytes after the end marker of a float stream.
    BytesAfterEnd {
        /// How many.
        count: u64,
    },
    /// A float XOR window wider than 64 bits.
    WindowTooWide {
        /// Its leading zero bits.
        leading: u32,
        /// Its significant bits.
        meaningful: u32,
    },
    /// A string length varint that cannot be read.
    BadStringLength {
        /// Its offset in the decompressed payload.
        at: u64,
    },
    /// A string running past the end of the decompressed payload.
    StringPastEnd {
        /// Its offset in the decompressed payload.
        at: u64,
        /// The length it claims.
        claimed: u64,
        /// Bytes left in the payload.
        available: u64,
    },
    /// A snappy length header that cannot be read.
    BadSnappyLength,
    /// Snappy data that cannot be decompressed; the text is the decompressor's.
    Snappy(String),
}

/// What is wrong with the meta store ([`ErrorKind::BadMeta`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaFault {
    /// A legacy backup's `meta.NN` without its magic number.
    NotLegacyBackup {
        /// The first eight bytes, big-endian.
        magic: u64,
        /// The magic expected.
        expected: u64,
    },
    /// A portable backup's metadata without its `Data` field (1).
    MissingData,
    /// A field of the wrong wire type: a varint where bytes are expected, or bytes where
    /// a varint is.
    WrongWireType {
        /// `"a varint"` or `"a length-delimited"`.
        expected: &'static str,
    },
    /// A wire type protobuf does not define (or that meta.db never uses).
    UnknownWireType(u64),
}

/// Bytes that decode but disagree with each other ([`ErrorKind::Inconsistent`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inconsistency {
    /// A key's index entries not in ascending min time.
    BlocksOutOfOrder {
        /// The block's min time.
        min_time: i64,
        /// The previous block's min time.
        previous: i64,
    },
    /// Two index entries whose blocks share bytes.
    BlocksOverlap {
        /// Where the later block starts.
        block: u64,
        /// Where the block it overlaps starts.
        other: u64,
        /// The index entry of that block.
        other_entry: u64,
    },
    /// A block whose timestamp header counts another number of points than decode.
    TimestampCount {
        /// Points the header counts.
        counted: u64,
        /// Timestamps decoded.
        decoded: u64,
    },
    /// A block's timestamps not ascending.
    TimestampsNotAscending {
        /// The point's position in the block.
        point: u64,
        /// Its time.
        time: i64,
        /// The time of the point before.
        previous: i64,
    },
    /// A block whose first and last times are not its index entry's min and max.
    IndexRange {
        /// The index entry's min time.
        min_time: i64,
        /// The index entry's max time.
        max_time: i64,
        /// The block's first time (0 when it has none).
        first: i64,
        /// The block's last time (0 when it has none).
        last: i64,
    },
    /// A tombstone record whose range is empty.
    EmptyDeleteRange {
        /// Its min time.
        min_time: i64,
        /// Its max time.
        max_time: i64,
    },
}

/// What is wrong with a TSM index entry ([`ErrorKind::InvalidIndexEntry`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexEntryFault {
    /// The key is empty.
    EmptyKey,
    /// The entry lists no blocks.
    NoBlocks,
    /// A block's min time is after its max time.
    TimesInverted {
        /// The block's min time.
        min_time: i64,
        /// The block's max time.
        max_time: i64,
    },
    /// A block too short for a CRC and a type byte.
    BlockTooShort {
        /// The size the entry gives.
        size: u32,
    },
}

/// Where the type kept in a [`ErrorKind::TypeConflict`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictWith {
    /// Newer data of the same key (a newer TSM file, or the WAL).
    NewerData,
    /// Other series of the same measurement have the field with the kept type.
    OtherSeries,
    /// The WAL wrote `points` values to a key its earlier entries gave another type.
    WalWrite {
        /// Points of the write dropped.
        points: usize,
    },
}

/// Why a WAL entry cannot be decoded ([`ErrorKind::BadWalEntry`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WalEntryFault {
    /// The snappy length header is unreadable; the text is the decompressor's.
    SnappyHeader(String),
    /// The snappy data is unreadable; the text is the decompressor's.
    SnappyBlock(String),
    /// The entry type byte is none of write, delete, delete-range.
    UnknownType(u8),
    /// The decompressed payload breaks the entry's layout.
    Payload {
        /// `"write"`, `"delete"` or `"delete-range"`.
        entry: &'static str,
        /// Offset in the decompressed payload.
        at: u64,
        /// What is wrong there.
        what: PayloadFault,
    },
}

/// What breaks the layout of a WAL entry's decompressed payload ([`WalEntryFault::Payload`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadFault {
    /// A field that runs past the end of the payload.
    FieldCutShort {
        /// The field: `"key length"`, `"timestamp"`, `"string value"`, ...
        field: &'static str,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
    /// A key written with no points.
    NoPoints,
    /// A point count the bytes left cannot hold, even at the smallest size of a point.
    PointsCutShort {
        /// Points claimed.
        count: u32,
        /// Their type.
        field_type: FieldType,
        /// Bytes they need at least.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
}

impl fmt::Display for PayloadFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadFault::FieldCutShort {
                field,
                needed,
                available,
            } => write!(f, "{field} needs {needed} bytes, {available} left"),
            PayloadFault::NoPoints => write!(f, "key with 0 points"),
            PayloadFault::PointsCutShort {
                count,
                field_type,
                needed,
                available,
            } => write!(
                f,
                "{count} {field_type} points need at least {needed} bytes, {available} left"
            ),
        }
    }
}

/// Why a tombstone file cannot be read ([`ErrorKind::BadTombstone`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TombstoneFault {
    /// A v1 line longer than influxd reads.
    LineTooLong {
        /// The line's length.
        len: u64,
        /// influxd's limit.
        limit: u64,
    },
    /// A v3 file with a header and nothing after it.
    NoGzipData,
    /// The gzip data cannot be inflated.
    Gzip {
        /// `"v3 gzip stream"` or `"v4 gzip member"`.
        stream: &'static str,
        /// The stream's offset in the file.
        stream_offset: u64,
        /// About where in the file the decompressor stopped.
        near: u64,
        /// The decompressor's message.
        message: String,
    },
    /// A v4 gzip member that consumed no bytes.
    EmptyGzipMember,
    /// A record of a gzip stream ends before its key and times.
    RecordCutShort {
        /// `"v3 gzip stream"` or `"v4 gzip member"`.
        stream: &'static str,
        /// The stream's offset in the file.
        stream_offset: u64,
        /// The record's offset in the decompressed stream.
        record_at: u64,
        /// The record's key length.
        key_len: u32,
        /// Bytes the record needs after its key length.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
}

impl Error {
    /// Creates an error of `kind` with no location yet.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            kind,
            path: None,
            offset: None,
            key: None,
        }))
    }

    /// A [`ErrorKind::BadEncoding`] error at `offset`.
    pub fn encoding(offset: u64, stream: &'static str, what: EncodingFault) -> Error {
        Error::new(ErrorKind::BadEncoding { stream, what }).at(offset)
    }

    /// A [`ErrorKind::BadMeta`] error at `offset`.
    pub fn meta(offset: u64, fault: MetaFault) -> Error {
        Error::new(ErrorKind::BadMeta(fault)).at(offset)
    }

    /// A [`ErrorKind::Inconsistent`] error at `offset`.
    pub fn inconsistent(offset: u64, what: Inconsistency) -> Error {
        Error::new(ErrorKind::Inconsistent(what)).at(offset)
    }

    /// A [`ErrorKind::Truncated`] error at `offset`.
    pub fn truncated(offset: u64, needed: u64, available: u64) -> Error {
        Error::new(ErrorKind::Truncated { needed, available }).at(offset)
    }

    /// A [`ErrorKind::LimitExceeded`] error at `offset`.
    pub fn limit(offset: u64, what: &'static str, claimed: u64, limit: u64) -> Error {
        Error::new(ErrorKind::LimitExceeded {
            what,
            claimed,
            limit,
        })
        .at(offset)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The file the error is about, when known.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// The absolute byte offset in [`Error::path`], when known.
    pub fn offset(&self) -> Option<u64> {
        self.0.offset
    }

    /// The composite key being decoded, when known.
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key.as_deref()
    }

    /// Sets the offset (relative to whatever slice the caller decoded).
    pub fn at(mut self, offset: u64) -> Error {
        self.0.offset = Some(offset);
        self
    }

    /// Moves a slice-relative offset to an absolute one: adds `base`, or sets it when the
    /// error had no offset.
    pub fn rebase(mut self, base: u64) -> Error {
        self.0.offset = Some(base.saturating_add(self.0.offset.unwrap_or(0)));
        self
    }

    /// Names the file, unless a more precise path was already set.
    pub fn in_file(mut self, path: &Path) -> Error {
        if self.0.path.is_none() {
            self.0.path = Some(path.to_path_buf());
        }
        self
    }

    /// Names the composite key, unless one was already set.
    pub fn for_key(mut self, key: &[u8]) -> Error {
        if self.0.key.is_none() {
            self.0.key = Some(key.to_vec());
        }
        self
    }

    /// Whether the error says the bytes are damaged (as opposed to I/O or a usage problem).
    pub fn is_corruption(&self) -> bool {
        !matches!(self.0.kind, ErrorKind::Io(_) | ErrorKind::Changing { .. })
    }

    /// Whether a file (or folder) was not there when it was opened or listed: on a
    /// directory a running influxd writes, a file it replaced, not damage.
    pub fn is_vanished(&self) -> bool {
        matches!(&self.0.kind, ErrorKind::Io(err) if err.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for IndexEntryFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexEntryFault::EmptyKey => write!(f, "index entry with an empty key"),
            IndexEntryFault::NoBlocks => write!(f, "index entry with zero blocks"),
            IndexEntryFault::TimesInverted { min_time, max_time } => {
                write!(f, "block min time {min_time} > max time {max_time}")
            }
            IndexEntryFault::BlockTooShort { size } => {
                write!(f, "block of {size} bytes is too short")
            }
        }
    }
}

impl fmt::Display for WalEntryFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalEntryFault::SnappyHeader(m) => write!(f, "WAL entry: bad snappy header: {m}"),
            WalEntryFault::SnappyBlock(m) => write!(f, "WAL entry: bad snappy block: {m}"),
            WalEntryFault::UnknownType(t) => write!(f, "unknown WAL entry type {t:#04x}"),
            WalEntryFault::Payload { entry, at, what } => {
                write!(f, "WAL {entry} entry, decompressed byte {at}: {what}")
            }
        }
    }
}

impl fmt::Display for TombstoneFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TombstoneFault::LineTooLong { len, limit } => write!(
                f,
                "v1 tombstone line of {len} bytes is longer than influxd's {limit}-byte limit"
            ),
            TombstoneFault::NoGzipData => write!(f, "v3 tombstone has a header but no gzip data"),
            TombstoneFault::Gzip {
                stream,
                stream_offset,
                near,
                message,
            } => write!(
                f,
                "{stream} at byte {stream_offset}: gzip data unreadable near byte {near}: {message}"
            ),
            TombstoneFault::EmptyGzipMember => write!(f, "v4 gzip member consumed no bytes"),
            TombstoneFault::RecordCutShort {
                stream,
                stream_offset,
                record_at,
                key_len,
                needed,
                available,
            } => write!(
                f,
                "{stream} at byte {stream_offset}: record at decompressed byte {record_at} is \
                 cut short: key length {key_len} needs {needed} more bytes, {available} left"
            ),
        }
    }
}

/// The sentence after `corrupt: ` (the text every version of the crate has written) for
/// a fault of `stream`.
fn write_encoding_fault(
    f: &mut fmt::Formatter<'_>,
    stream: &str,
    what: &EncodingFault,
) -> fmt::Result {
    match what {
        EncodingFault::EmptySection => write!(f, "empty {stream} section"),
        EncodingFault::RawSectionLength { len } => write!(
            f,
            "raw {stream} section of {len} bytes is not a header and 8-byte words"
        ),
        // Timestamps are stored as deltas, the other raw streams as values.
        EncodingFault::RawEndsInsideValue { tail } if stream == "timestamp" => {
            write!(f, "raw timestamps end {tail} bytes into an 8-byte delta")
        }
        EncodingFault::RawEndsInsideValue { tail } => write!(
            f,
            "raw {stream} values end {tail} bytes into an 8-byte value"
        ),
        EncodingFault::WordsLength { len } => write!(
            f,
            "simple8b {stream}s: {len} bytes of words, not a multiple of 8"
        ),
        EncodingFault::EndsInsideWord { tail } => {
            write!(f, "{stream} stream ends {tail} bytes into a word")
        }
        EncodingFault::BadRunVarint => write!(f, "RLE {stream}s: bad delta or count varint"),
        EncodingFault::BytesAfterRun => write!(f, "bytes after the {stream} run"),
        EncodingFault::BytesAfterEnd { count } => {
            write!(f, "{count} bytes after the {stream} end marker")
        }
        EncodingFault::WindowTooWide {
            leading,
            meaningful,
        } => write!(
            f,
            "{stream} window of {leading} leading and {meaningful} significant bits"
        ),
        EncodingFault::BadStringLength { at } => {
            write!(f, "bad {stream} length at byte {at} of the payload")
        }
        EncodingFault::StringPastEnd {
            at,
            claimed,
            available,
        } => write!(
            f,
            "{stream} at byte {at} of the payload claims {claimed} bytes, {available} left"
        ),
        EncodingFault::BadSnappyLength => write!(f, "bad snappy length"),
        EncodingFault::Snappy(message) => write!(f, "snappy: {message}"),
    }
}

impl fmt::Display for MetaFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaFault::NotLegacyBackup { magic, expected } => write!(
                f,
                "not a metastore backup: magic {magic:#x}, expected {expected:#x}"
            ),
            MetaFault::MissingData => {
                write!(f, "portable backup metadata without its Data field (1)")
            }
            MetaFault::WrongWireType { expected } => {
                write!(f, "meta.db: expected {expected} field")
            }
            MetaFault::UnknownWireType(found) => write!(f, "meta.db: unknown wire type {found}"),
        }
    }
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::BlocksOutOfOrder { min_time, previous } => write!(
                f,
                "block entry min time {min_time} is before the previous block's {previous}"
            ),
            Inconsistency::BlocksOverlap {
                block,
                other,
                other_entry,
            } => write!(
                f,
                "block at {block} overlaps the block at {other} (index entry at {other_entry})"
            ),
            Inconsistency::TimestampCount { counted, decoded } => write!(
                f,
                "timestamp header counts {counted} points but {decoded} decode"
            ),
            Inconsistency::TimestampsNotAscending {
                point,
                time,
                previous,
            } => write!(
                f,
                "timestamps not ascending: point {point} at {time} follows {previous}"
            ),
            Inconsistency::IndexRange {
                min_time,
                max_time,
                first,
                last,
            } => write!(
                f,
                "index says the block spans {min_time}..={max_time} but it holds {first}..={last}"
            ),
            Inconsistency::EmptyDeleteRange { min_time, max_time } => write!(
                f,
                "record with min {min_time} > max {max_time} deletes nothing"
            ),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        Error::new(ErrorKind::Io(err))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(err) => write!(f, "{err}"),
            ErrorKind::Changing { attempts } => write!(
                f,
                "the shard's files kept changing while they were read ({attempts} attempts: \
                 files listed were replaced or removed before they were mapped, as a running \
                 influxd's snapshots and compactions do)"
            ),
            ErrorKind::Truncated { needed, available } => {
                write!(f, "truncated: needed {needed} bytes, {available} left")
            }
            ErrorKind::BadMagic { found } => {
                write!(
                    f,
                    "not a TSM file: magic {found:#010x}, expected 0x16d116d1"
                )
            }
            ErrorKind::UnsupportedVersion { found } => {
                write!(f, "unsupported TSM version {found}, expected 1")
            }
            ErrorKind::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "block checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            ErrorKind::UnknownType { found } => write!(f, "unknown value type {found}"),
            ErrorKind::UnknownEncoding { stream, header } => {
                write!(f, "unknown {stream} encoding (header byte {header:#04x})")
            }
            ErrorKind::CountMismatch { timestamps, values } => {
                write!(f, "block has {timestamps} timestamps but {values} values")
            }
            ErrorKind::LimitExceeded {
                what,
                claimed,
                limit,
            } => {
                write!(f, "{what} of {claimed} exceeds the limit of {limit}")
            }
            ErrorKind::OutOfBounds {
                what,
                start,
                len,
                region,
                bounds,
            } => {
                write!(f, "{what} at byte {start}")?;
                if *len > 0 {
                    write!(f, " of {len} bytes")?;
                }
                write!(
                    f,
                    " lies outside the {region} [{}, {})",
                    bounds.start, bounds.end
                )
            }
            ErrorKind::InvalidIndexEntry(fault) => write!(f, "{fault}"),
            ErrorKind::KeysOutOfOrder => write!(f, "index keys are not in ascending order"),
            ErrorKind::EmptyBlock => write!(f, "block with no values"),
            ErrorKind::TypeMismatch {
                found,
                expected,
                expected_by,
            } => write!(f, "block holds {found} values but {expected_by} {expected}"),
            ErrorKind::TimesOutsideIndex {
                first,
                last,
                min_time,
                max_time,
            } => write!(
                f,
                "block holds times {first}..={last} outside its index range {min_time}..={max_time}"
            ),
            ErrorKind::TypeConflict { found, kept, with } => match with {
                ConflictWith::NewerData => write!(
                    f,
                    "key holds {found} values here but {kept} in newer data; the {found} values \
                     are left out"
                ),
                ConflictWith::OtherSeries => write!(
                    f,
                    "field has type {kept} in other series of the measurement but {found} here; \
                     left out"
                ),
                ConflictWith::WalWrite { points } => write!(
                    f,
                    "WAL write of {points} {found} points to a key holding {kept} values; dropped"
                ),
            },
            ErrorKind::MissingFieldSeparator => {
                write!(f, "key without the #!~# field separator is left out")
            }
            ErrorKind::BadWalEntry(fault) => write!(f, "{fault}"),
            ErrorKind::BadTombstone(fault) => write!(f, "{fault}"),
            ErrorKind::BadVarint => write!(f, "corrupt: bad or truncated varint"),
            ErrorKind::BadEncoding { stream, what } => {
                write!(f, "corrupt: ")?;
                write_encoding_fault(f, stream, what)
            }
            ErrorKind::BadMeta(fault) => write!(f, "corrupt: {fault}"),
            ErrorKind::Inconsistent(what) => write!(f, "corrupt: {what}"),
            ErrorKind::UnreadableWal { lost, torn, cause } => {
                if *torn {
                    write!(
                        f,
                        "corrupt: torn last entry ({lost} bytes; influxd drops it at start-up)"
                    )?;
                } else {
                    write!(
                        f,
                        "corrupt: {lost} bytes from here on are unreadable; influxd drops them"
                    )?;
                }
                write!(f, ": {cause}")
            }
            ErrorKind::Container(fault) => write!(f, "corrupt: {fault}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.0.path {
            write!(f, "{}", path.display())?;
            if let Some(offset) = self.0.offset {
                write!(f, " at byte {offset}")?;
            }
            write!(f, ": ")?;
        } else if let Some(offset) = self.0.offset {
            write!(f, "at byte {offset}: ")?;
        }
        write!(f, "{}", self.0.kind)?;
        if let Some(key) = &self.0.key {
            write!(f, " (key {:?})", String::from_utf8_lossy(key))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("path", &self.0.path)
            .field("offset", &self.0.offset)
            .field("key", &self.0.key.as_deref().map(String::from_utf8_lossy))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ErrorKind::Io(err) => Some(err),
            ErrorKind::UnreadableWal { cause, .. } => Some(cause.as_ref()),
            ErrorKind::Container(fault) => Some(fault.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_offset_and_key() {
        let err = Error::truncated(10, 8, 3)
            .rebase(100)
            .for_key(b"cpu#!~#v")
            .in_file(Path::new("/d/1.tsm"));
        assert_eq!(err.offset(), Some(110));
        assert_eq!(
            err.to_string(),
            "/d/1.tsm at byte 110: truncated: needed 8 bytes, 3 left (key \"cpu#!~#v\")"
        );
    }
}
