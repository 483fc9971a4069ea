//! Parquet writer settings compared on real rows: the biggest shard of an InfluxDB
//! directory is converted to Arrow record batches once (in memory), then written to an
//! in-memory buffer with each candidate setting, best of 7. Prints the CPU time of the
//! writing thread (from `/proc/thread-self/schedstat`, so other processes on a shared
//! machine disturb it less than wall time) and the bytes written.
//!
//! Every candidate goes through arrow-rs's `ArrowWriter`, tag columns included; the
//! exporter writes tag columns with its own chunk writer (`crates/export/src/tag_chunk.rs`),
//! so these figures compare writer settings, not the exporter's exact cost.
//!
//! ```text
//! cargo run --release -p influx-tsm-benches --example parquet_settings -- DIR
//! ```
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use arrow_array::RecordBatch;
use influx_tsm_arrow::Columns;
use influx_tsm_shard::Limits;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, TimeRange};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: DIR")?);
    let layout = influx_tsm_shard::layout::scan(&dir.join("data"), None)?;
    let loc = layout
        .shards
        .iter()
        .max_by_key(|s| s.tsm_files.len())
        .ok_or("no shard")?;
    let shard = Shard::open(loc, &Limits::default())?;
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut tags = Vec::new();
    let mut fields = Vec::new();
    for (i, schema) in shard.measurements().iter().enumerate() {
        let columns = Columns::new(schema);
        for c in columns.tags() {
            tags.push(c.name.clone());
        }
        for c in columns.fields() {
            fields.push(c.name.clone());
        }
        let mut rows = shard.rows(i, TimeRange::ALL);
        let mut batch = RowBatch::new(schema);
        while rows.next_batch(&mut batch, 64 * 1024, 64 << 20)? {
            batches.push(influx_tsm_arrow::record_batch(&columns, &batch)?);
        }
    }
    let values: usize = batches.iter().map(|b| b.num_rows() * fields.len()).sum();
    println!(
        "{} rows, ~{values} values, {} bytes TSM",
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        shard.file_bytes()
    );
    let zstd = |l| Compression::ZSTD(ZstdLevel::try_new(l).expect("level"));
    let base = || WriterProperties::builder().set_max_row_group_row_count(Some(1 << 20));
    let no_dict_fields = |mut b: WriterPropertiesBuilder| {
        b = b.set_dictionary_enabled(false);
        for t in &tags {
            b = b.set_column_dictionary_enabled(ColumnPath::from(t.as_str()), true);
        }
        b
    };
    let with_encodings = |mut b: WriterPropertiesBuilder, float_enc: Option<Encoding>| {
        b = b.set_column_encoding(ColumnPath::from("time"), Encoding::DELTA_BINARY_PACKED);
        if let Some(e) = float_enc {
            for f in &fields {
                b = b.set_column_encoding(ColumnPath::from(f.as_str()), e);
            }
        }
        b
    };
    let time_delta = |b: WriterPropertiesBuilder| {
        b.set_column_dictionary_enabled(ColumnPath::from("time"), false)
            .set_column_encoding(ColumnPath::from("time"), Encoding::DELTA_BINARY_PACKED)
    };
    let tag_stats = |mut b: WriterPropertiesBuilder, stats: EnabledStatistics| {
        for t in &tags {
            b = b.set_column_statistics_enabled(ColumnPath::from(t.as_str()), stats);
        }
        b
    };
    let candidates: Vec<(&str, WriterProperties)> = vec![
        (
            "influx-tsm properties, all columns by arrow-rs (influx-tsm writes tags itself): dict all but time (delta), zstd(1)",
            time_delta(base()).set_compression(zstd(1)).build(),
        ),
        (
            "influx-tsm properties, tag stats per chunk only",
            tag_stats(time_delta(base()), EnabledStatistics::Chunk)
                .set_compression(zstd(1))
                .build(),
        ),
        (
            "influx-tsm properties, no tag stats",
            tag_stats(time_delta(base()), EnabledStatistics::None)
                .set_compression(zstd(1))
                .build(),
        ),
        (
            "influx-tsm properties, write batch 8192",
            time_delta(base())
                .set_write_batch_size(8192)
                .set_compression(zstd(1))
                .build(),
        ),
        (
            "dict all, zstd(1) [parquet default + zstd(1)]",
            base().set_compression(zstd(1)).build(),
        ),
        ("dict all, zstd(3)", base().set_compression(zstd(3)).build()),
        (
            "dict all, snappy",
            base().set_compression(Compression::SNAPPY).build(),
        ),
        ("dict all, none", base().build()),
        (
            "dict all, chunk stats, zstd(1)",
            base()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_compression(zstd(1))
                .build(),
        ),
        (
            "dict all, write batch 8192, zstd(1)",
            base()
                .set_write_batch_size(8192)
                .set_compression(zstd(1))
                .build(),
        ),
        (
            "dict all but time (delta), zstd(1)",
            time_delta(base()).set_compression(zstd(1)).build(),
        ),
        (
            "dict all but time (delta), zstd(3)",
            time_delta(base()).set_compression(zstd(3)).build(),
        ),
        (
            "dict tags only, zstd(1)",
            no_dict_fields(base()).set_compression(zstd(1)).build(),
        ),
        (
            "dict tags only, time delta, fields byte_stream_split, zstd(1)",
            with_encodings(no_dict_fields(base()), Some(Encoding::BYTE_STREAM_SPLIT))
                .set_compression(zstd(1))
                .build(),
        ),
    ];
    for (name, props) in candidates {
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..7 {
            let start = cpu_ns();
            let mut w = ArrowWriter::try_new(Vec::new(), batches[0].schema(), Some(props.clone()))?;
            for b in &batches {
                w.write(b)?;
            }
            let out = w.into_inner()?;
            best = best.min((cpu_ns() - start) as f64 / 1e9);
            size = out.len();
        }
        println!("{best:8.3} s CPU {size:>12} B  {name}");
    }
    Ok(())
}

/// Nanoseconds this thread has run on a CPU (Linux; 0 elsewhere).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
