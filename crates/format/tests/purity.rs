//! The crate stays the pure core it says it is: no file system, no threads, no memory
//! maps, no thread pool anywhere in its sources (tests included, so that no helper creeps
//! in through them).

use std::path::Path;

const FORBIDDEN: [&str; 4] = ["std::fs", "std::thread", "memmap2", "rayon"];

fn offences(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("src entry").path();
        if path.is_dir() {
            offences(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            for (n, line) in text.lines().enumerate() {
                for word in FORBIDDEN.iter().filter(|w| line.contains(**w)) {
                    found.push(format!("{}:{}: {word}", path.display(), n + 1));
                }
            }
        }
    }
}

#[test]
fn sources_use_no_files_threads_or_maps() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    offences(&src, &mut found);
    assert!(
        found.is_empty(),
        "the format crate must stay pure:\n{}",
        found.join("\n")
    );
    // The walk itself must have seen the sources, or the check proves nothing.
    assert!(src.join("lib.rs").is_file());
}

#[test]
fn manifest_depends_on_no_map_or_pool() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("Cargo.toml");
    for word in ["memmap2", "rayon"] {
        assert!(!manifest.contains(word), "Cargo.toml depends on {word}");
    }
}
