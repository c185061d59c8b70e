//! `wf status`: which stages are stale and why, in DVC's layout and words.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};

use crate::cmd::Report;
use crate::context::Context;
use crate::dag::Dag;
use crate::error::Error;
use crate::exit_code;
use crate::hash::Hasher;
use crate::lock::LockSet;
use crate::select::{self, Reach};
use crate::spec::Pipeline;
use crate::status::{self, Change};
use crate::target;
use crate::workspace;

/// Show which stages are stale and why.
///
/// Lists each stage whose command, dependencies, params or outputs differ from `pipeline.lock`,
/// as `dvc status` does, and, unlike DVC, the stages that will run because a stage upstream of
/// them is stale.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages, foreach/matrix groups, spec files or `spec:stage` (default: every stage).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Exit with 1 when anything is stale: the check that a commit reproduces.
    #[arg(long)]
    pub check: bool,
    /// Print JSON, as `dvc status --json`.
    #[arg(long)]
    pub json: bool,
}

/// Runs `wf status`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let extra = target::named_specs(&ctx.root, &ctx.cwd, &args.targets);
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &extra).or_else(|e| match e {
        // A repository with only `wf add`ed data has no spec, and its pointers are checked.
        crate::spec::SpecError::NoSpec { .. }
            if !crate::pointer::discover(&ctx.root).is_empty() =>
        {
            Ok(Pipeline {
                root: ctx.root.clone(),
                specs: vec![],
                stages: vec![],
            })
        }
        e => Err(e),
    })?;
    let dag = Dag::build(&pipeline)?;
    let stages: BTreeSet<usize> = if args.targets.is_empty() {
        (0..pipeline.stages.len()).collect()
    } else {
        let t = select::targets(&ctx.cwd, &pipeline, &args.targets, false)?;
        select::stages(&pipeline, &dag, &t, Reach::Upstream)
    };
    let locks = LockSet::read(&ctx.root, &pipeline, &stages)?;
    let hasher = Hasher::open(&ctx.root, &workspace::state_path(&ctx.root)).with_progress(
        crate::report::progress_sink(ctx.terminal && !ctx.quiet && !args.json),
    );
    let order = dag.topo_order();
    let status::Stale { changed, upstream } =
        status::stale(&pipeline, &dag, &order, &stages, &ctx.root, &hasher, &locks)?;
    let pointers = if args.targets.is_empty() {
        status::pointers(&ctx.root, &hasher)
            .map_err(|message| crate::pointer::PointerError { message })?
    } else {
        vec![]
    };
    let _ = hasher.save();
    let any = !changed.is_empty() || !upstream.is_empty() || !pointers.is_empty();
    let code = if any && (args.check || ctx.quiet) {
        exit_code::FAILED
    } else {
        exit_code::OK
    };
    if ctx.quiet {
        return Ok(Report {
            stdout: String::new(),
            stderr: String::new(),
            code,
        });
    }
    let out = if args.json {
        let mut map = serde_json::Map::new();
        for (i, changes) in &changed {
            map.insert(pipeline.stages[*i].address(), to_json(changes));
        }
        for (i, from) in &upstream {
            map.insert(
                pipeline.stages[*i].address(),
                json!([{ "upstream changed": from }]),
            );
        }
        for (file, changes) in &pointers {
            map.insert(file.clone(), to_json(changes));
        }
        format!("{}\n", Json::Object(map))
    } else if !any {
        "Data and pipelines are up to date.\n".to_string()
    } else {
        let mut text = String::new();
        let mut all: Vec<(usize, String)> = changed.iter().map(|(i, c)| (*i, render(c))).collect();
        all.extend(upstream.iter().map(|(i, from)| {
            (
                *i,
                format!(
                    "\twill run: upstream {} changed\n",
                    from.iter()
                        .map(|f| format!("'{f}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }));
        let rank: std::collections::HashMap<usize, usize> =
            order.iter().enumerate().map(|(r, &i)| (i, r)).collect();
        all.sort_by_key(|(i, _)| rank.get(i).copied());
        for (i, body) in all {
            text.push_str(&format!("{}:\n{body}", pipeline.stages[i].address()));
        }
        for (file, changes) in &pointers {
            text.push_str(&format!("{file}:\n{}", render(changes)));
        }
        text
    };
    Ok(Report {
        stdout: out,
        stderr: String::new(),
        code,
    })
}

/// DVC's text layout: tab-indented groups, kinds padded to 20 columns.
fn render(changes: &[Change]) -> String {
    let mut s = String::new();
    let (deps, params, outs) = group(changes);
    if !deps.is_empty() || !params.is_empty() {
        s.push_str("\tchanged deps:\n");
        for (path, kind) in &deps {
            s.push_str(&format!("\t\t{:<20}{path}\n", format!("{kind}:")));
        }
        for (file, entry) in &params {
            match entry {
                ParamsChange::File(kind) => {
                    s.push_str(&format!("\t\t{:<20}{file}\n", format!("{kind}:")))
                }
                ParamsChange::Keys(keys) => {
                    s.push_str(&format!("\t\t{file}:\n"));
                    for (key, kind) in keys {
                        s.push_str(&format!("\t\t\t{:<20}{key}\n", format!("{kind}:")));
                    }
                }
            }
        }
    }
    if !outs.is_empty() {
        s.push_str("\tchanged outs:\n");
        for (path, kind) in &outs {
            s.push_str(&format!("\t\t{:<20}{path}\n", format!("{kind}:")));
        }
    }
    if changes.contains(&Change::Command) {
        s.push_str("\tchanged command\n");
    }
    if changes.contains(&Change::Always) {
        s.push_str("\talways changed\n");
    }
    s
}

/// `dvc status --json`'s list for one stage.
fn to_json(changes: &[Change]) -> Json {
    let (deps, params, outs) = group(changes);
    let mut list = Vec::new();
    if !deps.is_empty() || !params.is_empty() {
        let mut m = serde_json::Map::new();
        for (path, kind) in deps {
            m.insert(path, kind.into());
        }
        for (file, entry) in params {
            let v = match entry {
                ParamsChange::File(kind) => Json::from(kind),
                ParamsChange::Keys(keys) => Json::Object(
                    keys.into_iter()
                        .map(|(k, kind)| (k, Json::from(kind)))
                        .collect(),
                ),
            };
            m.insert(file, v);
        }
        list.push(json!({ "changed deps": m }));
    }
    if !outs.is_empty() {
        let m: serde_json::Map<String, Json> =
            outs.into_iter().map(|(p, k)| (p, Json::from(k))).collect();
        list.push(json!({ "changed outs": m }));
    }
    if changes.contains(&Change::Command) {
        list.push("changed command".into());
    }
    if changes.contains(&Change::Always) {
        list.push("always changed".into());
    }
    Json::Array(list)
}

enum ParamsChange {
    File(&'static str),
    Keys(Vec<(String, &'static str)>),
}

type Grouped = (
    Vec<(String, &'static str)>,
    BTreeMap<String, ParamsChange>,
    Vec<(String, &'static str)>,
);

fn group(changes: &[Change]) -> Grouped {
    let mut deps = Vec::new();
    let mut params: BTreeMap<String, ParamsChange> = BTreeMap::new();
    let mut outs = Vec::new();
    for c in changes {
        match c {
            Change::Dep(p, k) => deps.push((p.clone(), k.word())),
            Change::ParamsFile(f, k) => {
                params.insert(f.clone(), ParamsChange::File(k.word()));
            }
            Change::Param { file, key, kind } => {
                if let ParamsChange::Keys(keys) = params
                    .entry(file.clone())
                    .or_insert_with(|| ParamsChange::Keys(vec![]))
                {
                    keys.push((key.clone(), kind.word()));
                }
            }
            Change::Out(p, k) => outs.push((p.clone(), k.word())),
            Change::Command | Change::Always => {}
        }
    }
    (deps, params, outs)
}
