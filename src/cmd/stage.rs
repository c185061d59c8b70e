//! `wf stage list`: the stages of the pipeline, as `dvc stage list`.

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::spec::{Action, Cmd, OutKind, Pipeline, Stage};
use crate::table::Table;
use crate::target;

/// List and inspect stages.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subcommand.
    #[command(subcommand)]
    pub command: StageCommand,
}

/// `wf stage` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StageCommand {
    /// List stages with their description (or their outputs), as `dvc stage list`.
    List {
        /// Stages, groups or spec files to list (default: the working folder's spec).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
        /// List the stages of every spec in the repository.
        #[arg(long, conflicts_with = "targets")]
        all: bool,
        /// Print names only.
        #[arg(long)]
        name_only: bool,
        /// Print JSON: every stage fully resolved (cmd, deps, params, outs, flags).
        #[arg(long)]
        json: bool,
    },
}

/// Runs `wf stage`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let StageCommand::List {
        targets,
        all,
        name_only,
        json,
    } = &args.command;
    let extra = target::named_specs(&ctx.root, &ctx.cwd, targets);
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &extra)?;
    let selected: Vec<usize> = if *all {
        (0..pipeline.stages.len()).collect()
    } else if targets.is_empty() {
        // As DVC: the stages of the working folder's spec.
        (0..pipeline.stages.len())
            .filter(|&i| pipeline.stages[i].spec.local)
            .collect()
    } else {
        target::resolve(&pipeline, &ctx.cwd, targets, false)?
    };
    let stages = selected.iter().map(|&i| &pipeline.stages[i]);
    if *json {
        let list: Vec<serde_json::Value> = stages.map(stage_json).collect();
        return Ok(Report::ok(format!(
            "{}
",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        )));
    }
    let mut table = Table::headless();
    for s in stages {
        let info = if *name_only {
            String::new()
        } else {
            describe(s)
        };
        table.push([s.address(), info]);
    }
    Ok(Report::ok(table.text()))
}

/// A resolved stage as JSON, for `--json` and for scripts that want to see interpolation done.
fn stage_json(s: &Stage) -> serde_json::Value {
    let mut v = serde_json::json!({
        "name": s.address(),
        "group": s.group,
        "spec": s.spec.src.name,
        "wdir": s.wdir.to_string(),
    });
    match &s.action {
        Action::Cmd(Cmd::Line(line)) => v["cmd"] = line.as_str().into(),
        Action::Cmd(Cmd::List(items)) => v["cmd"] = items.clone().into(),
        Action::Builtin {
            name,
            version,
            with,
        } => {
            v["uses"] = name.as_str().into();
            v["version"] = (*version).into();
            v["with"] = with.to_json();
        }
    }
    v["deps"] = s
        .deps
        .iter()
        .map(|d| d.path.to_string())
        .collect::<Vec<_>>()
        .into();
    v["params"] = s
        .params
        .iter()
        .map(|p| {
            (
                p.file.to_string(),
                p.keys.clone().map_or(serde_json::Value::Null, Into::into),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    v["outs"] = s
        .outs
        .iter()
        .map(|o| {
            serde_json::json!({
                "path": o.entry.path.to_string(),
                "kind": match o.kind { OutKind::Out => "out", OutKind::Metric => "metric", OutKind::Plot => "plot" },
                "cache": o.cache,
                "persist": o.persist,
            })
        })
        .collect::<Vec<_>>()
        .into();
    v["frozen"] = s.frozen.into();
    v["always_changed"] = s.always_changed.into();
    v["desc"] = s.desc.clone().into();
    v["env"] = s
        .env
        .iter()
        .map(|(k, val)| (k.clone(), serde_json::Value::from(val.as_str())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    v["resources"] = serde_json::json!({
        "cpus": s.resources.cpus,
        "mem": s.resources.mem,
        "gpus": s.resources.gpus,
        "time": s.resources.time,
    });
    v["executor"] = s.executor.map(crate::spec::ExecutorName::as_str).into();
    v
}

/// The line `wf stage list` shows for a stage, as DVC's: the first line of `desc`, else what
/// it writes and reports, cut at 80 characters.
fn describe(s: &Stage) -> String {
    let desc = s
        .desc
        .as_deref()
        .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(str::to_string);
    let text = desc.unwrap_or_else(|| {
        let join = |it: &mut dyn Iterator<Item = &str>| it.collect::<Vec<_>>().join(", ");
        let deps: Vec<&str> = s
            .deps
            .iter()
            .map(|d| d.written.as_str())
            .chain(s.params.iter().map(|p| p.written.as_str()))
            .collect();
        if s.outs.is_empty() {
            return if deps.is_empty() {
                "No outputs or dependencies".into()
            } else {
                format!("Depends on {}", deps.join(", "))
            };
        }
        let mut parts = Vec::new();
        let outs = join(
            &mut s
                .outs
                .iter()
                .filter(|o| o.kind == OutKind::Out)
                .map(|o| o.entry.written.as_str()),
        );
        if !outs.is_empty() {
            parts.push(format!("Outputs {outs}"));
        }
        let reports = join(
            &mut s
                .outs
                .iter()
                .filter(|o| o.kind != OutKind::Out)
                .map(|o| o.entry.written.as_str()),
        );
        if !reports.is_empty() {
            parts.push(format!("Reports {reports}"));
        }
        parts.join("; ")
    });
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text
    }
}
