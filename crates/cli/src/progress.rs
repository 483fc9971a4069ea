//! The progress bar on stderr: shards done of total, values per second, bytes read of
//! total, ETA; before a Parquet export's first file, shards whose schemas were read.
//! Hidden unless stderr is a terminal and `--quiet` is off.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use influx_tsm_export::Observer;
use influx_tsm_shard::layout::ShardLocation;

/// Shared by the workers; cheap to update.
pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    /// Set by [`Observer::planned`] when the export starts.
    shards_total: AtomicUsize,
    shards_done: AtomicUsize,
    /// Shards whose schemas were read (all of them before a Parquet export writes).
    schemas_read: AtomicUsize,
    values: AtomicU64,
}

impl Progress {
    /// A bar over the input bytes of the shards the export says it will read
    /// ([`Observer::planned`]), drawn when `visible`.
    pub fn new(visible: bool) -> Progress {
        let bar = visible.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} \
                     ETA {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        let progress = Progress {
            bar,
            start: Instant::now(),
            shards_total: AtomicUsize::new(0),
            shards_done: AtomicUsize::new(0),
            schemas_read: AtomicUsize::new(0),
            values: AtomicU64::new(0),
        };
        progress.update_message();
        progress
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn update_message(&self) {
        let Some(bar) = &self.bar else { return };
        let seconds = self.start.elapsed().as_secs_f64().max(1e-3);
        let values = self.values.load(Ordering::Relaxed);
        let schemas = self.schemas_read.load(Ordering::Relaxed);
        let shards_total = self.shards_total.load(Ordering::Relaxed);
        if values == 0 && schemas > 0 && schemas < shards_total {
            // Before the first file: every shard's indexes are scanned for its schemas.
            bar.set_message(format!("reading schemas: shards {schemas}/{shards_total}"));
            return;
        }
        let rate = values as f64 / seconds;
        bar.set_message(format!(
            "shards {}/{}, {} values/s",
            self.shards_done.load(Ordering::Relaxed),
            shards_total,
            crate::render::human_rate(rate),
        ));
    }
}

impl Observer for Progress {
    fn planned(&self, shards: usize, bytes: u64) {
        self.shards_total.store(shards, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(bytes);
        }
        self.update_message();
    }

    fn schema_read(&self, _shard: &ShardLocation) {
        self.schemas_read.fetch_add(1, Ordering::Relaxed);
        self.update_message();
    }

    fn values_written(&self, n: u64) {
        self.values.fetch_add(n, Ordering::Relaxed);
        self.update_message();
    }

    fn shard_finished(&self, _shard: &ShardLocation, bytes: u64) {
        self.shards_done.fetch_add(1, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
        self.update_message();
    }
}
