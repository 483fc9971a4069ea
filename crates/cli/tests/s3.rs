//! `--out s3://...` against a real S3-compatible server: moto's server mode, started by
//! the test from the Python named by `INFLUX_TSM_PYTHON` (`tests/run.sh` installs
//! `moto[server]` and boto3 there). The objects must be the files of a local export, byte
//! for byte; pyarrow's S3 filesystem must read a measurement back; a killed export must
//! resume to the same objects with no multipart upload left open; a missing bucket is an
//! error naming it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Server, assert_code, files, fixture, python, python_json, run};

/// A moto server on a free port of 127.0.0.1, killed when dropped.
struct Moto(Server);

impl Moto {
    fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// A server that checks credentials against its IAM users once `free` requests
    /// have been served (moto's `INITIAL_NO_AUTH_ACTION_COUNT`).
    fn start_checking_credentials(free: u32) -> Moto {
        Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", &free.to_string())])
    }

    fn start_with(env: &[(&str, &str)]) -> Moto {
        Moto(Server::start(
            "moto's server (pip install 'moto[server]')",
            |port| {
                let mut command = Command::new(python());
                command
                    .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
                    .arg(port.to_string())
                    .envs(env.iter().copied());
                command
            },
        ))
    }

    /// Sets the AWS environment for this server on `command`.
    fn env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command
            .env("AWS_ENDPOINT_URL", self.0.url())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
    }

    /// Runs the boto3 / pyarrow helper below with `args`; its JSON answer.
    fn py(&self, args: &[&str]) -> serde_json::Value {
        python_json(self.env(&mut Command::new(python())), HELPER, args)
    }

    fn export(&self, out: &str, extra: &[&str]) -> Output {
        let staging = tempfile::tempdir().unwrap();
        self.env(&mut Command::new(env!("CARGO_BIN_EXE_influx-tsm")))
            .arg("export")
            .arg(fixture())
            .args(["--out", out, "--quiet", "--staging"])
            .arg(staging.path())
            .args(extra)
            .output()
            .unwrap()
    }
}

const HELPER: &str = r#"
import hashlib, json, os, sys
import boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "mkbucket":
    s3.create_bucket(Bucket=args[0])
    print("{}")
elif cmd == "list":
    bucket, prefix = args
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            objects[o["Key"][len(prefix) + 1:]] = hashlib.sha256(body).hexdigest()
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    print(json.dumps({"objects": objects, "uploads": len(uploads)}))
elif cmd == "stat":
    bucket, prefix = args
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            out[o["Key"]] = [o["ETag"], o["LastModified"].isoformat()]
    print(json.dumps(out))
elif cmd == "orphan":
    bucket, key = args
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)
    s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 100)
    print("{}")
elif cmd == "user":
    # A bucket and an IAM user allowed everything on S3, whose keys are printed: the
    # server's free requests are spent here, the next ones need those keys.
    s3.create_bucket(Bucket=args[0])
    iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    iam.create_user(UserName="exporter")
    iam.put_user_policy(UserName="exporter", PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="exporter")["AccessKey"]
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
elif cmd == "buckets":
    print(json.dumps([b["Name"] for b in s3.list_buckets()["Buckets"]]))
elif cmd == "read":
    import pyarrow.dataset as ds, pyarrow.fs as fs
    bucket, folder, local = args
    s3fs = fs.S3FileSystem(endpoint_override=os.environ["AWS_ENDPOINT_URL"], scheme="http",
                           access_key="testing", secret_key="testing", region="us-east-1")
    remote = ds.dataset(f"{bucket}/{folder}", format="parquet", filesystem=s3fs).to_table()
    here = ds.dataset(local, format="parquet").to_table()
    key = lambda t: sorted(map(repr, t.to_pylist()))
    print(json.dumps({"rows": remote.num_rows, "same": key(remote) == key(here)}))
"#;

/// Relative path -> sha256 of every file of a local export.
pub fn local_tree(root: &Path) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    files(root)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(root.join(&f)).unwrap();
            (f, influx_tsm_export::output::hex(&Sha256::digest(&bytes)))
        })
        .collect()
}

