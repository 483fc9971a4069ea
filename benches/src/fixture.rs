//! The in-repo fixtures (`fixtures/*/influxdb`, written by a real influxd) and the blocks
//! their TSM files hold, split into sections for the decoder benchmarks.

use std::path::{Path, PathBuf};

use influx_tsm_shard::FieldType;
use influx_tsm_shard::block::BlockSections;
use influx_tsm_shard::file::TsmFile;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}

/// `fixtures/<name>/influxdb`.
pub fn influxdb_dir(name: &str) -> PathBuf {
    repo_root().join("fixtures").join(name).join("influxdb")
}

/// Every `.tsm` file under `dir`, sorted.
pub fn tsm_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "tsm") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// One block's sections, copied out of its file.
#[derive(Clone, Debug)]
pub struct Sections {
    /// The block's type.
    pub field_type: FieldType,
    /// The whole block after the CRC (for `decode_block`).
    pub block: Vec<u8>,
    /// The encoded timestamps.
    pub timestamps: Vec<u8>,
    /// The encoded values.
    pub values: Vec<u8>,
    /// How many values the block holds.
    pub count: usize,
}

/// Every block of every TSM file of the fixtures `names`, CRC-checked and decoded once
/// (to count values, and so a damaged fixture fails here, not inside a timed loop).
///
/// # Panics
/// When a fixture file is unreadable or damaged.
pub fn blocks(names: &[&str]) -> Vec<Sections> {
    let limits = influx_tsm_shard::Limits::default();
    let mut out = Vec::new();
    for name in names {
        for path in tsm_files(&influxdb_dir(name).join("data")) {
            let bytes = std::fs::read(&path).expect("fixture readable");
            let file = TsmFile::parse(&bytes).expect("fixture parses");
            for entry in file.index() {
                let entry = entry.expect("fixture index intact");
                for block in entry.blocks() {
                    let raw = file.block(&block, true).expect("fixture CRC");
                    let s = BlockSections::split(raw, block.offset + 4).expect("sections");
                    let (mut ts, mut values) =
                        (Vec::new(), influx_tsm_shard::Values::new(s.field_type));
                    influx_tsm_shard::block::decode_block(
                        raw,
                        block.offset + 4,
                        &limits,
                        &mut ts,
                        &mut values,
                    )
                    .expect("fixture block decodes");
                    out.push(Sections {
                        field_type: s.field_type,
                        block: raw.to_vec(),
                        timestamps: s.timestamps.to_vec(),
                        values: s.values.to_vec(),
                        count: ts.len(),
                    });
                }
            }
        }
    }
    out
}
