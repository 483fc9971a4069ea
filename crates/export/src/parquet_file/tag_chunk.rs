//! A tag column's chunk of a row group, encoded from the runs of its dictionary keys.
//!
//! Rows arrive sorted by series, so a tag column is a few long runs of one value each.
//! arrow-rs's writer interns and min/max-compares the string of every row (a fifth of
//! its CPU on the bench directory); here the work is per run and per distinct value, and
//! the bytes are what arrow-rs writes for a dictionary-encoded string column with our
//! properties: a PLAIN dictionary page (the chunk's distinct values, first-seen order),
//! version 1 data pages of RLE-encoded definition levels and dictionary indices, chunk
//! statistics, a column index and an offset index. As in arrow-rs, a dictionary that
//! outgrows `dictionary_page_size_limit` sends the rest of the chunk to PLAIN pages.
//!
//! Page boundaries are our own: a page ends after `data_page_row_count_limit` rows or
//! once its encoded values reach `data_page_size_limit` bytes.

mod page;

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, StringArray};
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Compression, Encoding, PageType, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, LevelHistogram, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use page::{PageCompressor, bits_for, replace, rle_run, truncate_max, truncate_min};

/// Size limits for one chunk, from the writer properties.
#[derive(Debug, Clone, Copy)]
struct Limits {
    page_rows: usize,
    page_bytes: usize,
    dictionary_bytes: usize,
    statistics_truncate: Option<usize>,
    index_truncate: Option<usize>,
}

/// Encodes one tag column of one row group. Feed it every batch's column with
/// [`TagChunkWriter::write`], then [`TagChunkWriter::close`] it and append the result to
/// the row group with `SerializedRowGroupWriter::append_column`.
pub struct TagChunkWriter {
    descr: ColumnDescPtr,
    compression: Compression,
    compressor: PageCompressor,
    limits: Limits,
    dictionary: Dictionary,
    page: OpenPage,
    pages: Vec<DataPage>,
    column_index: ColumnIndexBuilder,
    boundary: Boundary,
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
    nulls: u64,
    rows: u64,
    value_bytes: i64,
}

/// Whether the pages' min and max values are ascending / descending so far, and the last
/// non-null page's.
struct Boundary {
    ascending: bool,
    descending: bool,
    last: Option<(Vec<u8>, Vec<u8>)>,
}

/// The chunk's dictionary: distinct values in first-seen order, PLAIN-encoded as they
/// come; `full` once it reached its size limit (every later page is PLAIN).
#[derive(Default)]
struct Dictionary {
    index: HashMap<Box<[u8]>, u32>,
    plain: Vec<u8>,
    len: u32,
    full: bool,
}

