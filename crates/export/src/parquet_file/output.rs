//! Output files: where they go, how they are named, Parquet writer settings, and
//! temp-file-then-rename so each file appears whole or not at all.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{FieldRef, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::ZstdLevel;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::destination::atomic::{create_temp, sync_and_rename};
use crate::error::{Error, InternalError, IoContext, OptionsError, ParquetContext, Result, cannot};
use crate::naming;
/// Hex, as the metadata writes a name that is not UTF-8 (its one owner is [`crate::naming`]).
pub use crate::naming::{hex, unhex};
use crate::parquet_file::field_encoding;
use crate::parquet_file::tag_chunk::{self, TagChunkWriter};
use crate::plan::options::{Compression, Options};

/// Parquet key-value metadata: the database.
pub const META_DATABASE: &str = "influxdb.database";
/// Parquet key-value metadata: the retention policy.
pub const META_RETENTION_POLICY: &str = "influxdb.retention_policy";
/// Parquet key-value metadata: the measurement (lossy when not UTF-8).
pub const META_MEASUREMENT: &str = "influxdb.measurement";
/// Parquet key-value metadata, only for a measurement name that is not UTF-8: its bytes
/// in lowercase hex.
pub const META_MEASUREMENT_HEX: &str = "influxdb.measurement_hex";
/// Parquet key-value metadata: the shard id, in a file of one shard.
pub const META_SHARD: &str = "influxdb.shard";
/// Parquet key-value metadata: the shard ids, comma-separated in time order, in a file of
/// a group of several shards.
pub const META_SHARDS: &str = "influxdb.shards";
/// Parquet key-value metadata: the version of influx-tsm that wrote the file.
pub const META_VERSION: &str = "influx-tsm.version";

/// The file of one (database, retention policy, measurement, shard), relative to the
/// output directory: `<db>/<rp>/<measurement>/<shard>.parquet`, each name encoded by
/// [`naming::encode`].
pub fn relative_path(
    database: &str,
    retention_policy: &str,
    measurement: &[u8],
    shard: u64,
) -> PathBuf {
    group_path(database, retention_policy, measurement, &shard.to_string())
}

/// The file of one (database, retention policy, measurement) of the group of shards
/// `group` ([`crate::plan::group::ShardGroup::name`]), relative to the output directory:
/// `<db>/<rp>/<measurement>/<group>.parquet`.
pub fn group_path(
    database: &str,
    retention_policy: &str,
    measurement: &[u8],
    group: &str,
) -> PathBuf {
    let mut path = PathBuf::from(naming::encode(database.as_bytes()));
    path.push(naming::encode(retention_policy.as_bytes()));
    path.push(naming::encode(measurement));
    path.push(format!("{group}.parquet"));
    path
}

/// The line-protocol file of one (database, retention policy, shard), relative to the
/// output directory: `<db>/<rp>/<shard>.lp` (`.lp.gz` when compressed), names encoded by
/// [`naming::encode`].
pub fn lp_relative_path(database: &str, retention_policy: &str, shard: u64, gzip: bool) -> PathBuf {
    lp_group_path(database, retention_policy, &shard.to_string(), gzip)
}

/// The line-protocol file of the group of shards `group` of (database, retention policy),
/// relative to the output directory: `<db>/<rp>/<group>.lp` (`.lp.gz` when compressed).
pub fn lp_group_path(database: &str, retention_policy: &str, group: &str, gzip: bool) -> PathBuf {
    let mut path = PathBuf::from(naming::encode(database.as_bytes()));
    path.push(naming::encode(retention_policy.as_bytes()));
    path.push(format!("{group}.lp{}", if gzip { ".gz" } else { "" }));
    path
}

/// Parquet's codec for `compression`.
fn codec(compression: Compression) -> Result<parquet::basic::Compression> {
    Ok(match compression {
        Compression::Zstd(level) => parquet::basic::Compression::ZSTD(
            ZstdLevel::try_new(level)
                .map_err(|_| Error::Options(OptionsError::ZstdLevel(level)))?,
        ),
        Compression::Snappy => parquet::basic::Compression::SNAPPY,
        Compression::Lz4 => parquet::basic::Compression::LZ4_RAW,
        Compression::None => parquet::basic::Compression::UNCOMPRESSED,
    })
}

/// What one Parquet file is written with: the options' codec and row-group size, and the
/// file's identity, which its metadata names.
#[derive(Clone, Copy, Debug)]
pub struct FileSettings<'a> {
    /// The codec of every column.
    pub compression: Compression,
    /// Rows per row group.
    pub row_group_size: usize,
    /// The database.
    pub database: &'a str,
    /// The retention policy.
    pub retention_policy: &'a str,
    /// The measurement (its bytes as stored).
    pub measurement: &'a [u8],
    /// The shards whose rows it holds, in time order.
    pub shards: &'a [u64],
}

