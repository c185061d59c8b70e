//! `Remote`: where the cache is shared, the local folder `dvc_remote/` by default or an
//! S3-compatible bucket, both through `object_store`. Objects keep the cache's names
//! (`ab/cdef…`), uploads become visible only once complete, downloads are checked against their
//! hash before they enter the cache.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::config::{Config, DEFAULT_REMOTE_DIR, RemoteConfig};

/// Files above this size are uploaded in parts.
const MULTIPART: u64 = 16 << 20;

/// How many times a failed request to an S3 remote is retried unless `retries` says otherwise.
const DEFAULT_RETRIES: usize = 10;

/// Errors talking to a remote.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// No remote of that name.
    #[error("no remote named `{name}`; configured: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names configured.
        known: String,
    },
    /// The URL cannot be used.
    #[error("remote `{name}` has an unusable url `{url}`: {message}")]
    BadUrl {
        /// The remote.
        name: String,
        /// Its URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The store refused an operation, or could not be reached after its retries.
    #[error("cannot {op} {} on remote `{remote}`: {source}", shown_key(key))]
    Store {
        /// The remote.
        remote: String,
        /// `upload`, `download`, `list`, `delete`.
        op: &'static str,
        /// The object.
        key: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// A local file cannot be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A downloaded object does not match its name.
    #[error("object `{key}` from remote `{remote}` is corrupted: it hashes to {actual}")]
    Corrupted {
        /// The remote.
        remote: String,
        /// The object.
        key: String,
        /// What it hashes to.
        actual: String,
    },
}

/// `` `ab/cdef` ``, or `its objects` for a listing.
fn shown_key(key: &str) -> String {
    if key.is_empty() {
        "its objects".into()
    } else {
        format!("`{key}`")
    }
}

impl RemoteError {
    /// Whether the error is the remote's as a whole (unreachable, refusing the credentials,
    /// failing), so that the other transfers would fail the same way: anything the store
    /// answered except that one object is missing.
    pub fn is_remote_down(&self) -> bool {
        matches!(self, RemoteError::Store { source, .. }
            if !matches!(source, object_store::Error::NotFound { .. }))
    }

    /// Whether the error is a transport failure object_store does not retry by itself (it
    /// retries failed connections, timeouts, interruptions and 5xx answers).
    fn is_unclassified_transport(&self) -> bool {
        use object_store::client::{HttpError, HttpErrorKind};
        let RemoteError::Store { source, .. } = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
        while let Some(e) = cause {
            if let Some(http) = e.downcast_ref::<HttpError>() {
                return matches!(http.kind(), HttpErrorKind::Unknown | HttpErrorKind::Decode);
            }
            cause = e.source();
        }
        false
    }
}

/// An opened remote.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Its name (`default` for the built-in `dvc_remote/`).
    pub name: String,
    /// Where it is.
    pub url: String,
    store: Arc<dyn ObjectStore>,
    /// The folder of a local remote: downloads from it are plain file copies.
    local: Option<PathBuf>,
    /// How many times a failed request is retried (see [`Remote::retrying`]).
    retries: usize,
}

