//! The `tune:` block of a spec (or of a file passed with `--config`): the objective, the number
//! of trials, the sampler, the seed and the space, checked against the pipeline with the place of
//! every mistake.

use std::path::Path;
use std::sync::Arc;

use super::space::{Dim, Direction, Domain, Prune, SamplerKind, Study};
use crate::params::{self, Params};
use crate::repo_path::RepoPath;
use crate::spec::source::{Loc, Source};
use crate::spec::value::Value;
use crate::spec::yaml::{self, Key, Kind, Node};
use crate::spec::{Action, OutKind, Pipeline, SpecError};

/// Keys of `tune:`.
const KEYS: &[&str] = &[
    "objective",
    "direction",
    "trials",
    "sampler",
    "seed",
    "space",
    "prune",
];

/// The study of the working folder's spec, or of `config` when given; `None` when it has no
/// `tune:` block.
pub fn load(
    pipeline: &Pipeline,
    cwd: &RepoPath,
    config: Option<&Path>,
) -> Result<Option<Study>, SpecError> {
    let src = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| SpecError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            Arc::new(Source {
                name: path.display().to_string(),
                path: path.to_path_buf(),
                text,
            })
        }
        None => match pipeline.specs.iter().find(|s| s.local) {
            Some(spec) => spec.src.clone(),
            None => return Ok(None),
        },
    };
    let root = yaml::parse(&src)?;
    let Some(block) = root.get("tune") else {
        return Ok(None);
    };
    let c = Check {
        src: &src,
        pipeline,
        cwd,
        params: Params::with(Arc::default()),
    };
    if config.is_some()
        && let Some((k, _)) = root
            .as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.name != "tune"))
    {
        return Err(c.fail(
            &k.span,
            format!("unknown field `{}` in `{}`", k.name, src.name),
            "a tune config holds only `tune:`",
            None,
        ));
    }
    c.study(block).map(Some)
}

struct Check<'a> {
    src: &'a Arc<Source>,
    pipeline: &'a Pipeline,
    cwd: &'a RepoPath,
    params: Params,
}

