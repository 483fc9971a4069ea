//! How a shard (or a group of shards) becomes Parquet files: the pending file and its
//! column chunks, tag and field encodings, and parts joined into one file.

pub mod field_encoding;
pub(crate) mod group_file;
pub mod output;
pub mod parts;
pub(crate) mod shard_file;
pub mod tag_chunk;
