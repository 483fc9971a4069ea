//! One Parquet file from parts written in parallel.
//!
//! A measurement too big for one worker is cut into ranges of series; each range is
//! written by its own worker into a complete Parquet file of its own (a hidden temporary
//! name beside the destination), and a [`PartJoiner`] copies their row groups, in order,
//! into the destination without decoding them: column chunk bytes, statistics and page
//! indexes are moved as they are. It copies each part as soon as the parts before it are
//! in, while later parts are still being written, so little copying is left once the
//! last part is done. The rows are exactly those one worker would have written, in the
//! same order; only the row group boundaries differ (each part ends one).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use crate::destination::atomic::{create_temp, sync_and_rename, temp_path};
use crate::error::{Error, InternalError, IoContext, ParquetContext, Result, cannot};

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
/// `schema` and `properties`; deletes the parts; returns the size of `dest` (0, and no
/// file, when `parts` is empty). `dest` appears whole or not at all.
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
    let joiner = PartJoiner::new(dest, schema, properties);
    for (index, part) in parts.iter().enumerate() {
        joiner.part_done(index, Some(part.clone()));
    }
    joiner.finish(parts.len()).map(|bytes| bytes.unwrap_or(0))
}

/// Joins the parts of one file as they are finished, in order: a part is copied as soon
/// as every part before it has been, by the worker that finished it (or a later one), so
/// the copying overlaps the writing of the parts after it and what is left at the end is
/// about one part's copy.
pub struct PartJoiner {
    dest: PathBuf,
    /// Finished parts not yet copied, by index (none: a part without rows).
    ready: Mutex<BTreeMap<usize, Option<PathBuf>>>,
    out: Mutex<Joined>,
}

/// The joined file so far.
struct Joined {
    schema: SchemaRef,
    properties: WriterProperties,
    /// The index of the next part to copy.
    next: usize,
    /// The temporary file and its writer, from the first part with rows on.
    file: Option<(PathBuf, SerializedFileWriter<File>)>,
    /// The first error; the parts after it are only deleted.
    failed: Option<Error>,
}

impl PartJoiner {
    /// A joiner of parts (each written with `schema` and `properties`) into `dest`.
    pub fn new(dest: &Path, schema: SchemaRef, properties: WriterProperties) -> PartJoiner {
        PartJoiner {
            dest: dest.to_path_buf(),
            ready: Mutex::new(BTreeMap::new()),
            out: Mutex::new(Joined {
                schema,
                properties,
                next: 0,
                file: None,
                failed: None,
            }),
        }
    }

    /// Part `index` is finished: `file`, or none when it had no rows. Copies it and the
    /// finished parts after it if every part before it has been copied and no other
    /// worker is copying; otherwise leaves them to that worker or to
    /// [`PartJoiner::finish`].
    pub fn part_done(&self, index: usize, file: Option<PathBuf>) {
        lock(&self.ready).insert(index, file);
        if let Ok(mut out) = self.out.try_lock() {
            copy_ready(&self.ready, &self.dest, &mut out);
        }
    }

    /// Copies what is left of the `parts` parts (every one must have been reported by
    /// [`PartJoiner::part_done`]) and gives the file its name; returns its size, none when
    /// no part had rows (nothing is written then). `dest` appears whole or not at all;
    /// the parts are deleted in every case.
    ///
    /// # Errors
    /// A part that cannot be read or whose Parquet schema differs, a part never reported,
    /// write errors.
    pub fn finish(self, parts: usize) -> Result<Option<u64>> {
        let PartJoiner { dest, ready, out } = self;
        let mut out = out.into_inner().unwrap_or_else(|e| e.into_inner());
        copy_ready(&ready, &dest, &mut out);
        // Parts reported past the ones expected, or after a gap, are only deleted.
        for path in lock(&ready).values().flatten() {
            let _ = std::fs::remove_file(path);
        }
        if out.failed.is_none() && out.next != parts {
            out.failed = Some(Error::Internal(InternalError::PartMissing {
                dest: dest.to_path_buf(),
                part: out.next,
                parts,
            }));
        }
        let Joined { file, failed, .. } = out;
        match (file, failed) {
            (Some((temp, _)), Some(err)) => {
                let _ = std::fs::remove_file(&temp);
                Err(err)
            }
            (None, Some(err)) => Err(err),
            (None, None) => Ok(None),
            (Some((temp, mut writer)), None) => {
                let result = writer
                    .finish()
                    .map(drop)
                    .parquet_context(cannot("finish", &temp))
                    .and_then(|()| sync_and_rename(writer.inner(), &temp, &dest));
                if result.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                result.map(Some)
            }
        }
    }

    /// Gives up: deletes what was joined so far and every part reported.
    pub fn abort(self) {
        let out = self.out.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some((temp, writer)) = out.file {
            drop(writer);
            let _ = std::fs::remove_file(temp);
        }
        let ready = self.ready.into_inner().unwrap_or_else(|e| e.into_inner());
        for path in ready.values().flatten() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Copies the parts in `ready` from `out.next` on, in order, into `out` (the file of
/// `dest`); deletes each copied part.
fn copy_ready(ready: &Mutex<BTreeMap<usize, Option<PathBuf>>>, dest: &Path, out: &mut Joined) {
    loop {
        let Some(part) = lock(ready).remove(&out.next) else {
            return;
        };
        out.next += 1;
        let Some(path) = part else { continue };
        if out.failed.is_none()
            && let Err(err) = out.append(dest, &path)
        {
            out.failed = Some(err);
        }
        let _ = std::fs::remove_file(&path);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Joined {
    /// Copies the row groups of the part file `part` to the end of the joined file
    /// (started as `dest`'s temporary file at the first part).
    fn append(&mut self, dest: &Path, part: &Path) -> Result<()> {
        if self.file.is_none() {
            let (temp, file) = create_temp(dest)?;
            // Through `ArrowWriter`, so the file carries the same Arrow schema metadata as
            // one written in one piece.
            let started =
                ArrowWriter::try_new(file, self.schema.clone(), Some(self.properties.clone()))
                    .and_then(ArrowWriter::into_serialized_writer)
                    .parquet_context(cannot("start", &temp));
            match started {
                Ok((writer, _)) => self.file = Some((temp, writer)),
                Err(err) => {
                    let _ = std::fs::remove_file(&temp);
                    return Err(err);
                }
            }
        }
        let Some((temp, writer)) = self.file.as_mut() else {
            return Err(Error::Internal(InternalError::Impossible(
                "the joined file was not started",
            )));
        };
        let input = File::open(part).io_context(cannot("open", part))?;
        let metadata = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .parse_and_finish(&input)
            .parquet_context(cannot("read", part))?;
        if metadata.file_metadata().schema_descr() != writer.schema_descr() {
            return Err(Error::Internal(InternalError::PartSchema {
                part: part.to_path_buf(),
            }));
        }
        let page_index = metadata.page_index();
        for (rg_index, row_group) in metadata.row_groups().iter().enumerate() {
            let mut out = writer
                .next_row_group()
                .parquet_context(cannot("write", temp))?;
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
                    .parquet_context(cannot("copy a column chunk into", temp))?;
            }
            out.close().parquet_context(cannot("write", temp))?;
        }
        Ok(())
    }
}
