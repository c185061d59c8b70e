//! The plots of a pipeline at one or more revisions: each definition's data read from the
//! workspace or git (through `Git`), its rows tagged with their revision as DVC's are, and
//! the template filled; `--json` shaped as `dvc plots show --json`.

use std::path::Path;

use serde_json::{Map, Value as Json, json};

use super::cached;
use super::data::{self, Record};
use super::defs::{self, FileDef, PlotDef};
use super::error::PlotsError;
use super::template::{self, Chart};
use crate::error::Error;
use crate::git::{Git, Purpose};
use crate::repo_path::RepoPath;
use crate::spec::Pipeline;

pub use crate::diff::WORKSPACE;

/// One drawn plot.
#[derive(Debug, Clone)]
pub struct Plot {
    /// Its id.
    pub id: String,
    /// What it shows.
    pub body: Body,
}

/// A chart or images.
#[derive(Debug, Clone)]
pub enum Body {
    /// A Vega-Lite chart.
    Vega {
        /// The revisions that have data, in order.
        revisions: Vec<String>,
        /// The specification, data included.
        spec: Json,
    },
    /// An image per revision that has the file.
    Images(Vec<Image>),
}

/// An image file as it is at one revision.
#[derive(Debug, Clone)]
pub struct Image {
    /// The revision.
    pub rev: String,
    /// `image/png`, ….
    pub mime: &'static str,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

impl Image {
    /// The image as a `data:` URI.
    pub fn data_uri(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.bytes);
        format!("data:{};base64,{b64}", self.mime)
    }
}

/// The revisions `wf plots diff` compares, as DVC's: the workspace and `HEAD` by default, the
/// workspace and one revision, or the revisions given.
pub fn diff_revisions(revs: &[String]) -> Vec<String> {
    match revs {
        [] => vec![WORKSPACE.into(), "HEAD".into()],
        [one] => vec![WORKSPACE.into(), one.clone()],
        many => many.to_vec(),
    }
}

/// The plots named by `targets` (all when empty) at each of `revs` (`workspace`: on disk).
pub fn collect(
    root: &Path,
    cwd: &RepoPath,
    targets: &[String],
    revs: &[String],
) -> Result<Vec<Plot>, Error> {
    let pipeline = Pipeline::load(root, cwd, &[])?;
    let defs = defs::expand_folders(root, defs::definitions(&pipeline)?);
    let defs = defs::select(defs, targets, cwd)?;
    let git = match revs.iter().find(|r| *r != WORKSPACE) {
        Some(rev) => Some(Git::open(root, rev, Purpose::Plots)?),
        None => None,
    };
    let mut sides = Vec::new();
    for rev in revs {
        let sha = match &git {
            Some(git) if rev != WORKSPACE => Some(git.rev_parse(rev)?),
            _ => None,
        };
        sides.push(Side { rev, sha });
    }
    let read = |side: &Side<'_>, path: &RepoPath| -> Result<Option<Vec<u8>>, Error> {
        match (&side.sha, &git) {
            (Some(sha), Some(git)) => match git.show(sha, path)? {
                Some(bytes) => Ok(Some(bytes)),
                None => {
                    cached::read_through(root, side.rev, &pipeline, path, &|lock: &RepoPath| {
                        Ok(git.show(sha, lock)?)
                    })
                }
            },
            _ => match std::fs::read(path.to_path(root)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(PlotsError::Io {
                    action: "read",
                    path: path.to_string(),
                    reason: e.to_string(),
                }
                .into()),
            },
        }
    };
    draw(&defs, &sides, &read, false)
}

/// The plots of a recorded run (an experiment), named `name`: each plot file that a stage
/// caches, read from the cache through the run's own locks (`locks`: the lock files it ended
/// with, by path from the root). Plots it has no data of are left out.
pub fn collect_run(
    root: &Path,
    cwd: &RepoPath,
    name: &str,
    locks: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<Vec<Plot>, Error> {
    let pipeline = Pipeline::load(root, cwd, &[])?;
    let defs = defs::expand_folders(root, defs::definitions(&pipeline)?);
    let sides = [Side {
        rev: name,
        sha: None,
    }];
    let lock_of = |lock: &RepoPath| Ok(locks.get(lock.as_str()).cloned());
    let read = |side: &Side<'_>, path: &RepoPath| {
        cached::read_through(root, side.rev, &pipeline, path, &lock_of)
    };
    draw(&defs, &sides, &read, true)
}

/// Each definition drawn from what `read` finds of its files at each side; a definition with
/// no data anywhere is an error, or left out with `skip_missing`.
fn draw(
    defs: &[PlotDef],
    sides: &[Side<'_>],
    read: &dyn Fn(&Side<'_>, &RepoPath) -> cached::Found,
    skip_missing: bool,
) -> Result<Vec<Plot>, Error> {
    let mut plots = Vec::new();
    for def in defs {
        let missing = || PlotsError::Missing {
            path: def
                .files
                .first()
                .map(|f| f.path.to_string())
                .unwrap_or_default(),
            revs: sides.iter().map(|s| s.rev.to_string()).collect(),
        };
        if let (Some(mime), [file]) = (def.image, def.files.as_slice()) {
            let mut images = Vec::new();
            for side in sides {
                if let Some(bytes) = read(side, &file.path)? {
                    let rev = side.rev.to_string();
                    images.push(Image { rev, mime, bytes });
                }
            }
            if images.is_empty() {
                if skip_missing {
                    continue;
                }
                return Err(missing().into());
            }
            plots.push(Plot {
                id: def.id.clone(),
                body: Body::Images(images),
            });
            continue;
        }
        let mut per_rev = Vec::new();
        for side in sides {
            let mut files = Vec::new();
            for file in &def.files {
                if let Some(bytes) = read(side, &file.path)? {
                    let name = match side.sha {
                        Some(_) => format!("{}:{}", side.rev, file.path),
                        None => file.path.to_string(),
                    };
                    let records = data::records(&name, file.path.as_str(), bytes, def.no_header)?;
                    files.push((file, name, records));
                }
            }
            if !files.is_empty() {
                per_rev.push((side.rev, files));
            }
        }
        if per_rev.is_empty() {
            if skip_missing {
                continue;
            }
            return Err(missing().into());
        }
        plots.push(chart(def, per_rev)?);
    }
    Ok(plots)
}

/// A revision to read: the workspace (no commit) or a commit.
struct Side<'r> {
    rev: &'r str,
    sha: Option<String>,
}

type Files<'d> = Vec<(&'d FileDef, String, Vec<Record>)>;

