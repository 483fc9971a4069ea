//! A TSM file: header, blocks, index, footer; parsed lazily from borrowed bytes.

use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, IndexEntryFault, Result};
use crate::format::{
    BLOCK_CRC_LEN, INDEX_BLOCK_ENTRY_LEN, TSM_FOOTER_LEN, TSM_HEADER_LEN, TSM_MAGIC, TSM_VERSION,
};
use crate::values::FieldType;

/// A TSM file over borrowed bytes. Parsing checks the header and footer; the index is
/// walked lazily by [`TsmFile::index`].
#[derive(Clone, Copy, Debug)]
pub struct TsmFile<'a> {
    data: &'a [u8],
    index_start: usize,
}

impl<'a> TsmFile<'a> {
    /// Checks the magic, the version and that the footer points inside the file.
    ///
    /// ```
    /// let err = influx_tsm_format::file::TsmFile::parse(b"not a tsm file at all").unwrap_err();
    /// assert!(matches!(err.kind(), influx_tsm_format::ErrorKind::BadMagic { .. }));
    /// ```
    pub fn parse(data: &'a [u8]) -> Result<TsmFile<'a>> {
        let min_len = TSM_HEADER_LEN + TSM_FOOTER_LEN;
        if data.len() < min_len {
            return Err(Error::truncated(0, min_len as u64, data.len() as u64));
        }
        let mut header = Cursor::new(data, 0);
        let magic = header.u32_be()?;
        if magic != TSM_MAGIC {
            return Err(Error::new(ErrorKind::BadMagic { found: magic }).at(0));
        }
        let version = header.u8()?;
        if version != TSM_VERSION {
            return Err(Error::new(ErrorKind::UnsupportedVersion { found: version }).at(4));
        }
        let footer_at = data.len() - TSM_FOOTER_LEN;
        let index_start = Cursor::new(&data[footer_at..], footer_at as u64).u64_be()?;
        let index_start = usize::try_from(index_start)
            .ok()
            .filter(|&s| s >= TSM_HEADER_LEN && s < footer_at)
            .ok_or_else(|| {
                Error::new(ErrorKind::OutOfBounds {
                    what: "index start the footer gives",
                    start: index_start,
                    len: 0,
                    region: "blocks and index",
                    bounds: TSM_HEADER_LEN as u64..footer_at as u64,
                })
                .at(footer_at as u64)
            })?;
        Ok(TsmFile { data, index_start })
    }

    /// The whole file.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Offset of the first index entry.
    pub fn index_start(&self) -> u64 {
        self.index_start as u64
    }

    /// Bytes of the index region (without the footer).
    pub fn index_len(&self) -> u64 {
        self.index_bytes().len() as u64
    }

    /// The index region, without the footer.
    fn index_bytes(&self) -> &'a [u8] {
        &self.data[self.index_start..self.data.len() - TSM_FOOTER_LEN]
    }

    /// Walks the index entries front to back, one per key, checking each as it goes.
    pub fn index(&self) -> IndexIter<'a> {
        IndexIter {
            cursor: Cursor::new(self.index_bytes(), self.index_start as u64),
            index_start: self.index_start as u64,
            prev_key: None,
            failed: false,
        }
    }

    /// Walks the index from the entry at absolute offset `offset` (an [`IndexEntry::offset`]
    /// seen before, or [`TsmFile::index_start`]) to the end, checking keys ascend from
    /// there on.
    ///
    /// # Errors
    /// When `offset` is outside the index.
    pub fn index_at(&self, offset: u64) -> Result<IndexIter<'a>> {
        let index = self.index_bytes();
        // The end of the index is a place to start too: an iterator with nothing left.
        let start = self.index_position(offset, true)?;
        Ok(IndexIter {
            cursor: Cursor::new(&index[start..], offset),
            index_start: self.index_start as u64,
            prev_key: None,
            failed: false,
        })
    }

    /// The position in the index of the absolute offset `offset`: inside the index, or
    /// (with `allow_end`) just past it.
    fn index_position(&self, offset: u64, allow_end: bool) -> Result<usize> {
        let len = self.index_bytes().len();
        usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_sub(self.index_start))
            .filter(|&o| o < len || (allow_end && o == len))
            .ok_or_else(|| {
                Error::new(ErrorKind::OutOfBounds {
                    what: "index entry",
                    start: offset,
                    len: 0,
                    region: "index",
                    bounds: self.index_start as u64..(self.index_start + len) as u64,
                })
                .at(offset)
            })
    }

    /// The index entry that starts at absolute offset `offset` (as given by
    /// [`IndexEntry::offset`]).
    pub fn index_entry_at(&self, offset: u64) -> Result<IndexEntry<'a>> {
        let start = self.index_position(offset, false)?;
        let mut cursor = Cursor::new(&self.index_bytes()[start..], offset);
        IndexEntry::read(&mut cursor, self.index_start as u64)
    }

    /// The bytes of a block (after its CRC), checking the CRC when `verify_crc` is set.
    pub fn block(&self, entry: &BlockEntry, verify_crc: bool) -> Result<&'a [u8]> {
        // Bounds were checked against the index start when the entry was read; slicing
        // again with `get` keeps this safe for entries built by hand.
        let start = usize::try_from(entry.offset).ok();
        let end = start.and_then(|s| s.checked_add(entry.size as usize));
        let framed = match (start, end) {
            (Some(s), Some(e)) => self.data.get(s..e),
            _ => None,
        }
        .ok_or_else(|| {
            Error::new(ErrorKind::OutOfBounds {
                what: "block",
                start: entry.offset,
                len: u64::from(entry.size),
                region: "file",
                bounds: 0..self.data.len() as u64,
            })
            .at(entry.offset)
        })?;
        let (crc, bytes) = framed
            .split_first_chunk::<BLOCK_CRC_LEN>()
            .ok_or_else(|| Error::truncated(entry.offset, BLOCK_CRC_LEN as u64, 0))?;
        if verify_crc {
            let stored = u32::from_be_bytes(*crc);
            let computed = crc32fast::hash(bytes);
            if stored != computed {
                return Err(
                    Error::new(ErrorKind::ChecksumMismatch { stored, computed }).at(entry.offset)
                );
            }
        }
        Ok(bytes)
    }
}

