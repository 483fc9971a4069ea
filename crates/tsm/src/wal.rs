//! WAL segments: snappy-compressed write, delete and delete-range entries.