impl Remote {
    /// Opens the remote `name`, else the configured default, else `dvc_remote/` in the root.
    pub fn open(root: &Path, config: &Config, name: Option<&str>) -> Result<Remote, RemoteError> {
        let chosen = name
            .map(str::to_string)
            .or_else(|| config.core.remote.clone());
        let (name, rc) = match chosen {
            Some(n) => match config.remote.get(&n) {
                Some(rc) => (n, rc.clone()),
                None => {
                    let known: Vec<String> =
                        config.remote.keys().map(|k| format!("`{k}`")).collect();
                    return Err(RemoteError::Unknown {
                        name: n,
                        known: if known.is_empty() {
                            "none (the default is `dvc_remote/`)".into()
                        } else {
                            known.join(", ")
                        },
                    });
                }
            },
            None => (
                "default".to_string(),
                RemoteConfig {
                    url: Some(DEFAULT_REMOTE_DIR.into()),
                    ..RemoteConfig::default()
                },
            ),
        };
        let url = rc.url.clone().unwrap_or_else(|| DEFAULT_REMOTE_DIR.into());
        let bad = |message: String| RemoteError::BadUrl {
            name: name.clone(),
            url: crate::config::shown_url(&url),
            message,
        };
        let mut local = None;
        let retries = rc.retries.map_or(DEFAULT_RETRIES, |r| r as usize);
        let store: Arc<dyn ObjectStore> = if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket after `s3://`".into()));
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(e) = &rc.endpoint {
                b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
            }
            if let Some(r) = &rc.region {
                b = b.with_region(r);
            }
            if let Some(k) = &rc.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = &rc.secret_access_key {
                b = b.with_secret_access_key(k);
            }
            // object_store retries a failed request with exponential backoff and jitter
            // (0.1 s doubling up to 15 s): connection failures always, a cut connection or a
            // timeout when the request may be repeated (every request wf makes), 5xx and 429
            // answers, and a download's body cut midway (resumed from where it stopped).
            b = b.with_retry(object_store::RetryConfig {
                max_retries: retries,
                ..object_store::RetryConfig::default()
            });
            let s3 = b.build().map_err(|e| bad(e.to_string()))?;
            let prefix = prefix.trim_matches('/');
            if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            }
        } else if url.contains("://") {
            return Err(bad("only folders and `s3://` remotes are supported".into()));
        } else {
            let dir: PathBuf = if Path::new(&url).is_absolute() {
                PathBuf::from(&url)
            } else {
                root.join(&url)
            };
            std::fs::create_dir_all(&dir).map_err(|e| bad(e.to_string()))?;
            // A remote inside the repository must not end up in git.
            if dir.starts_with(root) && !dir.join(".gitignore").exists() {
                let _ = std::fs::write(dir.join(".gitignore"), "/*\n!/.gitignore\n");
            }
            local = Some(dir.clone());
            Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| bad(e.to_string()))?,
            )
        };
        Ok(Remote {
            name,
            url,
            store,
            local,
            retries,
        })
    }

    fn err(
        &self,
        op: &'static str,
        key: &str,
    ) -> impl FnOnce(object_store::Error) -> RemoteError + use<> {
        let (remote, key) = (self.name.clone(), key.to_string());
        move |source| RemoteError::Store {
            remote,
            op,
            key,
            source,
        }
    }

    /// Runs `op` again, after a growing pause (0.1 s doubling up to 5 s, with jitter), while it
    /// fails in a way object_store's own retries leave alone: a connection that broke in a way
    /// its HTTP client does not classify (for instance closed by the server before answering).
    /// Every request wf makes may be repeated: objects are named by their content.
    async fn retrying<T, F, Fut>(&self, op: F) -> Result<T, RemoteError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, RemoteError>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if attempt < self.retries && e.is_unclassified_transport() => {
                    let pause = (0.1 * 2f64.powi(attempt.min(10) as i32)).min(5.0);
                    let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..1.0);
                    tokio::time::sleep(std::time::Duration::from_secs_f64(pause * jitter)).await;
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    /// Every object key on the remote.
    pub async fn list(&self) -> Result<HashSet<String>, RemoteError> {
        self.retrying(|| self.list_once()).await
    }

    async fn list_once(&self) -> Result<HashSet<String>, RemoteError> {
        let mut keys = HashSet::new();
        let mut stream = self.store.list(None);
        while let Some(meta) = stream.next().await {
            match meta {
                Ok(m) => {
                    keys.insert(m.location.to_string());
                }
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(self.err("list", "")(e)),
            }
        }
        Ok(keys)
    }

    /// Whether the remote has `key`.
    pub async fn has(&self, key: &str) -> Result<bool, RemoteError> {
        self.retrying(|| self.has_once(key)).await
    }

    async fn has_once(&self, key: &str) -> Result<bool, RemoteError> {
        match self.store.head(&Key::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("check", key)(e)),
        }
    }

    /// Uploads a file under `key`; it becomes visible only when complete.
    pub async fn upload(&self, key: &str, file: &Path) -> Result<(), RemoteError> {
        self.retrying(|| self.upload_once(key, file)).await
    }

    async fn upload_once(&self, key: &str, file: &Path) -> Result<(), RemoteError> {
        if let Some(dir) = &self.local {
            return self.copy_to_folder(dir, key, file).await;
        }
        let io = |action| {
            let path = file.display().to_string();
            move |source| RemoteError::Io {
                action,
                path,
                source,
            }
        };
        let k = Key::from(key);
        let size = std::fs::metadata(file).map_err(io("read"))?.len();
        if size <= MULTIPART {
            let bytes = tokio::fs::read(file).await.map_err(io("read"))?;
            self.store
                .put(&k, PutPayload::from(bytes))
                .await
                .map_err(self.err("upload", key))?;
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(&k)
            .await
            .map_err(self.err("upload", key))?;
        let mut writer = WriteMultipart::new(upload);
        match self.write_parts(&mut writer, key, file).await {
            Ok(()) => writer
                .finish()
                .await
                .map(|_| ())
                .map_err(self.err("upload", key)),
            Err(e) => {
                // The parts sent so far were never visible; abort so the store drops them.
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Uploads to a local remote: a clone where the file system has them, else a copy made by
    /// the kernel (`copy_file_range`), into a temporary file renamed once complete.
    async fn copy_to_folder(&self, dir: &Path, key: &str, file: &Path) -> Result<(), RemoteError> {
        let dst = key
            .split('/')
            .fold(dir.to_path_buf(), |p, part| p.join(part));
        let src = file.to_path_buf();
        let copied = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let parent = dst.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent)?;
            // Readable by the others who share the remote, as any file made with the umask.
            let tmp = tempfile::Builder::new()
                .prefix(".upload.")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .tempfile_in(parent)?;
            let from = std::fs::File::open(&src)?;
            if reflink_copy::reflink_file(&from, tmp.as_file()).is_err() {
                std::io::copy(&mut &from, &mut tmp.as_file())?;
            }
            tmp.persist(&dst).map_err(|e| e.error)?;
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        copied.map_err(|source| RemoteError::Io {
            action: "upload",
            path: file.display().to_string(),
            source,
        })
    }

    /// Sends `file`'s content through `writer`, four parts in flight at most.
    async fn write_parts(
        &self,
        writer: &mut WriteMultipart,
        key: &str,
        file: &Path,
    ) -> Result<(), RemoteError> {
        let io = |source| RemoteError::Io {
            action: "read",
            path: file.display().to_string(),
            source,
        };
        let mut f = tokio::fs::File::open(file).await.map_err(io)?;
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut f, &mut buf)
                .await
                .map_err(io)?;
            if n == 0 {
                return Ok(());
            }
            writer
                .wait_for_capacity(4)
                .await
                .map_err(self.err("upload", key))?;
            writer.write(&buf[..n]);
        }
    }

    /// Downloads `key` into `dst`, checking that its blake3 is `hash` (the last segment of a
    /// cache key, without `.dir`; `None` skips the check).
    pub async fn download(
        &self,
        key: &str,
        dst: &Path,
        hash: Option<&str>,
    ) -> Result<(), RemoteError> {
        self.retrying(|| self.download_once(key, dst, hash)).await
    }

    async fn download_once(
        &self,
        key: &str,
        dst: &Path,
        hash: Option<&str>,
    ) -> Result<(), RemoteError> {
        let io = |action| {
            let path = dst.display().to_string();
            move |source| RemoteError::Io {
                action,
                path,
                source,
            }
        };
        let hasher = if let Some(dir) = &self.local {
            // A local remote is read as a file, in large blocks, off the async threads.
            let src = key.split('/').fold(dir.clone(), |p, part| p.join(part));
            let dst_path = dst.to_path_buf();
            tokio::task::spawn_blocking(move || -> std::io::Result<blake3::Hasher> {
                let mut input = std::fs::File::open(&src)?;
                let mut file = std::fs::File::create(&dst_path)?;
                let mut hasher = blake3::Hasher::new();
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = std::io::Read::read(&mut input, &mut buf)?;
                    if n == 0 {
                        return Ok(hasher);
                    }
                    hasher.update(&buf[..n]);
                    file.write_all(&buf[..n])?;
                }
            })
            .await
            .map_err(|e| io("download")(std::io::Error::other(e)))?
            .map_err(io("download"))?
        } else {
            let got = self
                .store
                .get(&Key::from(key))
                .await
                .map_err(self.err("download", key))?;
            let mut stream = got.into_stream();
            let mut file = std::fs::File::create(dst).map_err(io("write"))?;
            let mut hasher = blake3::Hasher::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(self.err("download", key))?;
                hasher.update(&chunk);
                file.write_all(&chunk).map_err(io("write"))?;
            }
            hasher
        };
        let actual = hasher.finalize().to_hex().to_string();
        if let Some(expected) = hash
            && expected != actual
        {
            let _ = std::fs::remove_file(dst);
            return Err(RemoteError::Corrupted {
                remote: self.name.clone(),
                key: key.into(),
                actual,
            });
        }
        Ok(())
    }

    /// Deletes an object.
    pub async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        self.store
            .delete(&Key::from(key))
            .await
            .map_err(self.err("delete", key))
    }
}