/// One key's index entry: its type and its blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry<'a> {
    /// The composite key.
    pub key: &'a [u8],
    /// The type of every block of the key in this file.
    pub field_type: FieldType,
    /// Absolute offset of this entry in the file.
    pub offset: u64,
    blocks: &'a [u8],
    blocks_offset: u64,
}

impl<'a> IndexEntry<'a> {
    fn read(cursor: &mut Cursor<'a>, index_start: u64) -> Result<IndexEntry<'a>> {
        let offset = cursor.offset();
        let key_len = cursor.u16_be()?;
        if key_len == 0 {
            return Err(
                Error::new(ErrorKind::InvalidIndexEntry(IndexEntryFault::EmptyKey)).at(offset),
            );
        }
        let key = cursor.bytes(usize::from(key_len))?;
        let type_at = cursor.offset();
        let code = cursor.u8()?;
        let field_type = FieldType::from_block_type(code)
            .ok_or_else(|| Error::new(ErrorKind::UnknownType { found: code }).at(type_at))?;
        let count_at = cursor.offset();
        let count = cursor.u16_be()?;
        if count == 0 {
            return Err(
                Error::new(ErrorKind::InvalidIndexEntry(IndexEntryFault::NoBlocks))
                    .at(count_at)
                    .for_key(key),
            );
        }
        let blocks_offset = cursor.offset();
        let blocks = cursor
            .bytes(usize::from(count) * INDEX_BLOCK_ENTRY_LEN)
            .map_err(|e| e.for_key(key))?;
        let entry = IndexEntry {
            key,
            field_type,
            offset,
            blocks,
            blocks_offset,
        };
        for (i, block) in entry.blocks().enumerate() {
            let at = blocks_offset + (i * INDEX_BLOCK_ENTRY_LEN) as u64;
            block
                .check(index_start)
                .map_err(|e| e.rebase(at).for_key(key))?;
        }
        Ok(entry)
    }

    /// Number of blocks.
    pub fn block_count(&self) -> usize {
        self.blocks.len() / INDEX_BLOCK_ENTRY_LEN
    }

    /// The block entries, in stored order (ascending min time).
    #[inline]
    pub fn blocks(&self) -> impl ExactSizeIterator<Item = BlockEntry> + use<'a> {
        self.blocks
            .chunks_exact(INDEX_BLOCK_ENTRY_LEN)
            .map(|chunk| {
                let chunk: &[u8; INDEX_BLOCK_ENTRY_LEN] = chunk.try_into().unwrap_or(&[0; 28]);
                BlockEntry::parse(chunk)
            })
    }

    /// Absolute offset of block entry `i`'s 28 bytes (for error messages).
    pub fn block_entry_offset(&self, i: usize) -> u64 {
        self.blocks_offset + (i * INDEX_BLOCK_ENTRY_LEN) as u64
    }

    /// Smallest min time and largest max time over the blocks.
    pub fn time_range(&self) -> (i64, i64) {
        self.blocks().fold((i64::MAX, i64::MIN), |(lo, hi), b| {
            (lo.min(b.min_time), hi.max(b.max_time))
        })
    }
}

/// One block's entry in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    /// Time of the block's first point.
    pub min_time: i64,
    /// Time of the block's last point.
    pub max_time: i64,
    /// Absolute offset of the block's CRC.
    pub offset: u64,
    /// CRC plus block bytes.
    pub size: u32,
}

