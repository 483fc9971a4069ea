//! The export's manifest, `OUT/manifest.json`: what was written, and how to read it.
//!
//! Written whole (by rename) when an export finishes, from every shard's record, the
//! ones a resumed export found done included, so a resumed export ends with the same
//! manifest as an uninterrupted one. It holds nothing that depends on the run (no clock,
//! no thread count).
//!
//! Format `influx-tsm.export-manifest`, version 2 (a reader must check both; version 2
//! added `shards`, since a file may hold a group of shards):
//!
//! | key | what |
//! | --- | --- |
//! | `format`, `version` | `"influx-tsm.export-manifest"`, `2` |
//! | `writer` | `influx-tsm <version>` |
//! | `output` | `parquet` or `lp` |
//! | `type_conflicts` | the policy (`split`, `float`, `string`); null for `lp` |
//! | `files[]` | per file: `database`, `retention_policy`, `measurement` (null for `lp`, whose files hold whole shards), `shard` (the first shard of the file), `shards` (every shard whose data the file holds, in time order), `path` (relative, `/`-separated), `rows`, `values` (non-null field values), `min_time`, `max_time` (ns since the epoch; null for a file without rows), `bytes` |
//! | `measurements[]` | per Parquet table: `database`, `retention_policy`, `measurement`, `folder`, `columns[]` (`name`, `role` `time`/`tag`/`field`, `key`, and for fields `type` and `stored_types`, the types stored in the shards whose values are in the column) |
//! | `conflicts[]` | per field stored with several types: `database`, `retention_policy`, `measurement`, `field`, `types` (type -> shard ids), `columns` (type -> the column holding its values; empty for `lp`) |
//! | `skipped[]` | data left out under `--skip-corrupt`, as in the summary |
//! | `totals` | `files`, `rows`, `values`, `bytes`, `cast_values`, `inexact_values` |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::destination::records::ShardResult;
use crate::destination::records::SkipRecord;
use crate::destination::state::OutDir;
use crate::error::{Error, IoContext, OutDirError, Result, cannot};
use crate::plan::options::{Format, Options};
use crate::plan::tables::Tables;
use crate::report::conflicts;

/// The manifest's file name, at the root of the output folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest's `format`.
pub const MANIFEST_FORMAT: &str = "influx-tsm.export-manifest";
/// The manifest's `version`.
pub const MANIFEST_VERSION: u32 = 2;

/// `OUT/manifest.json`; see the module docs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportManifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// `influx-tsm <version>`.
    pub writer: String,
    /// `parquet` or `lp`.
    pub output: String,
    /// The type-conflict policy of a Parquet export.
    pub type_conflicts: Option<String>,
    /// Every file written.
    pub files: Vec<ManifestFile>,
    /// Every Parquet table (one per database, retention policy and measurement).
    pub measurements: Vec<ManifestTable>,
    /// Fields stored with several types.
    pub conflicts: Vec<ManifestConflict>,
    /// Data left out under `--skip-corrupt`.
    pub skipped: Vec<SkipRecord>,
    /// Sums over `files`, and the values cast.
    pub totals: Totals,
}

/// One file of the export.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The measurement (lossy when not UTF-8); none for a line-protocol file.
    pub measurement: Option<String>,
    /// The (first) shard id.
    pub shard: u64,
    /// Every shard whose data the file holds, in time order (`shard` first).
    pub shards: Vec<u64>,
    /// Relative to the output folder, `/`-separated.
    pub path: String,
    /// Rows (points).
    pub rows: u64,
    /// Non-null field values.
    pub values: u64,
    /// The earliest timestamp, ns since the epoch.
    pub min_time: Option<i64>,
    /// The latest timestamp.
    pub max_time: Option<i64>,
    /// The file's size.
    pub bytes: u64,
}

/// One measurement's table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestTable {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The measurement (lossy when not UTF-8).
    pub measurement: String,
    /// The folder of its files, relative to the output folder.
    pub folder: String,
    /// Its columns, in order.
    pub columns: Vec<ManifestColumn>,
}

