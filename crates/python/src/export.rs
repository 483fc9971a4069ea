//! `influx_tsm.export`: the export engine with the command line's options, on a rayon
//! pool of `threads` workers (this binding is an application, so it owns its pool), the
//! GIL released; the calling thread polls for Ctrl-C and calls the progress callback.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use influx_tsm_export::remote::Remote;
use influx_tsm_export::{
    Compression, Done, Job, Observer, Options, OutMode, Partition, Plan, Report, TypeConflicts,
    check_apart,
};
use influx_tsm_export::{StorageDirs, wal_of};
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::shard::TimeRange;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{export_error, require_exists};
use crate::json::to_python;

/// The keyword arguments of `export`, as the command line's flags.
#[derive(Debug, Default)]
pub struct ExportArgs {
    pub dir: PathBuf,
    pub out: String,
    pub data_dir: Option<PathBuf>,
    pub wal_dir: Option<PathBuf>,
    pub staging: Option<PathBuf>,
    pub format: String,
    pub compress: Option<String>,
    pub with_ddl: bool,
    pub threads: Option<usize>,
    pub databases: Vec<String>,
    pub retention_policies: Vec<String>,
    pub measurements: Vec<String>,
    pub exclude_measurements: Vec<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub shards: Vec<u64>,
    pub compression: Option<String>,
    pub type_conflicts: String,
    pub row_group_size: Option<usize>,
    pub target_file_size: Option<u64>,
    pub file_per_shard: bool,
    pub small_shard_bytes: Option<u64>,
    pub batch_bytes: Option<usize>,
    pub skip_corrupt: bool,
    pub include_unlisted_shards: bool,
    pub partition: Option<String>,
    pub node: Option<String>,
    pub register: bool,
    pub verify_crc: bool,
    pub resume: bool,
    pub overwrite: bool,
    pub dry_run: bool,
}

fn usage(text: impl Into<String>) -> PyErr {
    PyValueError::new_err(text.into())
}

/// Parses `gzip`, `gzip(LEVEL)` (0-9) or `none`, as `--compress`.
fn parse_gzip(s: &str) -> PyResult<Option<u32>> {
    let lower = s.trim().to_ascii_lowercase();
    match lower.as_str() {
        "gzip" => return Ok(Some(6)),
        "none" => return Ok(None),
        _ => {}
    }
    match lower
        .strip_prefix("gzip(")
        .and_then(|r| r.strip_suffix(')'))
        .map(|level| level.trim().parse::<u32>())
    {
        Some(Ok(n)) if n <= 9 => Ok(Some(n)),
        Some(_) => Err(usage(format!("compress: gzip level must be 0 to 9: {s:?}"))),
        None => Err(usage(format!(
            "compress: expected gzip, gzip(LEVEL) or none, not {s:?}"
        ))),
    }
}

/// The bucket `out` names, with the runtime its uploads run on and the staging folder.
struct RemoteOut {
    _runtime: tokio::runtime::Runtime,
    staging: tempfile::TempDir,
    remote: Arc<Remote>,
}

impl ExportArgs {
    fn is_remote(&self) -> bool {
        influx_tsm_export::remote::is_url(&self.out) && !self.out.starts_with("file://")
    }

