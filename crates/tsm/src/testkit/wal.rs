//! Writers for WAL segments.