/// The page being filled: runs of one dictionary index (or of nulls), and in PLAIN mode
/// the encoded values.
#[derive(Default)]
struct OpenPage {
    runs: Vec<Run>,
    plain: Vec<u8>,
    rows: usize,
    nulls: usize,
    value_bytes: i64,
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Run {
    /// The dictionary index, `None` for nulls; in PLAIN mode `Some(0)` for values.
    index: Option<u32>,
    len: usize,
}

/// Refuses writer properties that [`TagChunkWriter`] does not implement for the column
/// `descr`, so that a tag column is never silently written otherwise than the rest of the
/// file: writer version 2, dictionary encoding off, statistics below page level, the offset
/// index off, bloom filters, statistics in page headers, distinct-value counts, a fallback
/// encoding other than `PLAIN`, content-defined chunking, or a codec other than
/// uncompressed, Snappy, LZ4_RAW and ZSTD. (Encryption needs parquet's `encryption`
/// feature, which this crate does not enable.)
///
/// # Errors
/// [`ParquetError::NYI`] naming the column and the property.
pub fn check_properties(descr: &ColumnDescPtr, properties: &WriterProperties) -> Result<()> {
    let path = descr.path();
    let refuse = |what: &str| {
        Err(ParquetError::NYI(format!(
            "tag column {path}: the tag column writer does not implement {what}"
        )))
    };
    if properties.writer_version() != WriterVersion::PARQUET_1_0 {
        return refuse("writer version 2 (data page v2)");
    }
    if !properties.dictionary_enabled(path) {
        return refuse("dictionary encoding turned off");
    }
    if properties.statistics_enabled(path) != EnabledStatistics::Page {
        return refuse("statistics other than page level");
    }
    if properties.offset_index_disabled() {
        return refuse("a disabled offset index");
    }
    if properties.bloom_filter_properties(path).is_some() {
        return refuse("bloom filters");
    }
    if properties.write_page_header_statistics(path) {
        return refuse("statistics in page headers");
    }
    if properties.write_row_group_number_distinct_values() {
        return refuse("distinct-value counts");
    }
    if properties
        .encoding(path)
        .is_some_and(|encoding| encoding != Encoding::PLAIN)
    {
        return refuse("a fallback encoding other than PLAIN");
    }
    if properties.content_defined_chunking().is_some() {
        return refuse("content-defined chunking");
    }
    PageCompressor::new(properties.compression(path)).map(drop)
}

/// A finished data page, compressed, waiting for the dictionary page to go first.
struct DataPage {
    page: CompressedPage,
    rows: usize,
    value_bytes: i64,
}

impl TagChunkWriter {
    /// A writer for the column `descr` (a nullable or required `BYTE_ARRAY`).
    pub fn new(descr: ColumnDescPtr, properties: &WriterProperties) -> Result<Self> {
        if descr.physical_type() != PhysicalType::BYTE_ARRAY || descr.max_rep_level() != 0 {
            return Err(ParquetError::General(format!(
                "tag column {} is not a flat BYTE_ARRAY column",
                descr.path()
            )));
        }
        check_properties(&descr, properties)?;
        let path = descr.path();
        let compression = properties.compression(path);
        let compressor = PageCompressor::new(compression)?;
        let limits = Limits {
            page_rows: properties.column_data_page_row_count_limit(path).max(1),
            page_bytes: properties.column_data_page_size_limit(path).max(1),
            dictionary_bytes: properties.column_dictionary_page_size_limit(path),
            statistics_truncate: properties.statistics_truncate_length(),
            index_truncate: properties.column_index_truncate_length(),
        };
        Ok(TagChunkWriter {
            descr,
            compression,
            compressor,
            limits,
            dictionary: Dictionary::default(),
            page: OpenPage::default(),
            pages: Vec::new(),
            column_index: ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY),
            boundary: Boundary {
                ascending: true,
                descending: true,
                last: None,
            },
            min: None,
            max: None,
            nulls: 0,
            rows: 0,
            value_bytes: 0,
        })
    }

    /// Appends a column of a batch: a dictionary array with `Int32` keys and `Utf8`
    /// values.
    pub fn write(&mut self, array: &dyn Array) -> Result<()> {
        let array = array.as_dictionary_opt::<Int32Type>().ok_or_else(|| {
            ParquetError::General(format!(
                "tag column {} is not a dictionary with Int32 keys",
                self.descr.path()
            ))
        })?;
        let values: &StringArray = array.values().as_string_opt().ok_or_else(|| {
            ParquetError::General(format!(
                "tag column {} has dictionary values that are not Utf8",
                self.descr.path()
            ))
        })?;
        let keys = array.keys().values();
        let nulls = array.logical_nulls();
        // Dictionary index of each of the batch's values, filled as they are first met.
        let mut mapped: Vec<Option<u32>> = vec![None; values.len()];
        let mut start = 0;
        while start < keys.len() {
            let valid = nulls.as_ref().is_none_or(|n| n.is_valid(start));
            let key = keys[start];
            let mut end = start + 1;
            match &nulls {
                None => {
                    end += keys[end..].iter().take_while(|k| **k == key).count();
                }
                Some(nulls) if valid => {
                    while end < keys.len() && keys[end] == key && nulls.is_valid(end) {
                        end += 1;
                    }
                }
                Some(nulls) => {
                    while end < keys.len() && nulls.is_null(end) {
                        end += 1;
                    }
                }
            }
            if valid {
                let slot = usize::try_from(key)
                    .ok()
                    .filter(|k| *k < values.len())
                    .ok_or_else(|| {
                        ParquetError::General(format!(
                            "tag column {}: dictionary key {key} out of range",
                            self.descr.path()
                        ))
                    })?;
                self.push_values(
                    values.value(slot).as_bytes(),
                    &mut mapped[slot],
                    end - start,
                )?;
            } else {
                self.push_nulls(end - start)?;
            }
            start = end;
        }
        Ok(())
    }

