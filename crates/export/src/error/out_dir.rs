//! The output folder (or bucket) cannot be used as asked.

use std::fmt;
use std::path::PathBuf;

use crate::shard::ShardId;

/// Why the output cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutDirError {
    /// `--out` is a file.
    NotAFolder {
        /// `--out`.
        out: PathBuf,
    },
    /// `--out` (a folder or a URL) is not empty, and neither `--resume` nor `--overwrite`
    /// was given.
    NotEmpty {
        /// `--out` as given.
        out: String,
    },
    /// `--overwrite` of a folder influx-tsm did not write.
    NotOursToDelete {
        /// `--out`.
        out: PathBuf,
        /// The options file it lacks, relative to `--out`.
        options_file: String,
    },
    /// `--resume` of a folder that holds no export.
    NothingToResume {
        /// `--out`.
        out: PathBuf,
        /// The options file it lacks, relative to `--out`.
        options_file: String,
    },
    /// `--resume` or `--overwrite` of a bucket prefix that holds no export.
    NotOursInBucket {
        /// `--out`.
        url: String,
        /// The options file it lacks, relative to `--out`.
        options_file: String,
    },
    /// The earlier export into the folder used other options.
    OtherOptions {
        /// The flag that asked to go on (`--resume`, `--partition`, ...).
        flag: String,
        /// The folder.
        out: PathBuf,
        /// Each option that differs.
        differences: Vec<String>,
        /// Where the same options are wanted.
        hint: String,
    },
    /// Two names map to one file name (a case-insensitive file system?).
    Collision {
        /// The file.
        path: PathBuf,
    },
    /// A state file (`what`) of another version.
    StateVersion {
        /// The file, as the message names it.
        what: String,
        /// Its version.
        found: u32,
        /// This version's.
        expected: u32,
    },
    /// `manifest.json` of another format or version.
    ManifestVersion {
        /// The file.
        path: PathBuf,
        /// Its format and version.
        found: (String, u32),
        /// This version's.
        expected: (&'static str, u32),
    },
    /// The saved tables of the earlier export do not fit together.
    SavedTables {
        /// What is wrong.
        what: String,
    },
    /// The input no longer fits the tables an earlier run (or the cluster) fixed.
    TablesChanged {
        /// Under `--node`: the cluster's tables, not an earlier run's.
        cluster: bool,
        /// The database.
        database: String,
        /// The retention policy.
        retention_policy: String,
        /// What does not fit.
        what: String,
    },
    /// `--register` after the cluster export started.
    ClusterStarted {
        /// The node.
        node: String,
        /// The output.
        out: PathBuf,
        /// The shares file, relative to the output.
        shares: String,
    },
    /// A node that did not register before the shares were fixed.
    NodeLate {
        /// The node.
        node: String,
        /// The output.
        out: PathBuf,
        /// The nodes that did.
        registered: Vec<String>,
    },
    /// A node exporting before it registered.
    NodeNotRegistered {
        /// The node.
        node: String,
        /// The output.
        out: PathBuf,
    },
    /// A node holds a shard it did not hold when it registered.
    ShardAppeared {
        /// The node.
        node: String,
        /// The shard.
        shard: ShardId,
    },
    /// A node no longer holds a shard it registered to write.
    ShardVanished {
        /// The node.
        node: String,
        /// The shard.
        shard: ShardId,
    },
}

impl fmt::Display for OutDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutDirError::NotAFolder { out } => write!(f, "--out {} is not a folder", out.display()),
            OutDirError::NotEmpty { out } => write!(
                f,
                "--out {out} is not empty; pass --resume to continue an earlier export into \
                 it, or --overwrite to replace it"
            ),
            OutDirError::NotOursToDelete { out, options_file } => write!(
                f,
                "--out {} is not empty and was not written by influx-tsm (no {options_file}); \
                 refusing to delete it",
                out.display()
            ),
            OutDirError::NothingToResume { out, options_file } => write!(
                f,
                "--out {} is not empty and holds no earlier export to resume (no \
                 {options_file})",
                out.display()
            ),
            OutDirError::NotOursInBucket { url, options_file } => write!(
                f,
                "--out {url} is not empty and holds no export of influx-tsm (no \
                 {options_file}); refusing to touch it"
            ),
            OutDirError::OtherOptions {
                flag,
                out,
                differences,
                hint,
            } => write!(
                f,
                "{flag}: the earlier export into {} used other options ({}); use the same \
                 options in {hint}",
                out.display(),
                differences.join("; ")
            ),
            OutDirError::Collision { path } => write!(
                f,
                "{} exists already: two names map to one file name (a case-insensitive file \
                 system?)",
                path.display()
            ),
            OutDirError::StateVersion {
                what,
                found,
                expected,
            } => write!(f, "{what} is version {found}, not {expected}"),
            OutDirError::ManifestVersion {
                path,
                found,
                expected,
            } => write!(
                f,
                "{} is {} version {}, not {} version {}",
                path.display(),
                found.0,
                found.1,
                expected.0,
                expected.1
            ),
            OutDirError::SavedTables { what } => {
                write!(f, "the saved tables of the earlier export: {what}")
            }
            OutDirError::TablesChanged {
                cluster: true,
                database,
                retention_policy,
                what,
            } => write!(
                f,
                "--node: this node's input does not fit the tables of the cluster export \
                 ({database}/{retention_policy} {what}): it changed since it was registered, \
                 or registered after the export started; export into another --out"
            ),
            OutDirError::TablesChanged {
                cluster: false,
                database,
                retention_policy,
                what,
            } => write!(
                f,
                "--resume: the input changed since the earlier export into this folder \
                 ({database}/{retention_policy} {what}); use --overwrite to export it again"
            ),
            OutDirError::ClusterStarted { node, out, shares } => write!(
                f,
                "the cluster export into {} has started (its shares are fixed in {shares}); \
                 node {node} cannot register now: export into another --out",
                out.display()
            ),
            OutDirError::NodeLate {
                node,
                out,
                registered,
            } => write!(
                f,
                "node {node} did not register before the cluster export into {} started \
                 (registered: {}); export into another --out",
                out.display(),
                registered.join(", ")
            ),
            OutDirError::NodeNotRegistered { node, out } => write!(
                f,
                "node {node} has not registered in {}: run the export with --register on \
                 every node first, then without it",
                out.display()
            ),
            OutDirError::ShardAppeared { node, shard } => write!(
                f,
                "node {node} holds shard {shard} now but did not when it registered; export \
                 into another --out"
            ),
            OutDirError::ShardVanished { node, shard } => write!(
                f,
                "node {node} registered shard {shard} but its input no longer holds it"
            ),
        }
    }
}