impl BlockEntry {
    /// Parses the 28 bytes of a block entry.
    ///
    /// ```
    /// let mut raw = [0u8; 28];
    /// raw[7] = 1; // min 1
    /// raw[15] = 9; // max 9
    /// raw[23] = 5; // offset 5
    /// raw[27] = 20; // size 20
    /// let e = influx_tsm_format::file::BlockEntry::parse(&raw);
    /// assert_eq!((e.min_time, e.max_time, e.offset, e.size), (1, 9, 5, 20));
    /// ```
    #[inline]
    pub fn parse(raw: &[u8; INDEX_BLOCK_ENTRY_LEN]) -> BlockEntry {
        let (min, rest) = raw.split_first_chunk::<8>().expect("28 > 8");
        let (max, rest) = rest.split_first_chunk::<8>().expect("20 > 8");
        let (offset, rest) = rest.split_first_chunk::<8>().expect("12 > 8");
        let size = rest.first_chunk::<4>().expect("4 == 4");
        BlockEntry {
            min_time: i64::from_be_bytes(*min),
            max_time: i64::from_be_bytes(*max),
            offset: u64::from_be_bytes(*offset),
            size: u32::from_be_bytes(*size),
        }
    }

    /// Checks the entry against the file: min <= max, the block lies between the header
    /// and the index, and holds more than a CRC and a type byte. Offsets in errors are
    /// relative to the entry.
    fn check(&self, index_start: u64) -> Result<()> {
        if self.min_time > self.max_time {
            return Err(Error::new(ErrorKind::InvalidIndexEntry(
                IndexEntryFault::TimesInverted {
                    min_time: self.min_time,
                    max_time: self.max_time,
                },
            ))
            .at(0));
        }
        let end = self.offset.checked_add(u64::from(self.size));
        if self.offset < TSM_HEADER_LEN as u64 || end.is_none_or(|e| e > index_start) {
            return Err(Error::new(ErrorKind::OutOfBounds {
                what: "block",
                start: self.offset,
                len: u64::from(self.size),
                region: "blocks region",
                bounds: TSM_HEADER_LEN as u64..index_start,
            })
            .at(16));
        }
        if (self.size as usize) <= BLOCK_CRC_LEN + 1 {
            return Err(Error::new(ErrorKind::InvalidIndexEntry(
                IndexEntryFault::BlockTooShort { size: self.size },
            ))
            .at(24));
        }
        Ok(())
    }
}

/// Iterator over a TSM file's index entries; see [`TsmFile::index`].
///
/// Checks that keys are strictly ascending and every block lies inside the file. After the
/// first error it yields nothing more.
#[derive(Clone, Debug)]
pub struct IndexIter<'a> {
    cursor: Cursor<'a>,
    index_start: u64,
    prev_key: Option<&'a [u8]>,
    failed: bool,
}

impl<'a> IndexIter<'a> {
    /// Absolute offset of the next entry (the end of the index once walked).
    pub fn offset(&self) -> u64 {
        self.cursor.offset()
    }

    /// The next entry, `Ok(None)` at the end of the index.
    pub fn next_entry(&mut self) -> Result<Option<IndexEntry<'a>>> {
        if self.failed || self.cursor.is_empty() {
            return Ok(None);
        }
        let result = IndexEntry::read(&mut self.cursor, self.index_start).and_then(|entry| {
            if self.prev_key.is_some_and(|prev| prev >= entry.key) {
                return Err(Error::new(ErrorKind::KeysOutOfOrder)
                    .at(entry.offset)
                    .for_key(entry.key));
            }
            self.prev_key = Some(entry.key);
            Ok(entry)
        });
        if result.is_err() {
            self.failed = true;
        }
        result.map(Some)
    }

    /// The next entry's key, its blocks stepped over unread and unchecked, its key not
    /// compared with the one before: for a quick pass that only needs to know where keys
    /// are. `Ok(None)` at the end; only what cannot be stepped over is an error.
    pub fn skim(&mut self) -> Result<Option<&'a [u8]>> {
        if self.failed || self.cursor.is_empty() {
            return Ok(None);
        }
        let result = (|| {
            let key_len = self.cursor.u16_be()?;
            let key = self.cursor.bytes(usize::from(key_len))?;
            let _type = self.cursor.u8()?;
            let count = self.cursor.u16_be()?;
            self.cursor
                .bytes(usize::from(count) * INDEX_BLOCK_ENTRY_LEN)?;
            Ok(key)
        })();
        if result.is_err() {
            self.failed = true;
        }
        result.map(Some)
    }
}

impl<'a> Iterator for IndexIter<'a> {
    type Item = Result<IndexEntry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

impl std::iter::FusedIterator for IndexIter<'_> {}
