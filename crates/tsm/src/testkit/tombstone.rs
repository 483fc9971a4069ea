//! Writers for tombstone files.
