//! Object storage output: `--out s3://bucket/prefix` (also `gs://`, `az://`), through
//! the `object_store` crate, with the same layout, naming, state and manifest as a local
//! export.
//!
//! An export to a bucket is written into a local staging folder first, one shard at a
//! time, exactly as a local export; when a shard is finished its files are uploaded, each
//! as a multipart upload streamed from the staged file in [`PART_BYTES`] parts (memory: one
//! part per worker, whatever the file's size), then the shard's state record, then the
//! staged files are deleted. An object appears whole or not at all: completing the
//! multipart upload is the commit. The state (`.influx-tsm/...`) lives next to the data,
//! so `--resume` works against the bucket: it downloads the state into the staging
//! folder and goes on as a local resume would.
//!
//! Each upload is recorded under `.influx-tsm/uploads/` before its first part is sent and
//! the record deleted once it is complete; a resumed or overwriting run aborts every
//! recorded upload an earlier run left and, on S3, every multipart upload still open under
//! the prefix (listed with ListMultipartUploads, which also finds one started in the
//! instant before its record was written), so a killed export leaves no orphaned parts
//! behind once it is resumed. On GCS and Azure only the recorded ones are aborted; a
//! bucket lifecycle rule cleans the rest.
//!
//! Credentials and endpoints come from the usual environment: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` (for S3-compatible servers),
//! `AWS_ALLOW_HTTP`; `GOOGLE_SERVICE_ACCOUNT`...; `AZURE_STORAGE_ACCOUNT_NAME`... (see
//! `object_store`'s builders, `from_env`).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use crate::destination::STATE_DIR;
use crate::error::{Error, InternalError, IoContext, OptionsError, Result, cannot};

/// Bytes per uploaded part (S3 wants at least 5 MiB for every part but the last).
pub const PART_BYTES: usize = 8 << 20;

const UPLOADS_DIR: &str = "uploads";

pub use crate::destination::is_url;

/// A bucket (and prefix) that an export is written into.
pub struct Remote {
    url: String,
    bucket: String,
    prefix: ObjectPath,
    store: Arc<dyn ObjectStore>,
    multipart: Arc<dyn MultipartStore>,
    /// S3 only: signs the request that lists open multipart uploads.
    s3: Option<Arc<object_store::aws::AmazonS3>>,
    runtime: Handle,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

/// What an upload record says: enough to abort the upload.
#[derive(Serialize, Deserialize)]
struct UploadRecord {
    key: String,
    id: String,
}

impl Remote {
    /// The bucket named by `url` (`s3://`, `gs://`, `az://` or `abfs://`; `memory://` for
    /// tests), credentials from the environment. Async work runs on `runtime` (the
    /// caller's tokio runtime; the export blocks its own threads on it).
    ///
    /// # Errors
    /// [`Error::Options`] for a URL of another scheme or one `object_store` refuses.
    pub fn open(url: &str, runtime: Handle) -> Result<Remote> {
        let parsed =
            url::Url::parse(url).map_err(|err| bad_url(url, format!("not a URL: {err}")))?;
        let bucket = parsed.host_str().unwrap_or_default().to_string();
        let prefix = ObjectPath::from_url_path(parsed.path())
            .map_err(|err| bad_url(url, err.to_string()))?;
        let refuse = |err: object_store::Error| bad_url(url, err.to_string());
        let mut s3 = None;
        let (store, multipart): (Arc<dyn ObjectStore>, Arc<dyn MultipartStore>) =
            match parsed.scheme() {
                "s3" | "s3a" => {
                    let s = Arc::new(
                        object_store::aws::AmazonS3Builder::from_env()
                            .with_url(url)
                            .build()
                            .map_err(refuse)?,
                    );
                    s3 = Some(s.clone());
                    (s.clone(), s)
                }
                "gs" => {
                    let s = Arc::new(
                        object_store::gcp::GoogleCloudStorageBuilder::from_env()
                            .with_url(url)
                            .build()
                            .map_err(refuse)?,
                    );
                    (s.clone(), s)
                }
                "az" | "azure" | "abfs" | "abfss" => {
                    let s = Arc::new(
                        object_store::azure::MicrosoftAzureBuilder::from_env()
                            .with_url(url)
                            .build()
                            .map_err(refuse)?,
                    );
                    (s.clone(), s)
                }
                "memory" => {
                    let s = Arc::new(object_store::memory::InMemory::new());
                    (s.clone(), s)
                }
                other => {
                    return Err(bad_url(
                        url,
                        format!(
                            "cannot write to {other}:// (s3://, gs://, az:// are object \
                             stores; a local folder is a path, not a URL)"
                        ),
                    ));
                }
            };
        let mut remote = Remote::with_store(url, bucket, prefix, store, multipart, runtime);
        remote.s3 = s3;
        Ok(remote)
    }