impl<'a> FileSettings<'a> {
    /// The settings of the file of `measurement` of `shards` in `database/retention_policy`,
    /// with the codec and row-group size of `options`.
    pub fn new(
        options: &Options,
        database: &'a str,
        retention_policy: &'a str,
        measurement: &'a [u8],
        shards: &'a [u64],
    ) -> FileSettings<'a> {
        FileSettings {
            compression: options.compression,
            row_group_size: options.row_group_size,
            database,
            retention_policy,
            measurement,
            shards,
        }
    }
}

/// The settings of one file that do not depend on its data: codec, row groups, the
/// key-value metadata naming the database, retention policy, measurement and shards, and
/// the time column's encoding. (A file joined from parts needs no more: its column chunks
/// come encoded.)
///
/// `time` is `DELTA_BINARY_PACKED`: its values are nearly all distinct, so a dictionary
/// only costs hashing until it overflows, while deltas store regular intervals in a few
/// bits each. Measured on a 2 M-value shard of the bench directory
/// (`benches/examples/parquet_settings.rs`): 18 % smaller files and 10 % less writer CPU
/// than dictionary-encoding the time column. Tag columns are dictionary-encoded (their
/// writer, [`tag_chunk`], implements nothing else).
pub fn file_properties(settings: &FileSettings<'_>) -> Result<WriterPropertiesBuilder> {
    let metadata = file_metadata(settings)
        .into_iter()
        .map(|(key, value)| KeyValue::new(key, value))
        .collect();
    let time = ColumnPath::from("time");
    Ok(WriterProperties::builder()
        .set_compression(codec(settings.compression)?)
        .set_column_dictionary_enabled(time.clone(), false)
        .set_column_encoding(time, parquet::basic::Encoding::DELTA_BINARY_PACKED)
        .set_max_row_group_row_count(Some(settings.row_group_size))
        .set_key_value_metadata(Some(metadata)))
}

