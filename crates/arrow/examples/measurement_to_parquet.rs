//! Writes one measurement of a copied InfluxDB directory to a Parquet file.
//!
//! ```text
//! cargo run -p influx-tsm-arrow --example measurement_to_parquet -- DIR DATABASE MEASUREMENT OUT.parquet
//! ```
//!
//! `DIR` holds `data/`, `wal/` and (optionally) `meta/meta.db`. Every retention policy of
//! the database is read; the file has the schema of `influx_tsm_arrow::MeasurementScan`.
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::fs::File;
use std::path::PathBuf;

use arrow_array::RecordBatchReader;
use influx_tsm_arrow::ScanBuilder;
use parquet::arrow::ArrowWriter;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, database, measurement, out] = args.as_slice() else {
        return Err("usage: measurement_to_parquet DIR DATABASE MEASUREMENT OUT.parquet".into());
    };
    let reader = ScanBuilder::new(database.as_str(), measurement.as_bytes())
        .open_dir(&PathBuf::from(dir))?;
    let mut writer = ArrowWriter::try_new(File::create(out)?, reader.schema(), None)?;
    let mut rows = 0;
    for batch in reader {
        let batch = batch?;
        rows += batch.num_rows();
        writer.write(&batch)?;
    }
    writer.close()?;
    println!("{rows} rows written to {out}");
    Ok(())
}
