//! `wf exp push|pull`: experiments through a remote, as a team shares data. Each experiment
//! travels as one immutable document under `exps/` (its rows and its MLflow runs', see
//! `store::Document`), beside the cache objects of its outs and the artifact files its scripts
//! logged, which are content-addressed like cache objects. The document goes last on push and
//! is added to the store last on pull, so one that is there has everything it names.

use std::collections::BTreeSet;
use std::path::Path;

use super::error::ExpError;
use crate::cache::refs;
use crate::error::Error;
use crate::remote::Remote;
use crate::repo::Repo;
use crate::store::{Document, Store};
use crate::transfer::{self, Summary};

/// The remote folder of run documents.
const PREFIX: &str = "exps/";

/// What a push or pull did.
#[derive(Debug, Default)]
pub struct Shared {
    /// The remote's name.
    pub remote: String,
    /// The experiments moved, by name.
    pub moved: Vec<String>,
    /// The experiments the other side had already, by name.
    pub present: Vec<String>,
    /// The cache objects and artifact files moved.
    pub objects: Summary,
}

/// Pushes experiments `names` (default: every one that ended) to `remote`.
pub fn push(
    repo: &Repo,
    remote: Option<&str>,
    names: &[String],
    jobs: usize,
) -> Result<Shared, Error> {
    let store = Store::open(&repo.root)?;
    let chosen = if names.is_empty() {
        store
            .experiments(false)?
            .into_iter()
            .filter(|e| ended(&e.run.status))
            .collect()
    } else {
        let mut chosen = Vec::new();
        for name in names {
            let e = store.find(name)?;
            if !ended(&e.run.status) {
                return Err(ExpError::NotEnded {
                    name: e.run.name,
                    status: e.run.status,
                }
                .into());
            }
            chosen.push(e);
        }
        chosen
    };
    let (cache, remote) = cache_and_remote(repo, remote)?;
    let runtime = crate::exec::runtime()?;
    runtime.block_on(async {
        let there = remote.list().await?;
        let mut shared = Shared {
            remote: remote.name.clone(),
            ..Shared::default()
        };
        for e in chosen {
            let key = format!("{PREFIX}{}.json", e.run.id);
            if there.contains(&key) {
                shared.present.push(e.run.name);
                continue;
            }
            let objects = out_objects(&store, &e.run.id, &cache)?;
            let doc = store.export(&e.run.id, objects.iter().cloned().collect())?;
            let moved = transfer::push(&remote, cache.dir(), &objects, jobs, None).await?;
            add(&mut shared.objects, moved);
            for a in &doc.artifacts {
                let k = refs::key(&a.hash);
                if there.contains(&k) {
                    shared.objects.present += 1;
                    continue;
                }
                match store.artifact_path(a) {
                    Some(file) => {
                        remote.upload(&k, &file).await?;
                        shared.objects.transferred += 1;
                    }
                    None => shared
                        .objects
                        .failed
                        .push(format!("artifact `{}` of run {}", a.path, a.run)),
                }
            }
            if !shared.objects.failed.is_empty() {
                // A document goes up only with everything it names.
                break;
            }
            upload_bytes(&remote, &key, &doc.to_bytes(), &repo.root).await?;
            shared.moved.push(e.run.name);
        }
        Ok(shared)
    })
}