/// The metadata of one file, the same in its Parquet key-value metadata and in its stored
/// Arrow schema (readers show one or the other): database, retention policy,
/// measurement (and its exact bytes in hex when they are not UTF-8), shard (or the shards
/// of a group, [`META_SHARDS`]), and the version of influx-tsm that wrote it.
pub fn file_metadata(settings: &FileSettings<'_>) -> Vec<(String, String)> {
    let FileSettings {
        database,
        retention_policy,
        measurement,
        shards,
        ..
    } = *settings;
    let shard = match shards {
        [one] => (META_SHARD.to_string(), one.to_string()),
        many => (
            META_SHARDS.to_string(),
            many.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
    };
    let mut metadata = vec![
        (META_DATABASE.to_string(), database.to_string()),
        (
            META_RETENTION_POLICY.to_string(),
            retention_policy.to_string(),
        ),
        (
            META_MEASUREMENT.to_string(),
            String::from_utf8_lossy(measurement).into_owned(),
        ),
        shard,
        (
            META_VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ];
    if std::str::from_utf8(measurement).is_err() {
        metadata.push((META_MEASUREMENT_HEX.to_string(), hex(measurement)));
    }
    metadata
}

/// `schema` with the file's metadata ([`file_metadata`]) in place of its own.
pub fn file_schema(schema: &SchemaRef, settings: &FileSettings<'_>) -> SchemaRef {
    let metadata: std::collections::HashMap<String, String> =
        file_metadata(settings).into_iter().collect();
    Arc::new(schema.as_ref().clone().with_metadata(metadata))
}

/// Writer settings for one file; `first_batch` is the file's first record batch: the
/// file's settings ([`file_properties`]) and an encoding for each field column.
///
/// Each field column gets the encoding that is smallest on a sample of `first_batch`
/// ([`field_encoding::choose`]): sensor readings keep their dictionary, counters and
/// noisy floats do not.
pub fn writer_properties(
    settings: &FileSettings<'_>,
    first_batch: &RecordBatch,
) -> Result<WriterProperties> {
    let codec = codec(settings.compression)?;
    let mut builder = file_properties(settings)?;
    let schema = first_batch.schema();
    let fields: Vec<(&FieldRef, &ArrayRef)> = schema
        .fields()
        .iter()
        .zip(first_batch.columns())
        .filter(|(field, _)| {
            field
                .metadata()
                .get(influx_tsm_arrow::META_ROLE)
                .map(String::as_str)
                == Some(influx_tsm_arrow::Role::Field.as_str())
        })
        .collect();
    // One rayon task per column, as the columns are encoded: a wide measurement's trials
    // spread over the idle workers.
    let choices = fields
        .par_iter()
        .with_max_len(1)
        .map(|(field, column)| field_encoding::choose(field, column, codec))
        .collect::<parquet::errors::Result<Vec<_>>>()
        .map_err(|source| Error::Parquet {
            what: "cannot try the field encodings".into(),
            source,
        })?;
    for ((field, _), choice) in fields.iter().zip(choices) {
        builder = choice.apply(builder, ColumnPath::from(field.name().as_str()));
    }
    Ok(builder.build())
}

/// A Parquet file being written under its temporary name.
///
/// Each batch's columns are encoded (dictionary, statistics, pages, compression) as
/// separate rayon tasks, so idle workers of the export's pool help with a shard's file;
/// column chunks are appended in schema order, so the bytes do not depend on the number
/// of threads. This is what `ArrowWriter` does column after column, with the same row
/// group boundaries (`max_row_group_row_count` rows).
pub struct PendingFile {
    temp: PathBuf,
    dest: PathBuf,
    schema: SchemaRef,
    writer: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    max_rows: usize,
    row_group: Option<RowGroup>,
}

/// The row group being encoded: one writer per column.
struct RowGroup {
    writers: Vec<ColumnEncoder>,
    rows: usize,
}

/// How one column of a row group is encoded: tag columns by [`TagChunkWriter`] (from
/// their runs), the others by arrow-rs.
enum ColumnEncoder {
    Arrow(Box<ArrowColumnWriter>),
    Tag(Box<TagChunkWriter>),
}

/// A finished column chunk of either kind.
enum ColumnChunk {
    Arrow(ArrowColumnChunk),
    Tag(Bytes, ColumnCloseResult),
}

impl ColumnEncoder {
    fn write(&mut self, field: &FieldRef, column: &ArrayRef) -> parquet::errors::Result<()> {
        match self {
            ColumnEncoder::Arrow(writer) => compute_leaves(field, column)?
                .iter()
                .try_for_each(|leaf| writer.write(leaf)),
            ColumnEncoder::Tag(writer) => writer.write(column.as_ref()),
        }
    }

    fn close(self) -> parquet::errors::Result<ColumnChunk> {
        match self {
            ColumnEncoder::Arrow(writer) => writer.close().map(ColumnChunk::Arrow),
            ColumnEncoder::Tag(writer) => writer
                .close()
                .map(|(bytes, close)| ColumnChunk::Tag(bytes, close)),
        }
    }
}

impl PendingFile {
    /// Creates the folders and the temporary file for `dest`.
    pub fn create(dest: PathBuf, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        let (temp, file) = create_temp(&dest)?;
        let max_rows = properties
            .max_row_group_row_count()
            .unwrap_or(usize::MAX)
            .max(1);
        if properties.max_row_group_bytes().is_some() {
            return Err(Error::Internal(InternalError::Impossible(
                "row groups limited by bytes are not supported",
            )));
        }
        let (writer, factory) = ArrowWriter::try_new(file, schema.clone(), Some(properties))
            .and_then(ArrowWriter::into_serialized_writer)
            .parquet_context(cannot("start", &temp))?;
        if writer.schema_descr().num_columns() != schema.fields().len() {
            return Err(Error::Internal(InternalError::Impossible(
                "nested columns are not supported",
            )));
        }
        // Refused now rather than at the first row group, before any data is written.
        for (i, field) in schema.fields().iter().enumerate() {
            if tag_chunk::is_tag_column(field) {
                tag_chunk::check_properties(&writer.schema_descr().column(i), writer.properties())
                    .parquet_context(cannot("start", &temp))?;
            }
        }
        Ok(PendingFile {
            temp,
            dest,
            schema,
            writer,
            factory,
            max_rows,
            row_group: None,
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.write_batch(batch)
            .parquet_context(cannot("write", &self.temp))
    }

    fn write_batch(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let mut row_group = match self.row_group.take() {
                Some(row_group) => row_group,
                None => RowGroup {
                    writers: self.column_encoders()?,
                    rows: 0,
                },
            };
            let rows = (batch.num_rows() - offset).min(self.max_rows - row_group.rows);
            let part = batch.slice(offset, rows);
            let fields = self.schema.fields();
            row_group
                .writers
                .par_iter_mut()
                .zip(part.columns().par_iter().zip(fields.par_iter()))
                .with_max_len(1)
                .try_for_each(|(writer, (column, field))| writer.write(field, column))?;
            row_group.rows += rows;
            offset += rows;
            let full = row_group.rows >= self.max_rows;
            self.row_group = Some(row_group);
            if full {
                self.flush_row_group()?;
            }
        }
        Ok(())
    }

    /// Ends the row group being written, if any (its encoded pages leave memory for the
    /// file): a file that stays open while others are written holds no row group then.
    pub fn end_row_group(&mut self) -> Result<()> {
        self.flush_row_group()
            .parquet_context(cannot("write", &self.temp))
    }

    /// One encoder per column for a new row group.
    fn column_encoders(&self) -> parquet::errors::Result<Vec<ColumnEncoder>> {
        let arrow = self
            .factory
            .create_column_writers(self.writer.flushed_row_groups().len())?;
        let descriptors = self.writer.schema_descr();
        let properties = self.writer.properties();
        arrow
            .into_iter()
            .zip(self.schema.fields())
            .enumerate()
            .map(|(i, (writer, field))| {
                Ok(if tag_chunk::is_tag_column(field) {
                    ColumnEncoder::Tag(Box::new(TagChunkWriter::new(
                        descriptors.column(i),
                        properties,
                    )?))
                } else {
                    ColumnEncoder::Arrow(Box::new(writer))
                })
            })
            .collect()
    }

    /// Closes the columns of the row group being encoded (in parallel: the last pages
    /// are compressed here) and appends them to the file in order.
    fn flush_row_group(&mut self) -> parquet::errors::Result<()> {
        let Some(row_group) = self.row_group.take() else {
            return Ok(());
        };
        let chunks = row_group
            .writers
            .into_par_iter()
            .with_max_len(1)
            .map(ColumnEncoder::close)
            .collect::<parquet::errors::Result<Vec<ColumnChunk>>>()?;
        let mut writer = self.writer.next_row_group()?;
        for chunk in chunks {
            match chunk {
                ColumnChunk::Arrow(chunk) => chunk.append_to_row_group(&mut writer)?,
                ColumnChunk::Tag(bytes, close) => writer.append_column(&bytes, close)?,
            }
        }
        writer.close()?;
        Ok(())
    }

    /// Finishes the file, flushes it to disk and gives it its final name; returns its size.
    /// Refuses to replace an existing file (two names that a case-insensitive file system
    /// takes for one).
    pub fn commit(mut self) -> Result<u64> {
        let result = self.finish();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        result
    }

    fn finish(&mut self) -> Result<u64> {
        self.flush_row_group()
            .and_then(|()| self.writer.finish().map(drop))
            .parquet_context(cannot("finish", &self.temp))?;
        sync_and_rename(self.writer.inner(), &self.temp, &self.dest)
    }

    /// Finishes the file under its temporary name, neither flushed to disk nor renamed;
    /// returns that name and the size. For a part that is copied into its final file at
    /// once (which is synced) and then deleted: syncing it too would write it twice.
    pub fn finish_temporary(mut self) -> Result<(PathBuf, u64)> {
        let result = self
            .flush_row_group()
            .and_then(|()| self.writer.finish().map(drop))
            .parquet_context(cannot("finish", &self.temp))
            .and_then(|()| {
                self.writer
                    .inner()
                    .metadata()
                    .io_context(cannot("read the size of", &self.temp))
            });
        match result {
            Ok(metadata) => Ok((self.temp.clone(), metadata.len())),
            Err(err) => {
                let _ = std::fs::remove_file(&self.temp);
                Err(err)
            }
        }
    }

    /// Gives up: deletes the temporary file.
    pub fn abort(self) {
        let temp = self.temp.clone();
        drop(self);
        let _ = std::fs::remove_file(temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&all)).unwrap(), all);
        assert_eq!(hex(b"\x00\xffab"), "00ff6162");
        assert_eq!(unhex("00FFab").unwrap(), b"\x00\xff\xab");
        assert_eq!(unhex("").unwrap(), b"");
        // Odd lengths.
        assert!(unhex("abc").is_none());
        assert!(unhex("0").is_none());
        // Not hex digits, also a character of two bytes and one split across pairs.
        assert!(unhex("zz").is_none());
        assert!(unhex("0g").is_none());
        assert!(unhex("é0f").is_none());
        assert!(unhex("aéb").is_none());
        assert!(unhex("+f").is_none());
    }

    use std::path::Path;

    use crate::destination::atomic::{is_temp_name, temp_path};

    #[test]
    fn paths() {
        assert_eq!(
            relative_path("db", "autogen", b"cpu/load", 12),
            Path::new("db/autogen/cpu%2Fload/12.parquet")
        );
        assert_eq!(
            lp_relative_path("db", "a/b", 7, true),
            Path::new("db/a%2Fb/7.lp.gz")
        );
        assert_eq!(
            temp_path(Path::new("a/12.parquet")),
            Path::new("a/.12.parquet.tmp")
        );
        assert!(is_temp_name(".12.parquet.tmp"));
        assert!(!is_temp_name("12.parquet"));
    }
}
