//! Helpers shared by the tests: running the binary, building input trees, hashing them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The small-a fixture's InfluxDB directory (data/, wal/, meta/).
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/influxdb")
}

/// The small-a fixture's typed oracle.
pub fn oracle_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/oracle_typed.jsonl")
}

/// Runs `influx-tsm` with `args`, no stdin.
pub fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_influx-tsm"))
        .args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::null())
        .output()
        .expect("run influx-tsm")
}

/// The exit code, stdout and stderr, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the exit code.
#[track_caller]
pub fn assert_code(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", describe(output));
}

/// An InfluxDB directory with an empty `data/` (and `wal/`).
pub fn empty_influxdb(parent: &Path) -> PathBuf {
    let root = parent.join("influxdb");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(root.join("wal")).unwrap();
    root
}

/// Copies `from` to `to` recursively, leaving out `_series` folders (sparse and unused).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "_series" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file and folder under `root` with its contents (folders: empty), for comparing
/// trees before and after.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                out.insert(relative, Vec::new());
                stack.push(path);
            } else {
                // Sparse series files are big and all zero: record their size only.
                let meta = entry.metadata().unwrap();
                let contents = if meta.len() > (1 << 20) {
                    meta.len().to_le_bytes().to_vec()
                } else {
                    std::fs::read(&path).unwrap()
                };
                out.insert(relative, contents);
            }
        }
    }
    out
}

/// Every file under `root`, relative, `/`-separated.
pub fn files(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(p, _)| root.join(p).is_file())
        .map(|(p, _)| p.to_string_lossy().replace('\\', "/"))
        .collect()
}

/// The Python with DuckDB, pyarrow, Polars and DataFusion that the reader tests run:
/// `INFLUX_TSM_PYTHON`, which `tests/run.sh` (the README's test command) sets up. A test
/// that needs it fails without it rather than passing unchecked.
pub fn python() -> std::ffi::OsString {
    std::env::var_os("INFLUX_TSM_PYTHON").unwrap_or_else(|| {
        panic!(
            "INFLUX_TSM_PYTHON is not set: this test reads the export with DuckDB, pyarrow, \
             Polars and DataFusion. Run the tests with `bash tests/run.sh` (it makes a \
             virtualenv with them), or point INFLUX_TSM_PYTHON at a Python that has them."
        )
    })
}

/// [`snapshot`] with each file's contents replaced by its length and a hash: the same
/// comparison, with assertion messages that can be read.
pub fn digests(root: &Path) -> BTreeMap<PathBuf, (usize, u64)> {
    use std::hash::{Hash, Hasher};
    snapshot(root)
        .into_iter()
        .map(|(path, bytes)| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            (path, (bytes.len(), hasher.finish()))
        })
        .collect()
}

/// A server a test started on a free port of 127.0.0.1 (moto, Azurite), killed when
/// dropped.
pub struct Server {
    child: std::process::Child,
    /// Its port.
    pub port: u16,
}

impl Server {
    /// Starts `command(port)` on a free port and waits until the port takes connections.
    pub fn start(what: &str, command: impl FnOnce(u16) -> Command) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = command(port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
        let server = Server { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "{what} did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the Python program `helper` with `args` through `command` (a [`python`] command
/// with its environment set); the JSON it prints.
pub fn python_json(command: &mut Command, helper: &str, args: &[&str]) -> serde_json::Value {
    let output = command.arg("-c").arg(helper).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "helper {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
