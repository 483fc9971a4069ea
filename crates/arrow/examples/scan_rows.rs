//! Times the Rust reader alone: one measurement of a directory read with
//! `influx_tsm_arrow::ScanBuilder` to the last batch, nothing else done with the rows. The
//! baseline the Python package's `scan` is compared with (crates/python/bench.py).
//!
//! ```text
//! cargo run --release -p influx-tsm-arrow --example scan_rows -- DIR DATABASE MEASUREMENT [RUNS]
//! ```
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use influx_tsm_arrow::ScanBuilder;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, database, measurement, runs) = match args.as_slice() {
        [d, db, m] => (d, db, m, 5),
        [d, db, m, r] => (d, db, m, r.parse()?),
        _ => return Err("usage: scan_rows DIR DATABASE MEASUREMENT [RUNS]".into()),
    };
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let start = Instant::now();
        let reader = ScanBuilder::new(database.as_str(), measurement.as_bytes())
            .open_dir(&PathBuf::from(dir))?;
        let mut rows = 0;
        for batch in reader {
            rows += batch?.num_rows();
        }
        let seconds = start.elapsed().as_secs_f64();
        best = best.min(seconds);
        println!("{rows} rows in {seconds:.3} s");
    }
    println!("best {best:.3} s");
    Ok(())
}