    fn local_out(&self) -> PyResult<PathBuf> {
        if self.out.starts_with("file://") {
            return url::Url::parse(&self.out)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| usage(format!("out {}: not a file URL of a path", self.out)));
        }
        Ok(PathBuf::from(&self.out))
    }

    fn remote(&self, py: Python<'_>) -> PyResult<Option<RemoteOut>> {
        if !self.is_remote() {
            return Ok(None);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("influx-tsm-io")
            .enable_all()
            .build()
            .map_err(|e| {
                PyRuntimeError::new_err(format!("cannot start the upload runtime: {e}"))
            })?;
        let remote =
            Remote::open(&self.out, runtime.handle().clone()).map_err(|e| export_error(py, e))?;
        let staging_root = self.staging.clone().unwrap_or_else(std::env::temp_dir);
        let staging = tempfile::Builder::new()
            .prefix("influx-tsm-staging-")
            .tempdir_in(&staging_root)
            .map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!(
                    "cannot make a staging folder in {}: {e}",
                    staging_root.display()
                ))
            })?;
        Ok(Some(RemoteOut {
            _runtime: runtime,
            staging,
            remote: Arc::new(remote),
        }))
    }

    /// The engine's options, as `influx-tsm export` builds them from its flags.
    fn options(&self, py: Python<'_>, remote: Option<(&Path, Arc<Remote>)>) -> PyResult<Options> {
        let root = &self.dir;
        let dirs = match &self.data_dir {
            Some(dir) => StorageDirs {
                data: dir.clone(),
                wal: self.wal_dir.clone().or_else(|| wal_of(root)),
            },
            None => StorageDirs::of_root(root, self.wal_dir.clone()).ok_or_else(|| {
                usage(format!(
                    "{} has no data/ folder and is no influxd backup (use data_dir= for a \
                     data folder elsewhere)",
                    root.display()
                ))
            })?,
        };
        let StorageDirs {
            data: data_dir,
            wal: wal_dir,
        } = dirs;
        let format = match self.format.as_str() {
            "parquet" => influx_tsm_export::Format::Parquet,
            "lp" => influx_tsm_export::Format::Lp,
            other => return Err(usage(format!("format: {other:?} is not parquet or lp"))),
        };
        if format == influx_tsm_export::Format::Parquet && self.compress.is_some() {
            return Err(usage(
                "compress is for line protocol; Parquet takes compression",
            ));
        }
        if format == influx_tsm_export::Format::Lp && self.compression.is_some() {
            return Err(usage(
                "compression is for Parquet; line protocol takes compress='gzip'",
            ));
        }
        let type_conflicts = TypeConflicts::from_name(&self.type_conflicts).ok_or_else(|| {
            usage(format!(
                "type_conflicts: {:?} is not split, float or string",
                self.type_conflicts
            ))
        })?;
        if format == influx_tsm_export::Format::Lp && type_conflicts != TypeConflicts::Split {
            return Err(usage(
                "type_conflicts is for Parquet; line protocol writes every value with its own type",
            ));
        }
        let compression: Compression = match &self.compression {
            Some(text) => text
                .parse()
                .map_err(|e: String| usage(format!("compression: {e}")))?,
            None => Compression::default(),
        };
        let gzip = match &self.compress {
            Some(text) => parse_gzip(text)?,
            None => None,
        };
        let partition: Option<Partition> = match &self.partition {
            Some(text) => Some(
                text.parse()
                    .map_err(|e: String| usage(format!("partition: {e}")))?,
            ),
            None => None,
        };
        if self.node.is_some() && (partition.is_some() || self.overwrite) {
            return Err(usage("node does not go with partition or overwrite"));
        }
        if self.register && self.node.is_none() {
            return Err(usage("register needs node"));
        }
        if self.resume && self.overwrite {
            return Err(usage("resume and overwrite do not go together"));
        }
        let non_zero = |name: &str, n: Option<usize>| -> PyResult<()> {
            match n {
                Some(0) => Err(usage(format!("{name} must be at least 1"))),
                _ => Ok(()),
            }
        };
        non_zero("row_group_size", self.row_group_size)?;
        non_zero("threads", self.threads)?;
        if remote.is_none() && data_dir.is_dir() {
            check_apart(&self.local_out()?, root).map_err(|e| export_error(py, e))?;
        }
        let mode = OutMode::from_flags(self.resume, self.overwrite);
        let out = match &remote {
            Some((staging, _)) => staging.to_path_buf(),
            None => self.local_out()?,
        };
        let mut builder = Options::builder(data_dir, out)
            .format(format)
            .gzip(gzip)
            .with_ddl(self.with_ddl)
            .databases(self.databases.iter().cloned())
            .retention_policies(self.retention_policies.iter().cloned())
            .shards(self.shards.iter().copied())
            .measurements(self.measurements.iter().cloned())
            .exclude_measurements(self.exclude_measurements.iter().cloned())
            .range(TimeRange {
                start: self.start.unwrap_or(i64::MIN),
                end: self.end.unwrap_or(i64::MAX),
            })
            .compression(compression)
            .row_group_size(
                self.row_group_size
                    .unwrap_or(influx_tsm_export::DEFAULT_ROW_GROUP_SIZE),
            )
            .batch_bytes(
                self.batch_bytes
                    .unwrap_or(influx_tsm_export::DEFAULT_BATCH_BYTES),
            )
            .target_file_size(
                (!self.file_per_shard).then_some(
                    self.target_file_size
                        .unwrap_or(influx_tsm_export::DEFAULT_TARGET_FILE_SIZE),
                ),
            )
            .small_shard_bytes(
                self.small_shard_bytes
                    .unwrap_or(influx_tsm_export::DEFAULT_SMALL_SHARD_BYTES),
            )
            .skip_corrupt(self.skip_corrupt)
            .include_unlisted_shards(self.include_unlisted_shards)
            .partition(partition)
            .node(self.node.clone())
            .verify_crc(self.verify_crc)
            .type_conflicts(type_conflicts)
            .mode(mode);
        if let Some(wal) = wal_dir {
            builder = builder.wal_dir(wal);
        }
        if let Some((_, remote)) = remote {
            builder = builder.remote(remote);
        }
        builder.build().map_err(|e| export_error(py, e))
    }

    fn threads(&self) -> usize {
        self.threads
            .and_then(NonZeroUsize::new)
            .map(usize::from)
            .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
            .unwrap_or(1)
    }
}