    fn push_nulls(&mut self, mut rows: usize) -> Result<()> {
        if self.descr.max_def_level() == 0 {
            return Err(ParquetError::General(format!(
                "null in required tag column {}",
                self.descr.path()
            )));
        }
        while rows > 0 {
            let take = rows.min(self.limits.page_rows - self.page.rows);
            self.page.push_run(None, take);
            self.page.nulls += take;
            rows -= take;
            self.flush_page_if_full()?;
        }
        Ok(())
    }

    /// Appends `rows` rows of `value`; `mapped` caches its dictionary index for the
    /// batch.
    fn push_values(
        &mut self,
        value: &[u8],
        mapped: &mut Option<u32>,
        mut rows: usize,
    ) -> Result<()> {
        while rows > 0 {
            let room = self.limits.page_rows - self.page.rows;
            let take = if self.dictionary.full {
                // PLAIN pages end by size too: at least one row, then as many as fit.
                let per_row = 4 + value.len();
                let fit = self.limits.page_bytes.saturating_sub(self.page.plain.len()) / per_row;
                let take = rows.min(room).min(fit.max(1));
                let len = u32::try_from(value.len()).map_err(|_| {
                    ParquetError::General(format!(
                        "tag value of {} bytes in {}",
                        value.len(),
                        self.descr.path()
                    ))
                })?;
                for _ in 0..take {
                    self.page.plain.extend_from_slice(&len.to_le_bytes());
                    self.page.plain.extend_from_slice(value);
                }
                self.page.push_run(Some(0), take);
                take
            } else {
                let index = match *mapped {
                    Some(index) => index,
                    None => match self
                        .dictionary
                        .insert(value, self.limits.dictionary_bytes)?
                    {
                        Some(index) => {
                            *mapped = Some(index);
                            index
                        }
                        None => {
                            // The dictionary is full: the pages so far keep their indices,
                            // the rest of the chunk is PLAIN.
                            self.flush_page()?;
                            self.dictionary.full = true;
                            continue;
                        }
                    },
                };
                let take = rows.min(room);
                self.page.push_run(Some(index), take);
                take
            };
            self.page.value_bytes += (take * value.len()) as i64;
            self.page.update_min_max(value);
            rows -= take;
            self.flush_page_if_full()?;
        }
        Ok(())
    }

    fn flush_page_if_full(&mut self) -> Result<()> {
        if self.page.rows >= self.limits.page_rows
            || self.page.plain.len() >= self.limits.page_bytes
        {
            self.flush_page()?;
        }
        Ok(())
    }

    /// Widens the chunk's min and max by a page's, and follows the pages' boundary order.
    fn note_bounds(&mut self, min: &Vec<u8>, max: &Vec<u8>) {
        if self
            .min
            .as_ref()
            .is_none_or(|m| m.as_slice() > min.as_slice())
        {
            self.min = Some(min.clone());
        }
        if self
            .max
            .as_ref()
            .is_none_or(|m| m.as_slice() < max.as_slice())
        {
            self.max = Some(max.clone());
        }
        let boundary = &mut self.boundary;
        if let Some((last_min, last_max)) = boundary.last.as_ref() {
            if last_min > min || last_max > max {
                boundary.ascending = false;
            }
            if min > last_min || max > last_max {
                boundary.descending = false;
            }
        }
        boundary.last = Some((min.clone(), max.clone()));
    }

