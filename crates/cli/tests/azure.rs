//! `--out az://container/prefix` against Azurite, Microsoft's Azure Storage emulator (from
//! the npm registry; `tests/run.sh` installs it and names its `azurite-blob` in
//! `INFLUX_TSM_AZURITE`). The blobs must be the files of a local export, byte for byte;
//! a killed export must resume to the same blobs; a missing container is an error naming
//! it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::common::{Server, assert_code, fixture, python, python_json, run};
use crate::s3::{local_tree, remote_tree};

/// The emulator's documented account and key (public, the same in every installation).
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn azurite_bin() -> PathBuf {
    match std::env::var_os("INFLUX_TSM_AZURITE") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "INFLUX_TSM_AZURITE is not set: run the tests with `bash tests/run.sh`, which \
             installs Azurite (npm) and sets it"
        ),
    }
}

/// An Azurite blob service on a free port of 127.0.0.1, killed when dropped.
struct Azurite {
    server: Server,
    _location: tempfile::TempDir,
}

impl Azurite {
    fn start() -> Azurite {
        let location = tempfile::tempdir().unwrap();
        let server = Server::start("Azurite's blob service", |port| {
            let mut command = Command::new(azurite_bin());
            command
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(location.path())
                .args(["--silent", "--skipApiVersionCheck", "--loose"]);
            command
        });
        Azurite {
            server,
            _location: location,
        }
    }

    /// Sets the environment that points object_store (and the helper) at the emulator.
    fn env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        let url = self.server.url();
        command
            .env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env("AZURITE_BLOB_STORAGE_URL", &url)
            .env(
                "AZURITE_CONNECTION",
                format!(
                    "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};\
                     BlobEndpoint={url}/{ACCOUNT};"
                ),
            )
            .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
            .env_remove("AZURE_STORAGE_ACCOUNT_KEY")
    }

    fn py(&self, args: &[&str]) -> serde_json::Value {
        python_json(self.env(&mut Command::new(python())), HELPER, args)
    }

    fn export_command(&self, out: &str, staging: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_influx-tsm"));
        self.env(&mut command)
            .arg("export")
            .arg(fixture())
            .args(["--out", out, "--quiet", "--threads", "1", "--staging"])
            .arg(staging);
        command
    }

    fn export(&self, out: &str, extra: &[&str]) -> Output {
        let staging = tempfile::tempdir().unwrap();
        self.export_command(out, staging.path())
            .args(extra)
            .output()
            .unwrap()
    }
}

const HELPER: &str = r#"
import hashlib, json, os, sys
from azure.storage.blob import BlobServiceClient
service = BlobServiceClient.from_connection_string(os.environ["AZURITE_CONNECTION"])
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "mkcontainer":
    service.create_container(args[0])
    print("{}")
elif cmd == "list":
    container, prefix = args
    client = service.get_container_client(container)
    blobs = {}
    for blob in client.list_blobs(name_starts_with=prefix + "/"):
        body = client.download_blob(blob.name).readall()
        blobs[blob.name[len(prefix) + 1:]] = hashlib.sha256(body).hexdigest()
    print(json.dumps({"objects": blobs}))
elif cmd == "containers":
    print(json.dumps([c.name for c in service.list_containers()]))
"#;

#[test]
fn export_to_azure_gives_the_local_files_and_resumes_after_a_kill() {
    let azurite = Azurite::start();
    azurite.py(&["mkcontainer", "data"]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    assert_code(&run(&[&"export", &fixture(), &"--out", &local, &"-q"]), 0);
    let want = local_tree(&local);
    assert!(want.contains_key("manifest.json"), "{want:?}");

    let started = Instant::now();
    assert_code(&azurite.export("az://data/whole", &[]), 0);
    let took = started.elapsed();
    assert_eq!(remote_tree(&azurite.py(&["list", "data", "whole"])), want);
    // A fresh export into it is refused; a resume finds everything done.
    assert_code(&azurite.export("az://data/whole", &[]), 64);
    assert_code(&azurite.export("az://data/whole", &["--resume"]), 0);
    assert_eq!(remote_tree(&azurite.py(&["list", "data", "whole"])), want);

    // Killed at a third and at two thirds of a run, then resumed: the same blobs.
    for (i, fraction) in [(1u32, 3u32), (2, 3)] {
        let prefix = format!("cut-{i}");
        let url = format!("az://data/{prefix}");
        let staging = tempfile::tempdir().unwrap();
        let mut child = azurite
            .export_command(&url, staging.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took * i / fraction);
        child.kill().unwrap();
        child.wait().unwrap();
        let resume = if remote_tree(&azurite.py(&["list", "data", &prefix])).is_empty() {
            Vec::new()
        } else {
            vec!["--resume"]
        };
        assert_code(&azurite.export(&url, &resume), 0);
        assert_eq!(
            remote_tree(&azurite.py(&["list", "data", &prefix])),
            want,
            "killed at {i}/{fraction}"
        );
    }
}

#[test]
fn a_missing_container_is_an_error_naming_it() {
    let azurite = Azurite::start();
    let output = azurite.export("az://no-such-container/x", &[]);
    assert_code(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-container"), "{stderr}");
    assert_eq!(azurite.py(&["containers"]), serde_json::json!([]));
}