/// The rows of a plot, as DVC's `dvc-render` makes them: each record with `rev`; `step` (its
/// index) when there is no x; with several y fields, `dvc_inferred_y_value` and `field`; with
/// several files, `filename`.
fn chart(def: &PlotDef, per_rev: Vec<(&str, Files<'_>)>) -> Result<Plot, PlotsError> {
    // As DVC: several y names make each row's y `dvc_inferred_y_value` tagged with its `field`;
    // several files tag each row with its `filename`.
    let mut names: Vec<&String> = def.files.iter().flat_map(|f| &f.ys).collect();
    names.sort();
    names.dedup();
    let by_field = names.len() > 1;
    let by_file = def.files.len() > 1;
    let xs: Vec<&str> = def.files.iter().filter_map(|f| f.x.as_deref()).collect();
    let x_differs = xs.windows(2).any(|w| w[0] != w[1]);
    let x_field = match xs.first() {
        _ if x_differs => "dvc_inferred_x_value",
        Some(x) => x,
        None => "step",
    };
    let mut y_field = String::new();
    let mut rows = Vec::new();
    let mut revisions = Vec::new();
    for (rev, files) in per_rev {
        revisions.push(rev.to_string());
        for (file, name, records) in files {
            let known: Vec<String> = records
                .first()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            let check =
                |field: &str, axis: &str| match records.iter().all(|r| r.contains_key(field)) {
                    true => Ok(()),
                    false => Err(PlotsError::UnknownField {
                        field: field.to_string(),
                        path: name.clone(),
                        known: known.clone(),
                        loc: def.loc_of(axis),
                    }),
                };
            if let Some(x) = &file.x {
                check(x, "x")?;
            }
            // As DVC: no y, the last field of the data that is not x.
            let inferred = known.iter().rev().find(|k| Some(*k) != file.x.as_ref());
            let ys: Vec<&String> = match file.ys.is_empty() {
                true => inferred.into_iter().collect(),
                false => file.ys.iter().collect(),
            };
            for y in ys {
                check(y, "y")?;
                if y_field.is_empty() {
                    y_field = y.clone();
                }
                for (i, record) in records.iter().enumerate() {
                    let mut row: Map<String, Json> = record.clone();
                    if by_field {
                        row.insert("dvc_inferred_y_value".into(), record[y.as_str()].clone());
                    }
                    match &file.x {
                        Some(x) if x_differs => {
                            row.insert(x_field.into(), record[x.as_str()].clone());
                        }
                        Some(_) => {}
                        None => {
                            row.insert("step".into(), json!(i));
                        }
                    }
                    row.insert("rev".into(), json!(rev));
                    if by_field {
                        row.insert("field".into(), json!(y));
                    }
                    if by_file {
                        row.insert("filename".into(), json!(file.path.as_str()));
                    }
                    rows.push(Json::Object(row));
                }
            }
        }
    }
    if by_field {
        y_field = "dvc_inferred_y_value".into();
    }
    let spec = template::spec(
        &def.template,
        Chart {
            title: def.title.as_deref().unwrap_or(&def.id),
            x: x_field,
            y: &y_field,
            x_title: def.x_label.as_deref().unwrap_or(x_field),
            y_title: def.y_label.as_deref().unwrap_or(match by_field {
                true => "y",
                false => &y_field,
            }),
            revs: &revisions,
            series: match (by_field, by_file) {
                (true, _) => Some("field"),
                (false, true) => Some("filename"),
                (false, false) => None,
            },
            rows,
        },
    );
    Ok(Plot {
        id: def.id.clone(),
        body: Body::Vega { revisions, spec },
    })
}

/// `dvc plots show --json`: `{"data": {id: [{"type": "vega", "revisions": […], "content":
/// spec}]}}`; an image is `{"type": "image", "revisions": [rev], "url": data URI}` per revision
/// (DVC's `url` is the path of a copy it writes).
pub fn to_json(plots: &[Plot]) -> Json {
    let data = plots.iter().map(|p| {
        let entries = match &p.body {
            Body::Vega { revisions, spec } => {
                vec![json!({"type": "vega", "revisions": revisions, "content": spec})]
            }
            Body::Images(images) => images
                .iter()
                .map(|i| json!({"type": "image", "revisions": [i.rev], "url": i.data_uri()}))
                .collect(),
        };
        (p.id.clone(), Json::Array(entries))
    });
    json!({ "data": data.collect::<Map<String, Json>>() })
}
