//! One Parquet file from parts written in parallel.
//!
//! A measurement too big for one worker is cut into ranges of series; each range is
//! written by its own worker into a complete Parquet file of its own (a hidden temporary
//! name beside the destination), and [`join_parts`] then copies their row groups, in
//! order, into the destination without decoding them: column chunk bytes, statistics and
//! page indexes are moved as they are. The rows are exactly those one worker would have
//! written, in the same order; only the row group boundaries differ (each part ends one).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, IoContext, ParquetContext, Result, cannot};
use crate::output::{create_temp, sync_and_rename, temp_path};

/// The hidden name of part `index` of the file `dest` (a temporary name, so an
/// interrupted export's parts are deleted when it is resumed).
pub fn part_path(dest: &Path, index: usize) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    temp_path(&dest.with_file_name(format!("{name}.part{index}")))
}

/// Writes `dest` from the Parquet files `parts` (in this order), each written with
/// `schema` and `properties`; deletes the parts; returns the size of `dest`. `dest`
/// appears whole or not at all.
///
/// # Errors
/// A part that cannot be read or whose Parquet schema differs, write errors; the parts
/// are deleted in every case.
pub fn join_parts(
    dest: &Path,
    schema: SchemaRef,
    properties: WriterProperties,
    parts: &[PathBuf],
) -> Result<u64> {
    let result = join(dest, schema, properties, parts);
    for part in parts {
        let _ = std::fs::remove_file(part);
    }
    result
}

fn join(
    dest: &Path,
    schema: SchemaRef,
    properties: WriterProperties,
    parts: &[PathBuf],
) -> Result<u64> {
    let (temp, file) = create_temp(dest)?;
    let result = (|| {
        // Through `ArrowWriter`, so the file carries the same Arrow schema metadata as one
        // written in one piece.
        let (mut writer, _) = ArrowWriter::try_new(file, schema, Some(properties))
            .and_then(ArrowWriter::into_serialized_writer)
            .parquet_context(cannot("start", &temp))?;
        for part in parts {
            let input = File::open(part).io_context(cannot("open", part))?;
            let metadata = ParquetMetaDataReader::new()
                .with_page_index_policy(PageIndexPolicy::Optional)
                .parse_and_finish(&input)
                .parquet_context(cannot("read", part))?;
            if metadata.file_metadata().schema_descr() != writer.schema_descr() {
                return Err(Error::Internal(format!(
                    "{} has another Parquet schema than the file it is a part of",
                    part.display()
                )));
            }
            let page_index = metadata.page_index();
            for (rg_index, row_group) in metadata.row_groups().iter().enumerate() {
                let mut out = writer
                    .next_row_group()
                    .parquet_context(cannot("write", &temp))?;
                for (col_index, column) in row_group.columns().iter().enumerate() {
                    let close = ColumnCloseResult {
                        bytes_written: column.compressed_size() as u64,
                        rows_written: row_group.num_rows() as u64,
                        metadata: column.clone(),
                        bloom_filter: None,
                        column_index: page_index
                            .and_then(|pi| pi.column_index(rg_index, col_index))
                            .cloned(),
                        offset_index: page_index
                            .and_then(|pi| pi.offset_index(rg_index, col_index))
                            .cloned(),
                    };
                    out.append_column(&input, close)
                        .parquet_context(cannot("copy a column chunk into", &temp))?;
                }
                out.close().parquet_context(cannot("write", &temp))?;
            }
        }
        writer.finish().parquet_context(cannot("finish", &temp))?;
        sync_and_rename(writer.inner(), &temp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