    /// A remote over stores the caller built (an embedder's own configuration).
    pub fn with_store(
        url: &str,
        bucket: String,
        prefix: ObjectPath,
        store: Arc<dyn ObjectStore>,
        multipart: Arc<dyn MultipartStore>,
        runtime: Handle,
    ) -> Remote {
        Remote {
            url: url.to_string(),
            bucket,
            prefix,
            store,
            multipart,
            s3: None,
            runtime,
        }
    }

    /// The URL given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The object key of `relative` (`/`-separated, as the local tree names it): the same
    /// bytes, not escaped again (the file names are already safe, see [`crate::naming`]).
    fn key(&self, relative: &str) -> Result<ObjectPath> {
        let mut raw = self.prefix.as_ref().to_string();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            if !raw.is_empty() {
                raw.push('/');
            }
            raw.push_str(part);
        }
        ObjectPath::parse(&raw).map_err(|err| {
            Error::Internal(InternalError::ObjectKey {
                relative: relative.to_string(),
                url: self.url.clone(),
                reason: err.to_string(),
            })
        })
    }

    /// The path under the prefix of the object key `key` (the inverse of [`Remote::key`]).
    fn relative<'a>(&self, key: &'a str) -> &'a str {
        key.strip_prefix(self.prefix.as_ref())
            .map(|k| k.trim_start_matches('/'))
            .unwrap_or(key)
    }

    fn failed(&self, what: String, source: object_store::Error) -> Error {
        Error::Remote {
            bucket: self.bucket.clone(),
            what,
            source: Box::new(source),
        }
    }

    /// Relative paths of every object under the prefix.
    fn list(&self, under: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let root = self.key(under)?;
        let objects: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(Some(&root)).try_collect())
            .map_err(|err| self.failed(format!("cannot list {}", self.url), err))?;
        Ok(objects
            .into_iter()
            .map(|o| self.relative(o.location.as_ref()).to_string())
            .collect())
    }

    /// Checks that the bucket can be listed: a missing bucket or refused credentials are
    /// an error naming the bucket, before anything is written. Returns whether anything
    /// is under the prefix.
    ///
    /// # Errors
    /// [`Error::Remote`].
    pub fn check(&self) -> Result<bool> {
        Ok(!self.list("")?.is_empty())
    }

    /// Whether an earlier export's state is under the prefix.
    ///
    /// # Errors
    /// [`Error::Remote`].
    pub fn has_state(&self) -> Result<bool> {
        self.exists(&format!("{STATE_DIR}/options.json"))
    }

    /// Whether the object `relative` exists.
    ///
    /// # Errors
    /// [`Error::Remote`].
    pub fn exists(&self, relative: &str) -> Result<bool> {
        match self.runtime.block_on(self.store.head(&self.key(relative)?)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(self.failed(format!("cannot read {}/{relative}", self.url), err)),
        }
    }

    /// Copies the earlier export's state (`.influx-tsm/`, without upload records) into
    /// `staging`.
    ///
    /// # Errors
    /// [`Error::Remote`], local I/O errors.
    pub fn download_state(&self, staging: &Path) -> Result<()> {
        for relative in self.list(STATE_DIR)? {
            if relative.starts_with(&format!("{STATE_DIR}/{UPLOADS_DIR}/")) {
                continue;
            }
            let bytes = self.get(&relative)?;
            let local = staging.join(&relative);
            if let Some(parent) = local.parent() {
                std::fs::create_dir_all(parent).io_context(cannot("create", parent))?;
            }
            std::fs::write(&local, &bytes).io_context(cannot("write", &local))?;
        }
        Ok(())
    }

    fn get_if_there(&self, relative: &str) -> Result<Option<bytes::Bytes>> {
        match self.get(relative) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(Error::Remote { source, .. })
                if matches!(*source, object_store::Error::NotFound { .. }) =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    fn get(&self, relative: &str) -> Result<bytes::Bytes> {
        let key = self.key(relative)?;
        self.runtime
            .block_on(async { self.store.get(&key).await?.bytes().await })
            .map_err(|err| self.failed(format!("cannot read {}/{relative}", self.url), err))
    }

    /// Deletes every object under the prefix (`--overwrite` of an earlier export).
    ///
    /// # Errors
    /// [`Error::Remote`].
    pub fn delete_all(&self) -> Result<()> {
        for relative in self.list("")? {
            self.delete(&relative)?;
        }
        Ok(())
    }

    fn delete(&self, relative: &str) -> Result<()> {
        match self
            .runtime
            .block_on(self.store.delete(&self.key(relative)?))
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(self.failed(format!("cannot delete {}/{relative}", self.url), err)),
        }
    }

    /// Aborts the uploads an earlier run left open: every one recorded, and on S3 every
    /// open multipart upload under the prefix (which also finds one started in the instant
    /// before its record was written); returns how many.
    ///
    /// # Errors
    /// [`Error::Remote`].
    pub fn abort_unfinished_uploads(&self) -> Result<usize> {
        self.abort_uploads_of(|_| true)
    }

    /// Aborts the uploads an earlier run left open for the objects whose relative path
    /// `of` accepts (a shard's files, when other processes may be uploading others);
    /// returns how many.
    ///
    /// # Errors
    /// [`Error::Remote`].
    pub fn abort_uploads_of(&self, of: impl Fn(&str) -> bool) -> Result<usize> {
        let records = self.list(&format!("{STATE_DIR}/{UPLOADS_DIR}"))?;
        let mut open: Vec<(ObjectPath, String)> = Vec::new();
        let mut done_records = Vec::new();
        for relative in &records {
            // Another process sharing the prefix may have finished its upload and
            // deleted the record since the listing.
            let Some(bytes) = self.get_if_there(relative)? else {
                continue;
            };
            match serde_json::from_slice::<UploadRecord>(&bytes) {
                Ok(record) if of(&record.key) => {
                    open.push((self.key(&record.key)?, record.id));
                    done_records.push(relative);
                }
                Ok(_) => {}
                Err(_) => done_records.push(relative),
            }
        }
        open.extend(
            self.open_s3_uploads()?
                .into_iter()
                .filter(|(key, _)| of(self.relative(key.as_ref()))),
        );
        for (key, id) in &open {
            // Already completed or aborted is fine: the record outlived it.
            let _ = self
                .runtime
                .block_on(self.multipart.abort_multipart(key, id));
        }
        for relative in done_records {
            self.delete(relative)?;
        }
        Ok(open.len())
    }

    /// S3's open multipart uploads under the prefix (ListMultipartUploads, which
    /// `object_store` does not offer: one presigned request per page of 1,000).
    fn open_s3_uploads(&self) -> Result<Vec<(ObjectPath, String)>> {
        use object_store::signer::{Method, SignedUrlOptions, Signer};
        let Some(s3) = &self.s3 else {
            return Ok(Vec::new());
        };
        let prefix = match self.prefix.as_ref() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        // Bounded: a page lists up to 1,000 uploads; 1,000 pages is far beyond any export.
        for _ in 0..1000 {
            let mut query = vec![
                ("uploads".to_string(), String::new()),
                ("prefix".into(), prefix.clone()),
            ];
            if let Some((key, id)) = &markers {
                query.push(("key-marker".into(), key.clone()));
                query.push(("upload-id-marker".into(), id.clone()));
            }
            let options = SignedUrlOptions::new().with_query(query);
            let page = self.runtime.block_on(async {
                let url = s3
                    .signed_url_opts(
                        Method::GET,
                        &ObjectPath::default(),
                        std::time::Duration::from_secs(600),
                        &options,
                    )
                    .await?;
                let response = reqwest::get(url.as_str()).await.map_err(generic)?;
                let status = response.status();
                let body = response.text().await.map_err(generic)?;
                if !status.is_success() {
                    return Err(generic(format!("{status}: {body}")));
                }
                Ok(body)
            });
            let page = page.map_err(|err| {
                self.failed(format!("cannot list the open uploads of {}", self.url), err)
            })?;
            let page: UploadsPage = quick_xml::de::from_str(&page).map_err(|err| {
                self.failed(
                    format!("cannot list the open uploads of {}", self.url),
                    generic(format!(
                        "an answer that is not ListMultipartUploadsResult: {err}"
                    )),
                )
            })?;
            found.extend(
                page.uploads
                    .into_iter()
                    .map(|u| (ObjectPath::from(u.key.as_str()), u.upload_id)),
            );
            let truncated = page.is_truncated;
            let next = (page.next_key_marker, page.next_upload_id_marker);
            match (truncated, next) {
                (true, (Some(key), Some(id))) => markers = Some((key, id)),
                _ => return Ok(found),
            }
        }
        Ok(found)
    }

    /// Writes a small object whole (state records, the manifest).
    ///
    /// # Errors
    /// [`Error::Remote`].
    pub fn put_small(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        self.runtime
            .block_on(
                self.store
                    .put(&self.key(relative)?, PutPayload::from(bytes)),
            )
            .map(|_| ())
            .map_err(|err| self.failed(format!("cannot write {}/{relative}", self.url), err))
    }

    /// Uploads the local file `local` as `relative`: recorded, streamed in parts,
    /// completed (the object appears only then), record deleted.
    ///
    /// # Errors
    /// [`Error::Remote`] (the upload is aborted), local I/O errors.
    pub fn upload(&self, local: &Path, relative: &str) -> Result<()> {
        let key = self.key(relative)?;
        let id = self
            .runtime
            .block_on(self.multipart.create_multipart(&key))
            .map_err(|err| self.failed(format!("cannot start {}/{relative}", self.url), err))?;
        let record_name = format!("{STATE_DIR}/{UPLOADS_DIR}/{}.json", record_name(relative));
        let record = serde_json::to_vec(&UploadRecord {
            key: relative.to_string(),
            id: id.clone(),
        })
        .map_err(|source| Error::State {
            what: "cannot record an upload".into(),
            source,
        })?;
        self.put_small(&record_name, record)?;
        let sent = self.send_parts(local, &key, &id, relative);
        if sent.is_err() {
            let _ = self
                .runtime
                .block_on(self.multipart.abort_multipart(&key, &id));
        }
        sent?;
        self.delete(&record_name)
    }

    fn send_parts(
        &self,
        local: &Path,
        key: &ObjectPath,
        id: &String,
        relative: &str,
    ) -> Result<()> {
        let mut file = std::fs::File::open(local).io_context(cannot("open", local))?;
        let mut parts = Vec::new();
        loop {
            let mut buffer = Vec::with_capacity(PART_BYTES);
            (&mut file)
                .take(PART_BYTES as u64)
                .read_to_end(&mut buffer)
                .io_context(cannot("read", local))?;
            // An empty file is one empty part; otherwise stop at the end.
            if buffer.is_empty() && !parts.is_empty() {
                break;
            }
            let last = buffer.len() < PART_BYTES;
            let part = self
                .runtime
                .block_on(
                    self.multipart
                        .put_part(key, id, parts.len(), PutPayload::from(buffer)),
                )
                .map_err(|err| {
                    self.failed(format!("cannot upload {}/{relative}", self.url), err)
                })?;
            parts.push(part);
            if last {
                break;
            }
        }
        self.runtime
            .block_on(self.multipart.complete_multipart(key, id, parts))
            .map(|_| ())
            .map_err(|err| self.failed(format!("cannot complete {}/{relative}", self.url), err))
    }
}