    /// Encodes and compresses the open page and records its statistics.
    fn flush_page(&mut self) -> Result<()> {
        if self.page.rows == 0 {
            return Ok(());
        }
        let page = std::mem::take(&mut self.page);
        let mut buf = Vec::new();
        if self.descr.max_def_level() > 0 {
            write_definition_levels(&mut buf, &page.runs)?;
        }
        let encoding = if self.dictionary.full {
            buf.extend_from_slice(&page.plain);
            Encoding::PLAIN
        } else {
            let bit_width = bits_for(self.dictionary.len.saturating_sub(1));
            buf.push(bit_width);
            for run in &page.runs {
                if let Some(index) = run.index {
                    rle_run(&mut buf, run.len, index, bit_width);
                }
            }
            Encoding::RLE_DICTIONARY
        };
        let uncompressed = buf.len();
        let buf = self.compressor.compress(buf)?;
        let rows = page.rows;
        let num_values = u32::try_from(rows)
            .map_err(|_| ParquetError::General("page with more than 2^32 rows".into()))?;

        // Statistics: the chunk's, the column index's and the boundary order.
        self.rows += rows as u64;
        self.nulls += page.nulls as u64;
        self.value_bytes += page.value_bytes;
        let null_page = page.nulls == rows;
        match (&page.min, &page.max) {
            (Some(min), Some(max)) if !null_page => {
                self.note_bounds(min, max);
                let limit = self.limits.index_truncate;
                self.column_index.append(
                    false,
                    truncate_min(min, limit).0,
                    truncate_max(max, limit).0,
                    page.nulls as i64,
                    None,
                );
            }
            _ => self
                .column_index
                .append(true, Vec::new(), Vec::new(), page.nulls as i64, None),
        }
        let histogram = self.histogram(page.nulls as u64, rows as u64);
        self.column_index.append_histograms(&None, &histogram);

        self.pages.push(DataPage {
            page: CompressedPage::new(
                Page::DataPage {
                    buf: Bytes::from(buf),
                    num_values,
                    encoding,
                    def_level_encoding: Encoding::RLE,
                    rep_level_encoding: Encoding::RLE,
                    statistics: None,
                },
                uncompressed,
            ),
            rows,
            value_bytes: page.value_bytes,
        });
        Ok(())
    }

    /// The definition-level histogram of `rows` rows of which `nulls` are null
    /// (`[nulls, values]`), only for a nullable column, as arrow-rs records it.
    fn histogram(&self, nulls: u64, rows: u64) -> Option<LevelHistogram> {
        (self.descr.max_def_level() > 0)
            .then(|| LevelHistogram::from(vec![nulls as i64, (rows - nulls) as i64]))
    }

    /// Finishes the chunk: its bytes (dictionary page, then data pages) and what the row
    /// group needs to know about them, offsets relative to the returned bytes.
    pub fn close(mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page()?;
        let dictionary = std::mem::take(&mut self.dictionary);
        let dictionary_uncompressed = dictionary.plain.len();
        let dictionary_page = Page::DictionaryPage {
            buf: Bytes::from(self.compressor.compress(dictionary.plain)?),
            num_values: dictionary.len,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };

        let mut sink = TrackedWrite::new(Vec::new());
        let mut writer = SerializedPageWriter::new(&mut sink);
        let mut offsets = OffsetIndexBuilder::new();
        let spec = writer.write_page(CompressedPage::new(
            dictionary_page,
            dictionary_uncompressed,
        ))?;
        let dictionary_offset = spec.offset as i64;
        let mut compressed = spec.compressed_size as i64;
        let mut uncompressed = spec.uncompressed_size as i64;
        let mut encoding_stats = vec![PageEncodingStats {
            page_type: PageType::DICTIONARY_PAGE,
            encoding: Encoding::PLAIN,
            count: 1,
        }];
        let mut encodings = vec![Encoding::PLAIN, Encoding::RLE];
        let mut data_offset = None;
        let mut num_values = 0i64;
        for page in std::mem::take(&mut self.pages) {
            count_data_page(&mut encoding_stats, &mut encodings, page.page.encoding());
            let spec = writer.write_page(page.page)?;
            data_offset.get_or_insert(spec.offset as i64);
            compressed += spec.compressed_size as i64;
            uncompressed += spec.uncompressed_size as i64;
            num_values += i64::from(spec.num_values);
            let size = i32::try_from(spec.compressed_size)
                .map_err(|_| ParquetError::General("page larger than 2 GiB".into()))?;
            offsets.append_offset_and_size(spec.offset as i64, size);
            offsets.append_row_count(page.rows as i64);
            offsets.append_unencoded_byte_array_data_bytes(Some(page.value_bytes));
        }
        writer.close()?;
        let bytes = Bytes::from(sink.into_inner()?);

        let statistics = self.statistics();
        let histogram = self.histogram(self.nulls, self.rows);
        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.compression)
            .set_encodings(encodings)
            .set_page_encoding_stats(encoding_stats)
            .set_total_compressed_size(compressed)
            .set_total_uncompressed_size(uncompressed)
            .set_num_values(num_values)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(Some(dictionary_offset))
            .set_statistics(statistics)
            .set_unencoded_byte_array_data_bytes(Some(self.value_bytes))
            .set_definition_level_histogram(histogram)
            .build()?;
        let Boundary {
            ascending,
            descending,
            ..
        } = self.boundary;
        self.column_index
            .set_boundary_order(match (ascending, descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: self.rows,
            metadata,
            bloom_filter: None,
            column_index: Some(self.column_index.build()?),
            offset_index: Some(offsets.build()),
        };
        Ok((bytes, close))
    }

