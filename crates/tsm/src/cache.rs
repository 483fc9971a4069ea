//! The WAL replayed into memory, as influxd's cache holds it at start-up.
