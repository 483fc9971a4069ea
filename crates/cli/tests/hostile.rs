//! fixtures/hostile-names: a real influxd's directory whose database, retention policy,
//! measurement, tag and field names hold `/`, `\`, `..`, `.`, leading dots, `%`, control
//! characters, unicode, 200+ bytes and case twins. The export stays inside `--out`, each
//! name maps to its own path, paths decode back to the names, and the data equals the
//! server's own answer.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use influx_tsm_export::naming::decode;

use crate::common::{assert_code, describe, run};
use crate::end_to_end::{assert_same_points, exported, oracle_at, parquet_files, read_parquet};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hostile-names")
}

#[test]
fn hostile_names_stay_inside_out_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture_dir().join("influxdb");
    let output = run(&[&"export", &input, &"--out", &out, &"--json"]);
    assert_code(&output, 0);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        summary["skipped"].as_array().unwrap().is_empty(),
        "{}",
        describe(&output)
    );

    // Nothing outside --out: every entry under the temp dir is under out/.
    for entry in crate::common::files(dir.path()) {
        assert!(
            entry.starts_with("out/"),
            "written outside --out: {entry:?}"
        );
    }
    let out_real = out.canonicalize().unwrap();
    let mut seen: BTreeMap<PathBuf, (String, String, String)> = BTreeMap::new();
    for path in parquet_files(&out) {
        let relative = path.strip_prefix(&out).unwrap();
        assert!(
            path.canonicalize().unwrap().starts_with(&out_real),
            "{path:?}"
        );
        let parts: Vec<&str> = relative
            .components()
            .map(|c| match c {
                Component::Normal(s) => s.to_str().unwrap(),
                other => panic!("{relative:?} has {other:?}"),
            })
            .collect();
        assert_eq!(parts.len(), 4, "{relative:?}");
        let kv = read_parquet(&path).kv;
        let names = [
            &kv["influxdb.database"],
            &kv["influxdb.retention_policy"],
            &kv["influxdb.measurement"],
        ];
        for (part, name) in parts.iter().zip(names) {
            assert!(part.len() <= 255 && !part.starts_with('.'), "{part:?}");
            match decode(part) {
                Some(bytes) => assert_eq!(bytes, name.as_bytes(), "{part:?}"),
                // Cut names (200+ bytes) end in `~` and a hash; the name is in the metadata.
                None => assert!(name.len() > 100 && part.contains('~'), "{part:?}"),
            }
        }
        let key = (names[0].clone(), names[1].clone(), names[2].clone());
        let dir_of = path.parent().unwrap().to_path_buf();
        if let Some(other) = seen.insert(dir_of.clone(), key.clone()) {
            assert_eq!(other, key, "two names share {dir_of:?}");
        }
    }
    // 2 databases x 18 measurements, each in its own folder.
    assert_eq!(seen.len(), 36, "{seen:?}");
    let expected = oracle_at(&fixture_dir().join("oracle_typed.jsonl"));
    assert_same_points(&exported(&out), &expected);
    assert_eq!(summary["rows"], expected.len());
}
