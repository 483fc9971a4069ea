//! Tombstone files: deletions that apply to the one TSM file with the same stem.
