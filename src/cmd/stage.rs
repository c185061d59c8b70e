//! `wf stage list`: the stages of the pipeline, as `dvc stage list`.

use crate::context::Context;
use crate::error::Error;
use crate::spec::Pipeline;
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
        /// Stages, groups or spec files to list (default: all).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
        /// Print names only.
        #[arg(long)]
        name_only: bool,
        /// Print JSON: a list of objects with name, group, spec, desc, deps, outs.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `wf stage`.
pub fn run(ctx: &Context, args: &Args) -> Result<String, Error> {
    let StageCommand::List {
        targets,
        name_only,
        json,
    } = &args.command;
    let extra = target::named_specs(&ctx.root, &ctx.cwd, targets);
    let pipeline = Pipeline::load(&ctx.root, &extra)?;
    let selected: Vec<usize> = if targets.is_empty() {
        (0..pipeline.stages.len()).collect()
    } else {
        target::resolve(&pipeline, &ctx.cwd, targets, false)?
    };
    let stages = selected.iter().map(|&i| &pipeline.stages[i]);
    if *json {
        let list: Vec<serde_json::Value> = stages
            .map(|s| {
                serde_json::json!({
                    "name": s.address(),
                    "group": s.group,
                    "spec": s.spec.src.name,
                    "desc": s.desc,
                    "deps": s.deps.iter().map(|d| d.path.to_string()).collect::<Vec<_>>(),
                    "outs": s.outs.iter().map(|o| o.entry.path.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        ));
    }
    let rows: Vec<(String, String)> = stages
        .map(|s| {
            let info = match &s.desc {
                Some(d) => d.lines().next().unwrap_or_default().to_string(),
                None if s.outs.is_empty() => String::new(),
                None => format!(
                    "Outputs {}",
                    s.outs
                        .iter()
                        .map(|o| o.entry.written.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            (s.address(), info)
        })
        .collect();
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (name, info) in rows {
        if *name_only || info.is_empty() {
            out.push_str(&format!("{name}\n"));
        } else {
            out.push_str(&format!("{name:<width$}  {info}\n"));
        }
    }
    Ok(out)
}