/// One column of a table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestColumn {
    /// The column's name.
    pub name: String,
    /// `time`, `tag` or `field`.
    pub role: String,
    /// The InfluxDB key (lossy when not UTF-8).
    pub key: String,
    /// A field column's type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub field_type: Option<String>,
    /// The stored types whose values are in this field column.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub stored_types: Vec<String>,
}

/// A field stored with several types, and where each type's values went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestConflict {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The measurement.
    pub measurement: String,
    /// The field key.
    pub field: String,
    /// Each stored type, with the shards holding it.
    pub types: BTreeMap<String, Vec<u64>>,
    /// Each stored type, with the column holding its values (Parquet).
    pub columns: BTreeMap<String, String>,
}

/// Sums over the files, and what was cast.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Totals {
    /// Files.
    pub files: u64,
    /// Rows.
    pub rows: u64,
    /// Non-null field values.
    pub values: u64,
    /// Bytes.
    pub bytes: u64,
    /// Field values cast to their column's type.
    pub cast_values: u64,
    /// Field values left null for want of an exact cast.
    pub inexact_values: u64,
}

impl ExportManifest {
    /// The manifest of a finished export.
    pub fn new(config: &Options, tables: &Tables, results: &[ShardResult]) -> ExportManifest {
        let mut files = Vec::new();
        let mut totals = Totals::default();
        for m in results.iter().map(|r| &r.manifest) {
            totals.cast_values += m.cast_values;
            totals.inexact_values += m.inexact_values;
            for f in &m.files {
                totals.files += 1;
                totals.rows += f.rows;
                totals.values += f.values;
                totals.bytes += f.bytes;
                files.push(ManifestFile {
                    database: m.database.clone(),
                    retention_policy: m.retention_policy.clone(),
                    measurement: (config.format == Format::Parquet).then(|| f.measurement.clone()),
                    shard: m.shard,
                    shards: m.shard_ids(),
                    path: f.path.clone(),
                    rows: f.rows,
                    values: f.values,
                    min_time: f.min_time,
                    max_time: f.max_time,
                    bytes: f.bytes,
                });
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let measurements = manifest_tables(tables);
        let conflicts = manifest_conflicts(results, &measurements);
        ExportManifest {
            format: MANIFEST_FORMAT.to_string(),
            version: MANIFEST_VERSION,
            writer: format!("influx-tsm {}", env!("CARGO_PKG_VERSION")),
            output: match config.format {
                Format::Parquet => "parquet",
                Format::Lp => "lp",
            }
            .to_string(),
            type_conflicts: (config.format == Format::Parquet)
                .then(|| tables.policy().name().to_string()),
            files,
            measurements,
            conflicts,
            skipped: results
                .iter()
                .flat_map(|r| r.manifest.skipped.iter().cloned())
                .collect(),
            totals,
        }
    }

    /// The manifest as the JSON text of `manifest.json`.
    ///
    /// # Errors
    /// When it cannot be serialised (it always can).
    pub fn to_json(&self) -> Result<String> {
        let text = serde_json::to_string_pretty(self).map_err(|source| Error::State {
            what: "cannot write the manifest".into(),
            source,
        })?;
        Ok(format!("{text}\n"))
    }

    /// Writes the manifest into the output (whole, by rename; uploaded too when the
    /// output is a bucket).
    ///
    /// # Errors
    /// I/O and upload errors.
    pub fn write(&self, out: &OutDir) -> Result<()> {
        out.write_root_file(MANIFEST_FILE, self.to_json()?.as_bytes())
    }

    /// Reads the manifest of the export in `out`, checking its format and version.
    ///
    /// # Errors
    /// When it cannot be read or parsed, or is of another format or version.
    pub fn read(out: &Path) -> Result<ExportManifest> {
        let path = out.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).io_context(cannot("read", &path))?;
        let manifest: ExportManifest =
            serde_json::from_str(&text).map_err(|source| Error::State {
                what: cannot("parse", &path)(),
                source,
            })?;
        if manifest.format != MANIFEST_FORMAT || manifest.version != MANIFEST_VERSION {
            return Err(Error::OutDir(OutDirError::ManifestVersion {
                path: path.to_path_buf(),
                found: (manifest.format, manifest.version),
                expected: (MANIFEST_FORMAT, MANIFEST_VERSION),
            }));
        }
        Ok(manifest)
    }
}

/// Each measurement's table as `manifest.json` lists it.
fn manifest_tables(tables: &Tables) -> Vec<ManifestTable> {
    tables
        .iter()
        .map(|((database, retention_policy, measurement), table)| {
            let folder = crate::parquet_file::output::relative_path(
                database,
                retention_policy,
                measurement,
                0,
            );
            let folder = folder
                .parent()
                .map(crate::naming::path_string)
                .unwrap_or_default();
            let mut fields = table.fields().iter();
            ManifestTable {
                database: database.clone(),
                retention_policy: retention_policy.clone(),
                measurement: String::from_utf8_lossy(measurement).into_owned(),
                folder,
                columns: table
                    .columns()
                    .columns()
                    .iter()
                    .map(|c| {
                        let field = (c.role == influx_tsm_arrow::Role::Field)
                            .then(|| fields.next())
                            .flatten();
                        ManifestColumn {
                            name: c.name.clone(),
                            role: c.role.as_str().to_string(),
                            key: String::from_utf8_lossy(&c.key).into_owned(),
                            field_type: c.field_type.map(|t| t.name().to_string()),
                            stored_types: field
                                .map(|f| f.stored.iter().map(|t| t.name().to_string()).collect())
                                .unwrap_or_default(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The type conflicts of `results`, each with the columns its types went into.
fn manifest_conflicts(
    results: &[ShardResult],
    measurements: &[ManifestTable],
) -> Vec<ManifestConflict> {
    conflicts(results)
        .into_iter()
        .map(|c| {
            let table = measurements.iter().find(|t| {
                t.database == c.database
                    && t.retention_policy == c.retention_policy
                    && t.measurement == c.measurement
            });
            let columns = c
                .types
                .keys()
                .filter_map(|ty| {
                    let column = table?.columns.iter().find(|col| {
                        col.role == "field" && col.key == c.field && col.stored_types.contains(ty)
                    })?;
                    Some((ty.clone(), column.name.clone()))
                })
                .collect();
            ManifestConflict {
                database: c.database,
                retention_policy: c.retention_policy,
                measurement: c.measurement,
                field: c.field,
                types: c.types,
                columns,
            }
        })
        .collect()
}

/// A difference between an export and its manifest.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExportProblem {
    /// The file, relative to the output folder.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// What [`check_export`] found.
#[derive(Clone, Debug, Serialize)]
pub struct ExportCheck {
    /// The output folder.
    pub out: PathBuf,
    /// Files the manifest lists.
    pub files: u64,
    /// Rows the manifest lists (Parquet files' rows are read from their footers).
    pub rows: u64,
    /// Everything that differs; empty when the export is whole.
    pub problems: Vec<ExportProblem>,
}

/// Checks the export in `out` against its manifest: every file present with its size,
/// every Parquet file's footer with the manifest's row count and its table's columns
/// (names and types), and no other `.parquet` file in a table's folder (a reader's glob
/// would take it in).
///
/// # Errors
/// When the manifest cannot be read ([`ExportManifest::read`]); differences are
/// [`ExportCheck::problems`], not errors.
pub fn check_export(out: &Path) -> Result<ExportCheck> {
    let manifest = ExportManifest::read(out)?;
    let mut problems = Vec::new();
    let mut problem = |path: &str, what: String| {
        problems.push(ExportProblem {
            path: path.to_string(),
            problem: what,
        })
    };
    let tables: BTreeMap<&str, &ManifestTable> = manifest
        .measurements
        .iter()
        .map(|t| (t.folder.as_str(), t))
        .collect();
    for file in &manifest.files {
        let path = out.join(&file.path);
        let bytes = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(err) => {
                problem(&file.path, format!("cannot be read: {err}"));
                continue;
            }
        };
        if bytes != file.bytes {
            problem(
                &file.path,
                format!("is {bytes} bytes, the manifest says {}", file.bytes),
            );
            continue;
        }
        if manifest.output != "parquet" {
            continue;
        }
        let folder = file.path.rsplit_once('/').map_or("", |(dir, _)| dir);
        for what in footer_problems(&path, file, tables.get(folder).copied()) {
            problem(&file.path, what);
        }
    }
    if manifest.output == "parquet" {
        let listed: std::collections::BTreeSet<&str> =
            manifest.files.iter().map(|f| f.path.as_str()).collect();
        for folder in tables.keys() {
            let Ok(entries) = std::fs::read_dir(out.join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let relative = format!("{folder}/{name}");
                if name.ends_with(".parquet") && !listed.contains(relative.as_str()) {
                    problem(&relative, "is not in the manifest".into());
                }
            }
        }
    }
    Ok(ExportCheck {
        out: out.to_path_buf(),
        files: manifest.totals.files,
        rows: manifest.totals.rows,
        problems,
    })
}

/// What is wrong with the Parquet file at `path` against its manifest entry `file` and
/// its `table`: its footer, shards, rows and columns.
fn footer_problems(path: &Path, file: &ManifestFile, table: Option<&ManifestTable>) -> Vec<String> {
    let mut problems = Vec::new();
    match parquet_footer(path) {
        Err(err) => problems.push(format!("is not a readable Parquet file: {err}")),
        Ok((rows, columns, shards)) => {
            if shards != file.shards {
                problems.push(format!(
                    "holds shards {shards:?} by its metadata, the manifest says {:?}",
                    file.shards
                ));
            }
            if rows != file.rows {
                problems.push(format!("has {rows} rows, the manifest says {}", file.rows));
            }
            match table {
                None => problems.push("belongs to no table of the manifest".into()),
                Some(table) => {
                    let want: Vec<ColumnType> = table
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.field_type.clone()))
                        .collect();
                    if columns != want {
                        problems.push(format!("has columns {columns:?}, its table has {want:?}"));
                    }
                }
            }
        }
    }
    problems
}

/// Column name and the InfluxDB type of a field column.
type ColumnType = (String, Option<String>);

/// What a Parquet file's footer says: rows, Arrow columns, shards.
type Footer = (u64, Vec<ColumnType>, Vec<u64>);

/// A Parquet file's row count, its Arrow columns, and the shards its metadata names
/// ([`crate::parquet_file::output::META_SHARD`] or [`crate::parquet_file::output::META_SHARDS`]).
fn parquet_footer(path: &Path) -> std::result::Result<Footer, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| e.to_string())?;
    let rows = builder.metadata().file_metadata().num_rows();
    let metadata = builder.schema().metadata();
    let shards = metadata
        .get(crate::parquet_file::output::META_SHARD)
        .or_else(|| metadata.get(crate::parquet_file::output::META_SHARDS))
        .map(|text| {
            text.split(',')
                .map(|id| {
                    id.parse::<u64>()
                        .map_err(|_| format!("bad shard list {text:?}"))
                })
                .collect::<std::result::Result<Vec<u64>, String>>()
        })
        .transpose()?
        .unwrap_or_default();
    let columns = builder
        .schema()
        .fields()
        .iter()
        .map(|f| {
            (
                f.name().clone(),
                f.metadata().get(influx_tsm_arrow::META_TYPE).cloned(),
            )
        })
        .collect();
    Ok((u64::try_from(rows).unwrap_or(0), columns, shards))
}
