//! Plot definitions, as DVC 3 reads them: the top-level `plots:` of each spec and the stages'
//! `plots:` outs with their properties; targets narrow them to some plots.

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;

use super::error::PlotsError;
use super::template::TEMPLATES;
use crate::error::Error;
use crate::repo_path::RepoPath;
use crate::spec::yaml::{self, Kind, Node};
use crate::spec::{Loc, OutKind, Pipeline, Value};

/// Extensions of files shown as images, with their MIME types.
const IMAGES: [(&str, &str); 5] = [
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
];

/// One plot to draw.
#[derive(Debug, Clone)]
pub(crate) struct PlotDef {
    /// Its id: the file path, or the name given at the top level.
    pub id: String,
    /// Its data files, each with the fields read from it.
    pub files: Vec<FileDef>,
    /// One of [`TEMPLATES`] (checked once its properties' places are known).
    pub template: String,
    /// `title`.
    pub title: Option<String>,
    /// `x_label`.
    pub x_label: Option<String>,
    /// `y_label`.
    pub y_label: Option<String>,
    /// `header: false`: a CSV without a header row, its columns named `0`, `1`, ….
    pub no_header: bool,
    /// The MIME type when the plot is an image.
    pub image: Option<&'static str>,
    /// Where it is defined.
    pub loc: Option<Loc>,
    /// Where each of its properties is written (top-level plots; a stage's out has `loc`).
    pub locs: BTreeMap<String, Loc>,
}

impl PlotDef {
    /// Where property `name` is written, else where the plot is.
    pub(crate) fn loc_of(&self, name: &str) -> Option<Loc> {
        self.locs.get(name).or(self.loc.as_ref()).cloned()
    }
}

/// A data file of a plot.
#[derive(Debug, Clone)]
pub(crate) struct FileDef {
    /// The file.
    pub path: RepoPath,
    /// The x field (`None`: the row's index, as DVC's `step`).
    pub x: Option<String>,
    /// The y fields (empty: the last field of the data, as DVC infers it).
    pub ys: Vec<String>,
}

/// Every plot of the pipeline: each spec's top-level `plots:` in order, then the stages'
/// plots outs, as `dvc plots show` lists them.
pub(crate) fn definitions(pipeline: &Pipeline) -> Result<Vec<PlotDef>, Error> {
    let mut defs = Vec::new();
    for spec in &pipeline.specs {
        let node = yaml::parse(&spec.src)?;
        let Some(Kind::Seq(items)) = node.get("plots").map(|n| &n.kind) else {
            continue;
        };
        for item in items {
            let loc = Some(Loc {
                src: spec.src.clone(),
                span: item.span,
            });
            match &item.kind {
                Kind::Str(path) => {
                    let def = top_level(&spec.dir, path, None, loc)?;
                    defs.push(def);
                }
                Kind::Map(entries) => {
                    for (id, props) in entries {
                        let loc = Some(Loc {
                            src: spec.src.clone(),
                            span: id.span,
                        });
                        let mut def = top_level(&spec.dir, &id.name, Some(props), loc)?;
                        for (key, value) in props.as_map().unwrap_or_default() {
                            let at = Loc {
                                src: spec.src.clone(),
                                span: value.span,
                            };
                            def.locs.insert(key.name.clone(), at);
                        }
                        check_template(&def)?;
                        defs.push(def);
                    }
                }
                _ => {
                    return Err(definition("?", "expected a path or a mapping", loc).into());
                }
            }
        }
    }
    for stage in &pipeline.stages {
        for out in stage.outs.iter().filter(|o| o.kind == OutKind::Plot) {
            let path = out.entry.path.clone();
            let id = path.to_string();
            let loc = Some(out.entry.loc.clone());
            let x = string(&id, out.props.get("x"), &loc)?;
            let ys = fields(&id, out.props.get("y"), &loc)?;
            let files = vec![FileDef { path, x, ys }];
            let def = finish(id, files, &out.props, loc)?;
            check_template(&def)?;
            defs.push(def);
        }
    }
    Ok(defs)
}

