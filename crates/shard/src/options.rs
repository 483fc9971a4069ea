//! What a shard is opened and read with: [`ShardOptions`] and [`TimeRange`].
//!
//! Both [`crate::shard`] and [`crate::merge`] need these; they live here so that neither
//! module has to import the other.

use crate::limits::Limits;

/// A time range: `start` inclusive, `end` exclusive, nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// First nanosecond included.
    pub start: i64,
    /// First nanosecond excluded.
    pub end: i64,
}

impl TimeRange {
    /// Every time InfluxDB can store (`i64::MAX` excluded; InfluxDB never stores it).
    pub const ALL: TimeRange = TimeRange {
        start: i64::MIN,
        end: i64::MAX,
    };

    /// Whether `t` lies in the range.
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

/// How to open a shard.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct ShardOptions {
    /// Caps on sizes read from the files.
    pub limits: Limits,
    /// Check every block's CRC-32 before decoding it (the server's query path does not).
    pub verify_crc: bool,
    /// Skip a damaged TSM file (with its tombstones), recording a [`Problem`](crate::shard::Problem), instead of
    /// failing to open the shard.
    pub skip_corrupt: bool,
}

impl ShardOptions {
    /// Sets [`ShardOptions::verify_crc`].
    pub fn verify_crc(mut self, yes: bool) -> ShardOptions {
        self.verify_crc = yes;
        self
    }

    /// Sets [`ShardOptions::skip_corrupt`].
    pub fn skip_corrupt(mut self, yes: bool) -> ShardOptions {
        self.skip_corrupt = yes;
        self
    }

    /// Sets [`ShardOptions::limits`].
    pub fn limits(mut self, limits: Limits) -> ShardOptions {
        self.limits = limits;
        self
    }
}