/// Pulls experiments `names` (default: every one) from `remote` into the run store.
pub fn pull(
    repo: &Repo,
    remote: Option<&str>,
    names: &[String],
    jobs: usize,
) -> Result<Shared, Error> {
    let mut store = Store::open(&repo.root)?;
    let (cache, remote) = cache_and_remote(repo, remote)?;
    let runtime = crate::exec::runtime()?;
    runtime.block_on(async {
        let mut keys: Vec<String> = remote
            .list()
            .await?
            .into_iter()
            .filter(|k| k.starts_with(PREFIX) && k.ends_with(".json"))
            .collect();
        keys.sort();
        let mut shared = Shared {
            remote: remote.name.clone(),
            ..Shared::default()
        };
        let mut wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let mut docs = Vec::new();
        for key in keys {
            let id = key
                .trim_start_matches(PREFIX)
                .trim_end_matches(".json")
                .to_string();
            if names.is_empty() && store.has_run(&id)? {
                shared.present.push(id);
                continue;
            }
            let bad = |message: String| ExpError::BadDocument {
                remote: remote.name.clone(),
                key: key.clone(),
                message,
            };
            let bytes = download_bytes(&remote, &key, &repo.root).await?;
            let doc = Document::from_bytes(&bytes).map_err(bad)?;
            if doc.id != id {
                return Err(bad(format!("it holds run {}", doc.id)).into());
            }
            if let Some(a) = doc
                .artifacts
                .iter()
                .find(|a| store.artifact_path(a).is_none())
            {
                return Err(bad(format!("artifact path `{}` leaves its folder", a.path)).into());
            }
            let name = doc.name().unwrap_or(&id).to_string();
            if !names.is_empty() {
                let by_id = wanted
                    .iter()
                    .find(|n| n.len() >= 7 && id.starts_with(**n))
                    .copied();
                let Some(n) = by_id.or_else(|| wanted.get(name.as_str()).copied()) else {
                    continue;
                };
                wanted.remove(n);
            }
            if store.has_run(&id)? {
                shared.present.push(name);
                continue;
            }
            docs.push((doc, name));
        }
        if let Some(missing) = wanted.into_iter().next() {
            return Err(crate::store::StoreError::NoSuchRun {
                name: missing.to_string(),
                suggestion: None,
            }
            .into());
        }
        // In the order they were made, as the pushing store listed them.
        docs.sort_by(|(a, _), (b, _)| (a.seq(), &a.id).cmp(&(b.seq(), &b.id)));
        for (doc, name) in docs {
            let objects: BTreeSet<String> = doc.objects.iter().cloned().collect();
            let moved = transfer::fetch(&remote, &cache, &objects, jobs, None).await?;
            add(&mut shared.objects, moved);
            for a in &doc.artifacts {
                let Some(file) = store.artifact_path(a) else {
                    continue;
                };
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| ExpError::Write {
                        path: dir.to_path_buf(),
                        source: e,
                    })?;
                }
                let tmp = tempfile(&file)?;
                remote
                    .download(&refs::key(&a.hash), tmp.path(), Some(&a.hash))
                    .await?;
                tmp.persist(&file).map_err(|e| ExpError::Write {
                    path: file.clone(),
                    source: e.error,
                })?;
                shared.objects.transferred += 1;
            }
            if !shared.objects.failed.is_empty() {
                // A run is added only with everything it names.
                break;
            }
            store.import(&doc)?;
            shared.moved.push(name);
        }
        Ok(shared)
    })
}

/// The repository's cache, and the remote `name` (default: the default one).
fn cache_and_remote(
    repo: &Repo,
    name: Option<&str>,
) -> Result<(crate::cache::Cache, Remote), Error> {
    let config = crate::config::Config::load(&repo.root)?;
    let cache = crate::workspace::cache(&repo.root, &config)?;
    let remote = Remote::open(&repo.root, &config, name)?;
    Ok((cache, remote))
}

fn ended(status: &str) -> bool {
    matches!(status, "finished" | "failed" | "cancelled")
}

fn add(total: &mut Summary, s: Summary) {
    total.transferred += s.transferred;
    total.present += s.present;
    total.failed.extend(s.failed);
}

/// The cache keys of the outs an experiment's locks record, those the local cache holds.
fn out_objects(
    store: &Store,
    id: &str,
    cache: &crate::cache::Cache,
) -> Result<BTreeSet<String>, Error> {
    let mut infos = Vec::new();
    for (_, role, text) in store.files(id)? {
        if role != "lock" {
            continue;
        }
        let text = String::from_utf8_lossy(&text);
        // A lock that does not parse names no outs; apply writes it back as it was.
        if let Ok(lock) = serde_saphyr::from_str::<crate::lock::Lock>(&text) {
            infos.extend(
                lock.stages
                    .values()
                    .flat_map(|e| e.outs.iter().map(crate::lock::PathHash::info)),
            );
        }
    }
    Ok(refs::object_keys(cache, &infos)
        .into_iter()
        .filter(|k| cache.dir().join(k).is_file())
        .collect())
}

fn tempfile(near: &Path) -> Result<tempfile::NamedTempFile, ExpError> {
    let dir = near.parent().unwrap_or(Path::new("."));
    tempfile::NamedTempFile::new_in(dir).map_err(|source| ExpError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

async fn upload_bytes(remote: &Remote, key: &str, bytes: &[u8], root: &Path) -> Result<(), Error> {
    let dir = root.join(crate::workspace::DIR).join("tmp");
    std::fs::create_dir_all(&dir).map_err(|source| ExpError::Write {
        path: dir.clone(),
        source,
    })?;
    let tmp = tempfile(&dir.join("doc"))?;
    std::fs::write(tmp.path(), bytes).map_err(|source| ExpError::Write {
        path: tmp.path().to_path_buf(),
        source,
    })?;
    remote.upload(key, tmp.path()).await?;
    Ok(())
}

async fn download_bytes(remote: &Remote, key: &str, root: &Path) -> Result<Vec<u8>, Error> {
    let dir = root.join(crate::workspace::DIR).join("tmp");
    std::fs::create_dir_all(&dir).map_err(|source| ExpError::Write {
        path: dir.clone(),
        source,
    })?;
    let tmp = tempfile(&dir.join("doc"))?;
    remote.download(key, tmp.path(), None).await?;
    std::fs::read(tmp.path()).map_err(|source| {
        ExpError::Write {
            path: tmp.path().to_path_buf(),
            source,
        }
        .into()
    })
}
