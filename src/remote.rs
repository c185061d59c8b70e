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
    /// The store refused an operation.
    #[error("cannot {op} `{key}` on remote `{remote}`: {source}")]
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

    /// Every object key on the remote.
    pub async fn list(&self) -> Result<HashSet<String>, RemoteError> {
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
        match self.store.head(&Key::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("check", key)(e)),
        }
    }

    /// Uploads a file under `key`; it becomes visible only when complete.
    pub async fn upload(&self, key: &str, file: &Path) -> Result<(), RemoteError> {
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
        let mut f = tokio::fs::File::open(file).await.map_err(io("read"))?;
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut f, &mut buf)
                .await
                .map_err(io("read"))?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(4)
                .await
                .map_err(self.err("upload", key))?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.map_err(self.err("upload", key))?;
        Ok(())
    }

    /// Downloads `key` into `dst`, checking that its blake3 is `hash` (the last segment of a
    /// cache key, without `.dir`; `None` skips the check).
    pub async fn download(
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