/// One entry of a top-level `plots:`: a path (with properties or not), or an id whose `y` maps
/// files to fields.
fn top_level(
    dir: &RepoPath,
    id: &str,
    props: Option<&Node>,
    loc: Option<Loc>,
) -> Result<PlotDef, Error> {
    let props = match props.map_or(Value::Null, Value::from_node) {
        Value::Null => IndexMap::new(),
        Value::Map(m) => m,
        other => {
            let message = format!(
                "expected a mapping of properties, found {}",
                other.type_name()
            );
            return Err(definition(id, &message, loc).into());
        }
    };
    let join = |p: &str| {
        dir.join(p)
            .ok_or_else(|| definition(id, &format!("`{p}` is outside the repository"), loc.clone()))
    };
    let mut files = Vec::new();
    let (x_field, x_map) = match props.get("x") {
        Some(Value::Map(m)) => (None, Some(m)),
        x => (string(id, x, &loc)?, None),
    };
    let x_of = |file: &str| -> Result<Option<String>, PlotsError> {
        match x_map {
            // As DVC: a file not in the `x` mapping takes the first one's field.
            Some(m) => string(id, m.get(file).or_else(|| m.values().next()), &loc),
            None => Ok(x_field.clone()),
        }
    };
    let id = match props.get("y") {
        Some(Value::Map(by_file)) => {
            for (file, y) in by_file {
                files.push(FileDef {
                    path: join(file)?,
                    x: x_of(file)?,
                    ys: fields(id, Some(y), &loc)?,
                });
            }
            id.to_string()
        }
        y => {
            let path = join(id)?;
            files.push(FileDef {
                x: x_of(id)?,
                ys: fields(id, y, &loc)?,
                path: path.clone(),
            });
            path.to_string()
        }
    };
    finish(id, files, &props, loc)
}

/// The properties shared by both forms.
fn finish(
    id: String,
    files: Vec<FileDef>,
    props: &IndexMap<String, Value>,
    loc: Option<Loc>,
) -> Result<PlotDef, Error> {
    let template = string(&id, props.get("template"), &loc)?;
    let template = template.unwrap_or_else(|| TEMPLATES[0].to_string());
    let image = match files.as_slice() {
        [only] => image_mime(&only.path),
        _ => None,
    };
    Ok(PlotDef {
        title: string(&id, props.get("title"), &loc)?,
        x_label: string(&id, props.get("x_label"), &loc)?,
        y_label: string(&id, props.get("y_label"), &loc)?,
        no_header: matches!(props.get("header"), Some(Value::Bool(false))),
        id,
        files,
        template,
        image,
        loc,
        locs: BTreeMap::new(),
    })
}

/// The MIME type of an image file, by its extension.
fn image_mime(path: &RepoPath) -> Option<&'static str> {
    let ext = path
        .as_str()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    IMAGES
        .iter()
        .find(|(e, _)| Some(*e) == ext.as_deref())
        .map(|(_, mime)| *mime)
}

/// A plot whose one path is a folder in the workspace becomes a plot per file inside it,
/// sorted, with the same properties, as DVC's plot folders.
pub(crate) fn expand_folders(root: &Path, defs: Vec<PlotDef>) -> Vec<PlotDef> {
    let mut expanded = Vec::new();
    for def in defs {
        let folder = match def.files.as_slice() {
            [only] if only.path.to_path(root).is_dir() => only.path.to_path(root),
            _ => {
                expanded.push(def);
                continue;
            }
        };
        let files = walkdir::WalkDir::new(folder)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| {
                let rel = e.path().strip_prefix(root).ok()?.to_str()?.to_string();
                RepoPath::root().join(&rel)
            });
        for path in files {
            let mut one = def.clone();
            one.id = path.to_string();
            one.image = image_mime(&path);
            one.files[0].path = path;
            expanded.push(one);
        }
    }
    expanded
}

/// Refuses a template that is not one of DVC's, pointing at it.
fn check_template(def: &PlotDef) -> Result<(), PlotsError> {
    match TEMPLATES.contains(&def.template.as_str()) {
        true => Ok(()),
        false => Err(PlotsError::UnknownTemplate {
            name: def.template.clone(),
            id: def.id.clone(),
            loc: def.loc_of("template"),
        }),
    }
}