    /// The chunk's statistics: min and max (truncated as the properties say) and nulls.
    fn statistics(&self) -> Statistics {
        let limit = self.limits.statistics_truncate;
        let (min, min_exact) = match &self.min {
            Some(min) => {
                let (v, truncated) = truncate_min(min, limit);
                (Some(v.into()), !truncated)
            }
            None => (None, true),
        };
        let (max, max_exact) = match &self.max {
            Some(max) => {
                let (v, truncated) = truncate_max(max, limit);
                (Some(v.into()), !truncated)
            }
            None => (None, true),
        };
        Statistics::ByteArray(
            ValueStatistics::new(min, max, None, Some(self.nulls), false)
                .with_min_is_exact(min_exact)
                .with_max_is_exact(max_exact),
        )
    }
}

/// Appends a page's definition levels (1 for a row with a value, 0 for a null), RLE
/// encoded after their length, as a version 1 data page holds them.
fn write_definition_levels(buf: &mut Vec<u8>, page_runs: &[Run]) -> Result<()> {
    let mut levels = Vec::new();
    let mut runs = page_runs.iter().peekable();
    while let Some(run) = runs.next() {
        let valid = run.index.is_some();
        let mut len = run.len;
        while let Some(next) = runs.next_if(|r| r.index.is_some() == valid) {
            len += next.len;
        }
        rle_run(&mut levels, len, u32::from(valid), 1);
    }
    let levels_len = u32::try_from(levels.len())
        .map_err(|_| ParquetError::General("definition levels too long".into()))?;
    buf.extend_from_slice(&levels_len.to_le_bytes());
    buf.extend_from_slice(&levels);
    Ok(())
}

/// Counts a data page of `encoding` in the chunk's page encoding stats (runs of one
/// encoding counted together) and its list of encodings.
fn count_data_page(
    encoding_stats: &mut Vec<PageEncodingStats>,
    encodings: &mut Vec<Encoding>,
    encoding: Encoding,
) {
    match encoding_stats.last_mut() {
        Some(last) if last.page_type == PageType::DATA_PAGE && last.encoding == encoding => {
            last.count += 1;
        }
        _ => encoding_stats.push(PageEncodingStats {
            page_type: PageType::DATA_PAGE,
            encoding,
            count: 1,
        }),
    }
    if !encodings.contains(&encoding) {
        encodings.push(encoding);
    }
}

impl Dictionary {
    /// The index of `value`, added if new; `None` when adding it would take the
    /// dictionary past `limit` bytes (never for the first value).
    fn insert(&mut self, value: &[u8], limit: usize) -> Result<Option<u32>> {
        if let Some(index) = self.index.get(value) {
            return Ok(Some(*index));
        }
        if self.len > 0 && self.plain.len() + 4 + value.len() > limit {
            return Ok(None);
        }
        let len = u32::try_from(value.len())
            .map_err(|_| ParquetError::General(format!("tag value of {} bytes", value.len())))?;
        let index = self.len;
        self.plain.extend_from_slice(&len.to_le_bytes());
        self.plain.extend_from_slice(value);
        self.index.insert(value.into(), index);
        self.len += 1;
        Ok(Some(index))
    }
}

impl OpenPage {
    fn push_run(&mut self, index: Option<u32>, len: usize) {
        self.rows += len;
        match self.runs.last_mut() {
            Some(last) if last.index == index => last.len += len,
            _ => self.runs.push(Run { index, len }),
        }
    }

    fn update_min_max(&mut self, value: &[u8]) {
        if self.min.as_deref().is_none_or(|m| m > value) {
            replace(&mut self.min, value);
        }
        if self.max.as_deref().is_none_or(|m| m < value) {
            replace(&mut self.max, value);
        }
    }
}

/// Whether `TagChunkWriter` writes the column `field` of our schema: a tag column of
/// `influx_tsm_arrow` (a dictionary of strings with `Int32` keys).
pub fn is_tag_column(field: &arrow_schema::Field) -> bool {
    *field.data_type() == influx_tsm_arrow::tag_data_type()
}