/// `--out URL` refused, and why.
fn bad_url(url: &str, reason: String) -> Error {
    Error::Options(OptionsError::BadUrl {
        url: url.to_string(),
        reason,
    })
}

/// An error of the listing request, as `object_store` reports its own.
fn generic(err: impl fmt::Display) -> object_store::Error {
    object_store::Error::Generic {
        store: "S3",
        source: err.to_string().into(),
    }
}

/// One page of S3's answer to ListMultipartUploads (the elements read; the others are
/// ignored).
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UploadsPage {
    #[serde(rename = "Upload")]
    uploads: Vec<OpenUpload>,
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
}

/// An open multipart upload: its key and id.
#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OpenUpload {
    key: String,
    upload_id: String,
}

/// A file name for the upload record of `relative`: its bytes in hex (nothing a store
/// could escape or refuse).
fn record_name(relative: &str) -> String {
    crate::naming::hex(relative.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> (tokio::runtime::Runtime, Remote) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let remote = Remote::open("memory:///exports/one", runtime.handle().clone()).unwrap();
        (runtime, remote)
    }

    #[test]
    fn xml_answers_are_read() {
        let page = "<ListMultipartUploadsResult><Bucket>b</Bucket>\
                    <Upload><Key>a/b&amp;c</Key><UploadId>x&#x31;</UploadId></Upload>\
                    <Upload><Key>d</Key><UploadId>y</UploadId><Initiated>t</Initiated></Upload>\
                    <IsTruncated>true</IsTruncated><NextKeyMarker>d</NextKeyMarker>\
                    <NextUploadIdMarker>y</NextUploadIdMarker></ListMultipartUploadsResult>";
        let page: UploadsPage = quick_xml::de::from_str(page).unwrap();
        let upload = |key: &str, id: &str| OpenUpload {
            key: key.into(),
            upload_id: id.into(),
        };
        assert_eq!(
            page,
            UploadsPage {
                uploads: vec![upload("a/b&c", "x1"), upload("d", "y")],
                is_truncated: true,
                next_key_marker: Some("d".into()),
                next_upload_id_marker: Some("y".into()),
            }
        );
        let last: UploadsPage = quick_xml::de::from_str(
            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
        )
        .unwrap();
        assert_eq!(last, UploadsPage::default());
        let bogus = "<R><Upload><Key>&bogus;</Key><UploadId>y</UploadId></Upload></R>";
        assert!(quick_xml::de::from_str::<UploadsPage>(bogus).is_err());
    }

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert!(is_url("s3://bucket/prefix"));
        assert!(is_url("file:///tmp/x"));
        assert!(!is_url("/tmp/s3:/x"));
        assert!(!is_url("relative/dir"));
        assert!(!is_url("C:\\data"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = Remote::open("ftp://host/x", runtime.handle().clone()).unwrap_err();
        assert!(
            matches!(err, Error::Options(OptionsError::BadUrl { .. })),
            "{err}"
        );
    }

    #[test]
    fn uploads_are_whole_and_leave_no_records() {
        let (_runtime, remote) = memory();
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("f");
        // Three parts: two full, one short.
        let data: Vec<u8> = (0..2 * PART_BYTES + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&local, &data).unwrap();
        assert!(!remote.check().unwrap());
        remote.upload(&local, "db/rp/m/1.parquet").unwrap();
        assert_eq!(remote.get("db/rp/m/1.parquet").unwrap(), data);
        assert_eq!(remote.list("").unwrap(), ["db/rp/m/1.parquet"]);

        std::fs::write(&local, b"").unwrap();
        remote.upload(&local, "empty").unwrap();
        assert!(remote.get("empty").unwrap().is_empty());
    }

    #[test]
    fn state_round_trips_and_recorded_uploads_are_aborted() {
        let (_runtime, remote) = memory();
        remote
            .put_small(".influx-tsm/options.json", b"{}".to_vec())
            .unwrap();
        remote
            .put_small(".influx-tsm/done/db/rp/1.json", b"[]".to_vec())
            .unwrap();
        // An upload a killed run started and recorded.
        let key = remote.key("db/rp/m/2.parquet").unwrap();
        let id = remote
            .runtime
            .block_on(remote.multipart.create_multipart(&key))
            .unwrap();
        let record = serde_json::to_vec(&UploadRecord {
            key: "db/rp/m/2.parquet".into(),
            id,
        })
        .unwrap();
        remote
            .put_small(".influx-tsm/uploads/x.json", record)
            .unwrap();
        assert!(remote.has_state().unwrap());
        let dir = tempfile::tempdir().unwrap();
        remote.download_state(dir.path()).unwrap();
        assert!(dir.path().join(".influx-tsm/done/db/rp/1.json").is_file());
        assert!(!dir.path().join(".influx-tsm/uploads").exists());
        assert_eq!(remote.abort_unfinished_uploads().unwrap(), 1);
        assert!(remote.list(".influx-tsm/uploads").unwrap().is_empty());
        remote.delete_all().unwrap();
        assert!(!remote.check().unwrap());
    }
}