/// The plots named by `targets` (ids or data files, relative to the working folder); all of
/// them when there is none.
pub(crate) fn select(
    defs: Vec<PlotDef>,
    targets: &[String],
    cwd: &RepoPath,
) -> Result<Vec<PlotDef>, PlotsError> {
    if targets.is_empty() {
        return Ok(defs);
    }
    for target in targets {
        if !defs.iter().any(|d| matches(d, target, cwd)) {
            return Err(PlotsError::UnknownTarget {
                target: target.clone(),
                known: defs.iter().map(|d| d.id.clone()).collect(),
            });
        }
    }
    Ok(defs
        .into_iter()
        .filter(|d| targets.iter().any(|t| matches(d, t, cwd)))
        .collect())
}

fn matches(def: &PlotDef, target: &str, cwd: &RepoPath) -> bool {
    let path = cwd.join(target);
    def.id == target
        || path.as_ref().is_some_and(|p| p.as_str() == def.id)
        || def
            .files
            .iter()
            // A folder target names the plots inside it.
            .any(|f| {
                path.as_ref()
                    .is_some_and(|p| !p.as_str().is_empty() && f.path.is_within(p))
            })
}

/// A property that must be a string (a number is taken as its text).
fn string(id: &str, v: Option<&Value>, loc: &Option<Loc>) -> Result<Option<String>, PlotsError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Int(_) | Value::Float(_))) => Ok(Some(v.to_text())),
        Some(other) => Err(definition(
            id,
            &format!("expected a string, found {}", other.type_name()),
            loc.clone(),
        )),
    }
}

/// `y` of one file: a field or a list of fields.
fn fields(id: &str, v: Option<&Value>, loc: &Option<Loc>) -> Result<Vec<String>, PlotsError> {
    match v {
        Some(Value::List(items)) => items
            .iter()
            .map(|i| string(id, Some(i), loc).map(Option::unwrap_or_default))
            .collect(),
        v => Ok(string(id, v, loc)?.into_iter().collect()),
    }
}

fn definition(id: &str, message: &str, loc: Option<Loc>) -> PlotsError {
    PlotsError::Definition {
        id: id.to_string(),
        message: message.to_string(),
        loc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(spec: &str) -> Vec<PlotDef> {
        let root = Path::new("/nonexistent");
        let file = RepoPath::root().join("sub/dvc.yaml").unwrap();
        let pipeline = Pipeline::from_text(root, &file, spec.to_string()).unwrap();
        definitions(&pipeline).unwrap()
    }

    #[test]
    fn top_level_forms_and_stage_outs() {
        let d = defs(
            "stages:\n  s:\n    cmd: echo\n    plots:\n      - p.csv:\n          x: a\n          y: b\n\
             plots:\n  - loss.csv\n  - acc.json:\n      y: [a, b]\n  - both:\n      template: scatter\n      \
             x: {one.csv: t, two.csv: u}\n      y: {one.csv: v, two.csv: [w]}\n",
        );
        let ids: Vec<&str> = d.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["sub/loss.csv", "sub/acc.json", "both", "sub/p.csv"]);
        assert_eq!(d[1].files[0].ys, ["a", "b"]);
        assert_eq!(d[2].template, "scatter");
        let files: Vec<(&str, Option<&str>, &[String])> = d[2]
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.x.as_deref(), f.ys.as_slice()))
            .collect();
        assert_eq!(
            files,
            [
                ("sub/one.csv", Some("t"), &["v".to_string()][..]),
                ("sub/two.csv", Some("u"), &["w".to_string()][..]),
            ]
        );
        assert_eq!(d[3].files[0].x.as_deref(), Some("a"));
        assert_eq!(d[0].template, "linear");
    }

    #[test]
    fn images_are_known_by_their_extension() {
        let d = defs("plots:\n  - a.PNG\n  - b.svg\n  - c.csv\n");
        let mimes: Vec<Option<&str>> = d.iter().map(|d| d.image).collect();
        assert_eq!(mimes, [Some("image/png"), Some("image/svg+xml"), None]);
    }
}