impl Check<'_> {
    fn fail(
        &self,
        span: &crate::spec::source::Span,
        message: String,
        label: &str,
        help: Option<String>,
    ) -> SpecError {
        SpecError::Tune {
            message,
            label: label.to_string(),
            help,
            loc: Loc {
                src: self.src.clone(),
                span: *span,
            },
        }
    }

    fn wrong(&self, node: &Node, field: &str, expected: &str) -> SpecError {
        self.fail(
            &node.span,
            format!(
                "`tune.{field}` must be {expected}, found {}",
                node.kind_name()
            ),
            &format!("expected {expected}"),
            None,
        )
    }

    fn study(mut self, block: &Node) -> Result<Study, SpecError> {
        let Some(entries) = block.as_map() else {
            return Err(self.fail(
                &block.span,
                format!("`tune:` must be a mapping, found {}", block.kind_name()),
                "expected a mapping with `objective:`, `direction:` and `space:`",
                None,
            ));
        };
        for (k, _) in entries {
            if !KEYS.contains(&k.name.as_str()) {
                let near = KEYS
                    .iter()
                    .find(|c| strsim::jaro_winkler(c, &k.name) > 0.8)
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_default();
                return Err(self.fail(
                    &k.span,
                    format!(
                        "unknown field `{}` in `tune:`, expected one of {}",
                        k.name,
                        KEYS.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    &near,
                    None,
                ));
            }
        }
        let missing = |field: &str, help: &str| {
            self.fail(
                &block.span,
                format!("`tune:` has no `{field}`"),
                "",
                Some(help.to_string()),
            )
        };
        let objective_node = block.get("objective").ok_or_else(|| {
            missing(
                "objective",
                "name a metric as `FILE:KEY`, e.g. `objective: out/metrics/svm.json:accuracy`",
            )
        })?;
        let (file, key) = self.objective(objective_node)?;
        let direction = match block.get("direction") {
            None => {
                return Err(missing(
                    "direction",
                    "say whether larger is better (`direction: max`) or smaller (`direction: min`)",
                ));
            }
            Some(n) => match n.as_str() {
                Some("max" | "maximize") => Direction::Max,
                Some("min" | "minimize") => Direction::Min,
                _ => return Err(self.wrong(n, "direction", "`max` or `min`")),
            },
        };
        let trials = match block.get("trials") {
            None => None,
            Some(n) => match n.kind {
                Kind::Int(t) if t > 0 => Some(t as usize),
                _ => return Err(self.wrong(n, "trials", "a positive whole number")),
            },
        };
        let sampler = match block.get("sampler") {
            None => SamplerKind::Tpe,
            Some(n) => match n.as_str() {
                Some("tpe") => SamplerKind::Tpe,
                Some("random") => SamplerKind::Random,
                Some("grid") => SamplerKind::Grid,
                _ => return Err(self.wrong(n, "sampler", "`tpe`, `random` or `grid`")),
            },
        };
        let seed = match block.get("seed") {
            None => None,
            Some(n) => match n.kind {
                Kind::Int(s) if s >= 0 => Some(s as u64),
                _ => return Err(self.wrong(n, "seed", "a whole number, 0 or more")),
            },
        };
        let space_node = block.get("space").ok_or_else(|| {
            missing(
                "space",
                "list the params to tune, e.g. `space: {train.C: {float: [0.01, 100], log: true}}`",
            )
        })?;
        let Some(space_entries) = space_node.as_map().filter(|m| !m.is_empty()) else {
            return Err(self.wrong(space_node, "space", "a mapping of params keys to ranges"));
        };
        let mut space = Vec::new();
        for (k, v) in space_entries {
            space.extend(self.dim(k, v)?);
        }
        let prune = match block.get("prune") {
            None => Some(Prune::default()),
            Some(n) => match &n.kind {
                Kind::Bool(false) => None,
                Kind::Bool(true) => Some(Prune::default()),
                Kind::Map(entries) => {
                    let mut prune = Prune::default();
                    for (k, v) in entries {
                        match (k.name.as_str(), &v.kind) {
                            ("warmup_trials", Kind::Int(t)) if *t >= 0 => {
                                prune.warmup_trials = *t as usize;
                            }
                            ("warmup_steps", Kind::Int(s)) if *s >= 0 => prune.warmup_steps = *s,
                            ("warmup_trials" | "warmup_steps", _) => {
                                return Err(self.wrong(
                                    v,
                                    &format!("prune.{}", k.name),
                                    "a whole number, 0 or more",
                                ));
                            }
                            _ => {
                                return Err(self.fail(
                                    &k.span,
                                    format!("unknown field `{}` in `tune.prune`", k.name),
                                    "",
                                    Some("`prune:` takes `warmup_trials` and `warmup_steps`, or `false`".into()),
                                ));
                            }
                        }
                    }
                    Some(prune)
                }
                _ => {
                    return Err(self.wrong(
                        n,
                        "prune",
                        "`true`, `false` or `{warmup_trials: N, warmup_steps: M}`",
                    ));
                }
            },
        };
        let study = Study {
            prune,
            file,
            key,
            objective: objective_node.as_str().unwrap_or_default().to_string(),
            direction,
            trials,
            sampler,
            seed,
            space,
        };
        if sampler == SamplerKind::Grid {
            for ((k, v), d) in space_entries.iter().zip(&study.space) {
                if d.domain.grid().is_none() {
                    return Err(self.fail(
                        &v.span,
                        format!("`{}` has no grid: it is a float range without a `step`", k.name),
                        "a grid needs finitely many values",
                        Some("give it a `step` (`{float: [0, 1], step: 0.1}`), or use `sampler: tpe` or `random`".into()),
                    ));
                }
            }
        }
        Ok(study)
    }

    /// `FILE:KEY` of a metrics file some stage declares.
    fn objective(&self, node: &Node) -> Result<(RepoPath, String), SpecError> {
        let text = node
            .as_str()
            .ok_or_else(|| self.wrong(node, "objective", "`FILE:KEY` of a metrics file"))?;
        let metrics: Vec<&RepoPath> = self
            .pipeline
            .stages
            .iter()
            .flat_map(|s| s.outs.iter())
            .filter(|o| o.kind == OutKind::Metric)
            .map(|o| &o.entry.path)
            .collect();
        let shown = |p: &RepoPath| p.relative_to(self.cwd);
        let Some((file, key)) = text
            .rsplit_once(':')
            .filter(|(f, k)| !f.is_empty() && !k.is_empty())
        else {
            return Err(self.fail(
                &node.span,
                format!("the objective `{text}` names no metric"),
                "expected `FILE:KEY`",
                Some(format!(
                    "write the metrics file and the key in it, e.g. `{}:accuracy`",
                    metrics.first().map_or("metrics.json".into(), |p| shown(p))
                )),
            ));
        };
        let path = self.cwd.join(file);
        match path {
            Some(path) if metrics.contains(&&path) => Ok((path, key.to_string())),
            _ => {
                let list: Vec<String> = metrics.iter().map(|p| format!("`{}`", shown(p))).collect();
                let near = metrics
                    .iter()
                    .map(|p| shown(p))
                    .find(|p| strsim::jaro_winkler(p, file) > 0.85)
                    .map(|p| format!("did you mean `{p}`?"))
                    .unwrap_or_default();
                Err(self.fail(
                    &node.span,
                    format!("no stage declares `{file}` as `metrics:`"),
                    &near,
                    Some(if list.is_empty() {
                        "the objective is read from a stage's `metrics:` file, and this pipeline declares none".into()
                    } else {
                        format!("the metrics files are {}", list.join(", "))
                    }),
                ))
            }
        }
    }

    /// The dims of one entry of `space:` (several for `auto`).
    fn dim(&mut self, k: &Key, v: &Node) -> Result<Vec<Dim>, SpecError> {
        let (file, key) = match k.name.split_once(':') {
            Some((f, key)) => (Some(f.to_string()), key.to_string()),
            None => (None, k.name.clone()),
        };
        let file_name = file.as_deref().unwrap_or(crate::exp::DEFAULT_FILE);
        let path = self.cwd.join(file_name).ok_or_else(|| {
            self.fail(
                &k.span,
                format!("the params file `{file_name}` is outside the repository"),
                "",
                None,
            )
        })?;
        let root = self.pipeline.root.clone();
        let loaded = self.params.file(&root, &path)?.cloned();
        let Some(loaded) = loaded else {
            return Err(self.fail(
                &k.span,
                format!("`{key}` is no param: there is no `{path}`"),
                "",
                Some("tune keys of a params file, as `wf exp run -S` sets them".into()),
            ));
        };
        let current = params::lookup(&loaded, &key).cloned();
        if v.as_str() == Some("auto") {
            return self.auto(k, &file, &key, current.as_ref());
        }
        if current.is_none() {
            let keys = crate::diff::flatten(Some(&loaded), None);
            let near = keys
                .keys()
                .map(|c| (strsim::jaro_winkler(c, &key), c))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, c)| format!("did you mean `{c}`?"))
                .unwrap_or_default();
            return Err(self.fail(
                &k.span,
                format!("`{key}` is no param of `{path}`"),
                &near,
                Some("tune keys the params file has, as `wf exp run -S` sets them".into()),
            ));
        }
        let domain = self.domain(&k.name, v)?;
        Ok(vec![Dim {
            file,
            key,
            add: false,
            domain,
        }])
    }

    /// `{float: [lo, hi], log, step}`, `{int: [lo, hi], step, log}` or `{choice: [...]}`.
    fn domain(&self, name: &str, v: &Node) -> Result<Domain, SpecError> {
        const SHAPE: &str = "`{float: [lo, hi]}`, `{int: [lo, hi]}`, `{choice: [...]}` or `auto`";
        let field = format!("space.{name}");
        let entries = v.as_map().ok_or_else(|| self.wrong(v, &field, SHAPE))?;
        let kinds: Vec<&(Key, Node)> = entries
            .iter()
            .filter(|(k, _)| matches!(k.name.as_str(), "float" | "int" | "choice"))
            .collect();
        let [(kind, bounds)] = kinds.as_slice() else {
            return Err(self.wrong(v, &field, SHAPE));
        };
        let allowed: &[&str] = match kind.name.as_str() {
            "float" => &["float", "log", "step"],
            "int" => &["int", "log", "step"],
            _ => &["choice"],
        };
        if let Some((k, _)) = entries
            .iter()
            .find(|(k, _)| !allowed.contains(&k.name.as_str()))
        {
            return Err(self.fail(
                &k.span,
                format!("unknown field `{}` in a `{}` range", k.name, kind.name),
                "",
                Some(format!(
                    "a `{}` range takes {}",
                    kind.name,
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ));
        }
        let log = match v.get("log") {
            None => false,
            Some(n) => match n.kind {
                Kind::Bool(b) => b,
                _ => return Err(self.wrong(n, &format!("{field}.log"), "`true` or `false`")),
            },
        };
        let number = |n: &Node| match n.kind {
            Kind::Int(i) => Some(i as f64),
            Kind::Float(f) if f.is_finite() => Some(f),
            _ => None,
        };
        if kind.name == "choice" {
            let Kind::Seq(items) = &bounds.kind else {
                return Err(self.wrong(bounds, &format!("{field}.choice"), "a list of values"));
            };
            if items.is_empty() {
                return Err(self.wrong(bounds, &format!("{field}.choice"), "a list of values"));
            }
            if let Some(bad) = items
                .iter()
                .find(|i| matches!(i.kind, Kind::Seq(_) | Kind::Map(_)))
            {
                return Err(self.wrong(
                    bad,
                    &format!("{field}.choice"),
                    "a list of numbers, strings or booleans",
                ));
            }
            return Ok(Domain::Choice(items.iter().map(Value::from_node).collect()));
        }
        let pair = match &bounds.kind {
            Kind::Seq(items) if items.len() == 2 => (&items[0], &items[1]),
            _ => {
                return Err(self.wrong(bounds, &format!("{field}.{}", kind.name), "`[lo, hi]`"));
            }
        };
        let (lo, hi) = if kind.name == "int" {
            match (&pair.0.kind, &pair.1.kind) {
                (Kind::Int(lo), Kind::Int(hi)) => (*lo as f64, *hi as f64),
                _ => {
                    return Err(self.wrong(
                        bounds,
                        &format!("{field}.int"),
                        "`[lo, hi]` of whole numbers",
                    ));
                }
            }
        } else {
            match (number(pair.0), number(pair.1)) {
                (Some(lo), Some(hi)) => (lo, hi),
                _ => {
                    return Err(self.wrong(
                        bounds,
                        &format!("{field}.float"),
                        "`[lo, hi]` of numbers",
                    ));
                }
            }
        };
        if lo >= hi {
            return Err(self.fail(
                &bounds.span,
                format!("the range of `{name}` is empty: {lo} is not below {hi}"),
                "lo must be below hi",
                Some("write the smallest value first: `[lo, hi]`".into()),
            ));
        }
        if log && lo <= 0.0 {
            return Err(self.fail(
                &pair.0.span,
                format!("`{name}` cannot be sampled on a log scale from {lo}"),
                "a log scale needs lo > 0",
                Some("raise lo above 0, or drop `log: true`".into()),
            ));
        }
        let step = match v.get("step") {
            None => None,
            Some(n) => match number(n) {
                Some(s) if s > 0.0 && (kind.name == "float" || s.fract() == 0.0) => Some((s, n)),
                _ => return Err(self.wrong(n, &format!("{field}.step"), "a positive number")),
            },
        };
        if let Some((_, n)) = step
            && log
        {
            return Err(self.fail(
                &n.span,
                format!("`{name}` has both `log` and `step`"),
                "",
                Some("a range is either stepped or on a log scale: drop one".into()),
            ));
        }
        Ok(if kind.name == "int" {
            Domain::Int {
                lo: lo as i64,
                hi: hi as i64,
                step: step.map_or(1, |(s, _)| s as i64),
                log,
            }
        } else {
            Domain::Float {
                lo,
                hi,
                log,
                step: step.map(|(s, _)| s),
            }
        })
    }

    /// The ranges a built-in `train` stage's model kind declares, for the mapping at `key` that
    /// the stage takes as its `params`.
    fn auto(
        &self,
        k: &Key,
        file: &Option<String>,
        key: &str,
        current: Option<&Value>,
    ) -> Result<Vec<Dim>, SpecError> {
        let current = current.map(Value::to_json);
        let kind = self.pipeline.stages.iter().find_map(|s| match &s.action {
            Action::Builtin { name, with, .. } if name == "train" => {
                let with = with.to_json();
                (current.is_some() && with.get("params") == current.as_ref())
                    .then(|| {
                        with.get("model")?
                            .as_str()
                            .and_then(wf_stages::ModelKind::from_name)
                    })
                    .flatten()
            }
            _ => None,
        });
        let Some(kind) = kind else {
            return Err(self.fail(
                &k.span,
                format!("no built-in `train` stage takes `{key}` as its `params`"),
                "`auto` needs a built-in train stage's params",
                Some("write the range yourself: `{float: [lo, hi]}`, `{int: [lo, hi]}` or `{choice: [...]}`".into()),
            ));
        };
        let current = current.unwrap_or_default();
        Ok(kind
            .space()
            .into_iter()
            .map(|p| Dim {
                file: file.clone(),
                key: format!("{key}.{}", p.name),
                add: current.get(p.name).is_none(),
                domain: match p.range {
                    wf_stages::Range::Float { lo, hi, log } => Domain::Float {
                        lo,
                        hi,
                        log,
                        step: None,
                    },
                    wf_stages::Range::Int { lo, hi, step } => Domain::Int {
                        lo,
                        hi,
                        step,
                        log: false,
                    },
                    wf_stages::Range::Choice(names) => {
                        Domain::Choice(names.iter().map(|n| Value::Str((*n).to_string())).collect())
                    }
                },
            })
            .collect())
    }
}