/// What an unwinding worker carries when the caller stopped the export.
struct Stopped;

/// Counts progress for the calling thread, and stops the export's workers once `stop`
/// is set.
///
/// The engine stops every worker at its next batch when one of them fails, and keeps the
/// groups finished before (so `resume=True` continues from there): a worker told to stop
/// unwinds with [`Stopped`], which the engine turns into that failure.
///
/// With a progress callback, a worker that finished a shard waits until the calling
/// thread has called it with a count that includes that shard (`acked`): a stop the
/// callback asks for then takes effect before the worker starts another shard, so where
/// an export stops does not depend on timing. It costs one callback per shard at most,
/// never one per batch.
#[derive(Default)]
struct Counters {
    /// The plan's size, as the export tells it ([`Observer::planned`]).
    shards: AtomicU64,
    bytes: AtomicU64,
    shards_done: AtomicU64,
    bytes_done: AtomicU64,
    values: AtomicU64,
    schemas_read: AtomicU64,
    stop: AtomicBool,
    /// The worker thread has returned.
    done: AtomicBool,
    /// Whether workers wait for the callback after each shard.
    sync: bool,
    /// `shards_done` as of the last callback.
    acked: Mutex<u64>,
    changed: Condvar,
}

impl Counters {
    fn stop_here(&self) {
        if self.stop.load(Ordering::Relaxed) {
            // Not `panic!`: no panic message, no hook; the engine catches it per group.
            std::panic::resume_unwind(Box::new(Stopped));
        }
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.acked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the calling thread (taking the lock first, so that it cannot miss it).
    fn wake(&self) {
        drop(self.lock());
        self.changed.notify_all();
    }
}

impl Observer for Counters {
    fn planned(&self, shards: usize, bytes: u64) {
        self.shards.store(shards as u64, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    fn schema_read(&self, _shard: &ShardLocation) {
        self.schemas_read.fetch_add(1, Ordering::Relaxed);
    }

    fn shard_started(&self, _shard: &ShardLocation) {
        self.stop_here();
    }

    fn values_written(&self, values: u64) {
        self.values.fetch_add(values, Ordering::Relaxed);
        self.stop_here();
    }

    fn shard_finished(&self, _shard: &ShardLocation, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        let seq = self.shards_done.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake();
        if self.sync {
            let mut acked = self.lock();
            while *acked < seq && !self.stop.load(Ordering::SeqCst) {
                acked = self
                    .changed
                    .wait(acked)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

/// What the worker thread returns.
enum Outcome {
    Report(Result<serde_json::Value, influx_tsm_export::Error>),
    Panicked,
}

fn progress_dict<'py>(
    py: Python<'py>,
    counters: &Counters,
    start: Instant,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("shards_done", counters.shards_done.load(Ordering::Relaxed))?;
    d.set_item("shards", counters.shards.load(Ordering::Relaxed))?;
    d.set_item("bytes_done", counters.bytes_done.load(Ordering::Relaxed))?;
    d.set_item("bytes", counters.bytes.load(Ordering::Relaxed))?;
    d.set_item("values", counters.values.load(Ordering::Relaxed))?;
    d.set_item(
        "schemas_read",
        counters.schemas_read.load(Ordering::Relaxed),
    )?;
    d.set_item("seconds", start.elapsed().as_secs_f64())?;
    Ok(d)
}

/// How often the calling thread wakes to look for Ctrl-C and call `progress`.
const POLL: Duration = Duration::from_millis(100);

/// Runs the export; returns the report (or the dry run's plan, or the registration) as
/// Python data.
pub fn run(
    py: Python<'_>,
    args: &ExportArgs,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    require_exists(args.data_dir.as_ref().unwrap_or(&args.dir))?;
    if args.out == "-" {
        return Err(usage(
            "out='-' (stdout) is for the command line; give a folder or a URL",
        ));
    }
    let remote = args.remote(py)?;
    let options = args.options(
        py,
        remote
            .as_ref()
            .map(|r| (r.staging.path(), r.remote.clone())),
    )?;
    let shown_out = match &remote {
        Some(r) => PathBuf::from(r.remote.url()),
        None => options.out().to_path_buf(),
    };
    let start = Instant::now();
    let plan = py
        .detach(|| Plan::new(&options))
        .map_err(|e| export_error(py, e))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads())
        .thread_name(|i| format!("influx-tsm-{i}"))
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start worker threads: {e}")))?;
    // Until the export tells its final size (a cluster node's share), the whole plan's.
    let counted = Counters {
        shards: AtomicU64::new(plan.shards.len() as u64),
        bytes: AtomicU64::new(plan.bytes()),
        sync: progress.is_some(),
        ..Counters::default()
    };
    let counters = &counted;
    let job = Job::from_flags(args.dry_run, args.register);

    let work = move || -> Result<serde_json::Value, influx_tsm_export::Error> {
        let json = |v: Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|_| {
                influx_tsm_export::Error::Internal(influx_tsm_export::InternalError::Impossible(
                    "a report that is not JSON",
                ))
            })
        };
        let mut plan = plan;
        match job.run(&pool, &options, &mut plan, counters)? {
            Done::DryRun(dry_run) => json(serde_json::to_value(&dry_run)),
            Done::Registered(registration) => json(serde_json::to_value(&registration)),
            Done::Exported(results) => {
                let seconds = start.elapsed().as_secs_f64();
                let report = Report::new(shown_out.clone(), &plan, &results, seconds);
                json(serde_json::to_value(&report))
            }
        }
    };

    let mut interrupt: Option<PyErr> = None;
    let outcome = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                Ok(result) => Outcome::Report(result),
                Err(_) => Outcome::Panicked,
            };
            counters.done.store(true, Ordering::SeqCst);
            counters.wake();
            outcome
        });
        loop {
            let (done, seen) = py.detach(|| {
                let acked = counters.lock();
                let pending = |acked: &u64| {
                    !counters.done.load(Ordering::SeqCst)
                        && counters.shards_done.load(Ordering::SeqCst) <= *acked
                };
                if pending(&acked) {
                    let _ = counters
                        .changed
                        .wait_timeout_while(acked, POLL, |a| pending(a))
                        .unwrap_or_else(PoisonError::into_inner);
                }
                (
                    counters.done.load(Ordering::SeqCst),
                    counters.shards_done.load(Ordering::SeqCst),
                )
            });
            if interrupt.is_none() {
                let step = py.check_signals().and_then(|()| match &progress {
                    Some(callback) => progress_dict(py, counters, start)
                        .and_then(|d| callback.call1((d,)))
                        .map(drop),
                    None => Ok(()),
                });
                if let Err(err) = step {
                    counters.stop.store(true, Ordering::SeqCst);
                    interrupt = Some(err);
                }
            }
            *counters.lock() = seen;
            counters.changed.notify_all();
            if done {
                break;
            }
        }
        py.detach(|| worker.join()).unwrap_or(Outcome::Panicked)
    });
    if let Some(err) = interrupt {
        return Err(err);
    }
    if let Some(callback) = &progress {
        callback.call1((progress_dict(py, counters, start)?,))?;
    }
    match outcome {
        Outcome::Report(Ok(value)) => to_python(py, &value),
        Outcome::Report(Err(err)) => Err(export_error(py, err)),
        Outcome::Panicked => Err(PyRuntimeError::new_err(
            "internal error: the export panicked (please report this bug)",
        )),
    }
}