pub fn remote_tree(listing: &serde_json::Value) -> BTreeMap<String, String> {
    listing["objects"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn export_to_s3_gives_the_local_files_and_resumes_after_a_kill() {
    let moto = Moto::start();
    moto.py(&["mkbucket", "data"]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let input = fixture();
    assert_code(&run(&[&"export", &input, &"--out", &local, &"-q"]), 0);
    let want = local_tree(&local);
    assert!(want.contains_key("manifest.json"), "{want:?}");

    assert_code(&moto.export("s3://data/exports/small-a", &[]), 0);
    let listing = moto.py(&["list", "data", "exports/small-a"]);
    assert_eq!(remote_tree(&listing), want);
    assert_eq!(listing["uploads"], 0);
    let read = moto.py(&[
        "read",
        "data",
        "exports/small-a/airq/autogen/device_health",
        local.join("airq/autogen/device_health").to_str().unwrap(),
    ]);
    assert_eq!(read["same"], true, "{read}");
    assert!(read["rows"].as_u64().unwrap() > 0);

    // A fresh export into a prefix that holds one is refused; --resume finds it done,
    // and aborts an upload left open under the prefix that no record names (as a kill
    // between starting an upload and recording it leaves).
    assert_code(&moto.export("s3://data/exports/small-a", &[]), 64);
    moto.py(&[
        "orphan",
        "data",
        "exports/small-a/airq/autogen/air/1.parquet",
    ]);
    assert_eq!(moto.py(&["list", "data", "exports/small-a"])["uploads"], 1);
    assert_code(&moto.export("s3://data/exports/small-a", &["--resume"]), 0);
    let listing = moto.py(&["list", "data", "exports/small-a"]);
    assert_eq!(remote_tree(&listing), want);
    assert_eq!(listing["uploads"], 0);

    // Killed at points spread over a run, then resumed: the same objects, no open
    // multipart upload, no upload record left.
    // Timed as the killed runs are run (one thread), the shorter of two runs: a kill
    // point past the end of a run would cut nothing.
    let mut took = u64::MAX;
    for run in 0..2 {
        let started = Instant::now();
        let url = format!("s3://data/timing-{run}");
        assert_code(&moto.export(&url, &["--threads", "1"]), 0);
        took = took.min(started.elapsed().as_millis() as u64);
    }
    let sixth = (took / 6).max(1);
    let mut killed = 0;
    for i in 0..6u64 {
        let prefix = format!("cut-{i}");
        let url = format!("s3://data/{prefix}");
        let staging = tempfile::tempdir().unwrap();
        let mut child = moto
            .env(&mut Command::new(env!("CARGO_BIN_EXE_influx-tsm")))
            .arg("export")
            .arg(&input)
            .args(["--out", &url, "--quiet", "--threads", "1", "--staging"])
            .arg(staging.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(i * sixth + sixth / 2));
        child.kill().unwrap();
        if child.wait().unwrap().code().is_none() {
            killed += 1;
        }
        let listing = moto.py(&["list", "data", &prefix]);
        if !remote_tree(&listing).is_empty() {
            assert_code(&moto.export(&url, &["--resume"]), 0);
        } else {
            // Killed before anything reached the bucket: a fresh start is right.
            assert_code(&moto.export(&url, &[]), 0);
        }
        let listing = moto.py(&["list", "data", &prefix]);
        assert_eq!(remote_tree(&listing), want, "killed at {i}/6");
        assert_eq!(listing["uploads"], 0, "killed at {i}/6");
    }
    assert!(killed >= 3, "only {killed} runs were cut short");
}

#[test]
fn a_missing_bucket_is_an_error_naming_it() {
    let moto = Moto::start();
    let output = moto.export("s3://no-such-bucket/x", &[]);
    assert_code(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-bucket"), "{stderr}");
    assert_eq!(moto.py(&["buckets"]), serde_json::json!([]));
}

#[test]
fn wrong_credentials_are_an_error_naming_the_bucket() {
    // Four free requests: the bucket, the user, its policy, its key.
    let moto = Moto::start_checking_credentials(4);
    let keys = moto.py(&["user", "guarded"]);
    let (id, secret) = (
        keys["id"].as_str().unwrap(),
        keys["secret"].as_str().unwrap(),
    );
    let export = |id: &str, secret: &str| {
        let staging = tempfile::tempdir().unwrap();
        let output = moto
            .env(&mut Command::new(env!("CARGO_BIN_EXE_influx-tsm")))
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .arg("export")
            .arg(fixture())
            .args(["--out", "s3://guarded/x", "--quiet", "--staging"])
            .arg(staging.path())
            .output()
            .unwrap();
        // The staging folder is left empty: nothing was written anywhere.
        assert_eq!(files(staging.path()), Vec::<String>::new());
        output
    };
    for (what, id, secret) in [
        ("an unknown key", "AKIAUNKNOWNKEY000000", secret),
        ("a wrong secret", id, "not-the-secret"),
    ] {
        let output = export(id, secret);
        assert_code(&output, 1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("guarded"), "{what}: {stderr}");
    }
    let listed = |id: &str, secret: &str| {
        let mut command = Command::new(python());
        moto.env(&mut command)
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret);
        python_json(&mut command, HELPER, &["list", "guarded", "x"])
    };
    let listing = listed(id, secret);
    assert_eq!(remote_tree(&listing), BTreeMap::new());
    assert_eq!(listing["uploads"], 0);
    // The right keys work: the refusals above were the credentials'.
    assert_code(&export(id, secret), 0);
    assert!(remote_tree(&listed(id, secret)).contains_key("manifest.json"));
}

#[test]
fn cluster_nodes_share_a_prefix_and_write_every_shard_once() {
    use crate::cluster::{NODES, node_dir};
    let moto = Moto::start();
    moto.py(&["mkbucket", "data"]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    // A cluster export writes one file per shard.
    assert_code(
        &run(&[
            &"export",
            &fixture(),
            &"--out",
            &local,
            &"-q",
            &"--file-per-shard",
        ]),
        0,
    );
    let exported = |tree: BTreeMap<String, String>| -> BTreeMap<String, String> {
        tree.into_iter()
            .filter(|(path, _)| !path.starts_with(".influx-tsm/"))
            .collect()
    };
    let want = exported(local_tree(&local));
    let dirs: Vec<_> = (0..3)
        .map(|i| node_dir(&fixture(), dir.path(), i))
        .collect();
    let node = |i: usize, extra: &[&str]| {
        let staging = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_influx-tsm"));
        moto.env(&mut command)
            .arg("export")
            .arg(&dirs[i])
            .args(["--out", "s3://data/cluster", "--quiet", "--node", NODES[i]])
            .arg("--staging")
            .arg(staging.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        (command, staging)
    };
    for i in 0..3 {
        let (mut command, _staging) = node(i, &["--register"]);
        assert_code(&command.output().unwrap(), 0);
    }
    let running: Vec<_> = (0..3)
        .map(|i| {
            let (mut command, staging) = node(i, &[]);
            (command.spawn().unwrap(), staging)
        })
        .collect();
    for (child, _staging) in running {
        assert_code(&child.wait_with_output().unwrap(), 0);
    }
    let listing = moto.py(&["list", "data", "cluster"]);
    assert_eq!(exported(remote_tree(&listing)), want);
    assert_eq!(listing["uploads"], 0);
    // Every node run again writes nothing.
    let before = moto.py(&["stat", "data", "cluster"]);
    std::thread::sleep(Duration::from_millis(1100));
    for i in 0..3 {
        let (mut command, _staging) = node(i, &[]);
        assert_code(&command.output().unwrap(), 0);
    }
    assert_eq!(moto.py(&["stat", "data", "cluster"]), before);
}

#[test]
fn urls_that_cannot_be_written_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&[&"export", &fixture(), &"--out", &"ftp://host/x"]);
    assert_code(&output, 64);
    // Nothing named like the URL appears locally (the old behaviour made `ftp:`).
    assert!(!Path::new("ftp:").exists());
    // file:// is a local folder.
    let url = format!("file://{}", dir.path().join("out").display());
    assert_code(&run(&[&"export", &fixture(), &"--out", &url, &"-q"]), 0);
    assert!(dir.path().join("out/manifest.json").is_file());
}

#[test]
fn partitions_share_a_prefix_and_a_rerun_writes_nothing() {
    let moto = Moto::start();
    moto.py(&["mkbucket", "data"]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let input = fixture();
    assert_code(&run(&[&"export", &input, &"--out", &local, &"-q"]), 0);
    let want = local_tree(&local);

    let staging: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let children: Vec<Child> = (1..=2)
        .map(|i| {
            moto.env(&mut Command::new(env!("CARGO_BIN_EXE_influx-tsm")))
                .arg("export")
                .arg(&input)
                .args(["--out", "s3://data/parts", "--quiet", "--partition"])
                .arg(format!("{i}/2"))
                .arg("--staging")
                .arg(staging[i - 1].path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_code(&output, 0);
    }
    // The objects of one process, the manifest of the whole export among them.
    assert_eq!(remote_tree(&moto.py(&["list", "data", "parts"])), want);

    // A partition run again finds its shards done and writes nothing.
    let before = moto.py(&["stat", "data", "parts"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert_code(
        &moto.export("s3://data/parts", &["--partition", "1/2", "--resume"]),
        0,
    );
    assert_eq!(moto.py(&["stat", "data", "parts"]), before);
}
