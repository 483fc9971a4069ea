//! One shard opened: its TSM files mapped (or handed in as bytes, see [`crate::source`]),
//! tombstones read, WAL replayed; and its merged view, measurement by measurement, as rows.
//!
//! What [`Shard`] returns is what `SELECT * FROM <measurement> GROUP BY *` returns on the
//! live server for this shard: every composite key's values merged across TSM files and
//! the WAL ([`crate::merge`] has the rules), each file's tombstones applied, the fields
//! of a series re-joined into rows.
//!
//! Memory: the replayed WAL is held, as influxd holds its cache; the keys are not. Opening
//! walks every file's index once, merged in key order, and keeps per measurement only its
//! schema and where its keys are (index offsets every few thousand keys); streaming a
//! measurement walks its keys again from there. So memory follows the work in flight (one
//! series, a few blocks per field), not the number of series.
//!
//! Threads: the library starts none. A big shard's keys are cut into ranges that
//! [`ShardOpening`] lets the caller scan on threads of its own; the shard is the same
//! either way.

mod measurement_rows;
mod opened;
mod opening;
mod scan;

// The streaming and the option types live in their own modules; these paths are the ones
// callers have always used.
pub use crate::options::{ShardOptions, TimeRange};
pub use measurement_rows::MeasurementRows;
pub use opened::{Problem, ProblemKind, Shard};
pub use opening::ShardOpening;
pub use scan::KeyRangeScan;
