//! `wf report --md`: a Markdown summary for a pull-request comment — what the last run did, the
//! champion change, metrics and params against a base revision, and the pipeline as Mermaid.
//! The template is minijinja and can be replaced by a file.

use std::path::PathBuf;
use std::process::Command;

use minijinja::{Environment, context};

use crate::cmd::Report;
use crate::cmd::metrics::{DiffArgs, MetricsArgs, MetricsCommand, ParamsArgs, ParamsCommand};
use crate::context::Context;
use crate::dag::Dag;
use crate::dag_render::{self, ViewOptions};
use crate::error::Error;
use crate::spec::{Action, Pipeline};

/// The built-in template.
const TEMPLATE: &str = include_str!("report_template.md.j2");

/// Print a Markdown report for a pull request.
///
/// What the last `wf repro` ran, the champion change when `deploy` ran, the metrics and params
/// that differ from a base revision, and the pipeline as a Mermaid graph.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Markdown (the only format, accepted for scripts that say it).
    #[arg(long)]
    pub md: bool,
    /// The revision to compare with (default: the merge base with the default branch, else
    /// `HEAD`).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// A minijinja template to use instead of the built-in one (variables: `run`, `champion`,
    /// `base`, `metrics`, `params`, `dag`).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
}

/// Runs `wf report`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let usage = |message: String| Error::Usage {
        message,
        help: None,
    };
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &[])?;
    let dag = Dag::build(&pipeline)?;
    let view = dag_render::view(&pipeline, &dag, &ViewOptions::default());
    let base = args.base.clone().unwrap_or_else(|| default_base(ctx));
    let diff = |md_of: fn(&Context, DiffArgs) -> Result<Report, Error>| -> Result<String, Error> {
        let r = md_of(
            ctx,
            DiffArgs {
                a_rev: Some(base.clone()),
                b_rev: None,
                all: false,
                json: false,
                md: true,
            },
        )?;
        Ok(r.stdout.trim_end().to_string())
    };
    let metrics = diff(|ctx, d| {
        crate::cmd::metrics::metrics(
            ctx,
            &MetricsArgs {
                command: MetricsCommand::Diff(d),
            },
        )
    })?;
    let params = diff(|ctx, d| {
        crate::cmd::metrics::params(
            ctx,
            &ParamsArgs {
                command: ParamsCommand::Diff(d),
            },
        )
    })?;

    let run = crate::run::RunRecord::read_last(&ctx.root).map(|r| last_run(&r));
    let deploy_ran = run
        .as_ref()
        .and_then(|r| r["ran"].as_array())
        .is_some_and(|ran| {
            pipeline.stages.iter().any(|s| {
                matches!(&s.action, Action::Builtin { name, .. } if name == "deploy")
                    && ran.iter().any(|n| *n == s.address().as_str())
            })
        });
    let champion = if deploy_ran {
        champion(ctx, &pipeline)
    } else {
        None
    };

    let source = match &args.template {
        Some(file) => {
            std::fs::read_to_string(ctx.cwd.to_path(&ctx.root).join(file)).map_err(|e| {
                usage(format!(
                    "cannot read the template `{}`: {e}",
                    file.display()
                ))
            })?
        }
        None => TEMPLATE.to_string(),
    };
    let mut env = Environment::new();
    env.add_template("report", &source)
        .map_err(|e| usage(format!("the report template is invalid: {e}")))?;
    let rendered = env
        .get_template("report")
        .and_then(|t| {
            t.render(context! {
                run => minijinja::Value::from(minijinja::value::Serde(&run)),
                champion => minijinja::Value::from(minijinja::value::Serde(&champion)),
                base => base,
                metrics => metrics,
                params => params,
                dag => dag_render::mermaid(&view, true).trim_end(),
            })
        })
        .map_err(|e| usage(format!("cannot render the report: {e}")))?;
    Ok(Report::ok(format!("{}\n", rendered.trim_end())))
}

/// The merge base with the default branch where git knows one, else `HEAD`.
fn default_base(ctx: &Context) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&ctx.root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let default = git(&["symbolic-ref", "--short", "refs/remotes/origin/HEAD"]).or_else(|| {
        ["origin/main", "origin/master", "main", "master"]
            .iter()
            .find(|b| git(&["rev-parse", "--verify", "--quiet", b]).is_some())
            .map(|b| b.to_string())
    });
    default
        .and_then(|b| git(&["merge-base", "HEAD", &b]))
        .map_or_else(|| "HEAD".into(), |sha| sha.chars().take(12).collect())
}

/// The registry's champion and whether the last deploy changed it.
fn champion(ctx: &Context, pipeline: &Pipeline) -> Option<serde_json::Value> {
    let dir = pipeline.stages.iter().find_map(|s| match &s.action {
        Action::Builtin { name, with, .. } if name == "deploy" => {
            s.wdir.join(with.to_json().get("registry")?.as_str()?)
        }
        _ => None,
    })?;
    let registry = wf_stages::registry::Registry::open(dir.to_path(&ctx.root)).ok()?;
    let version = registry.champion().ok()??;
    let meta = registry.meta(version).ok()?;
    let history = registry.history().ok()?;
    let previous = history.iter().rev().nth(1).map(|h| h.version);
    let changed = history.last().is_some_and(|h| h.version == version)
        && previous.is_some_and(|p| p != version);
    Some(serde_json::json!({
        "version": version,
        "model": meta.model,
        "metric": meta.metric.name,
        "value": meta.metric.value,
        "changed": changed,
        "previous": previous,
    }))
}

/// The last run as the template sees it: the stages that ran, were restored or failed, and a
/// summary line.
fn last_run(r: &crate::run::RunRecord) -> serde_json::Value {
    use crate::run::StageOutcome;
    let ran = r.stages_where(|o| matches!(o, StageOutcome::Ran));
    let restored = r.stages_where(|o| matches!(o, StageOutcome::Restored));
    let skipped = r.stages_where(|o| matches!(o, StageOutcome::Skipped));
    let failed: Vec<serde_json::Value> = r
        .stages
        .iter()
        .filter_map(|s| match &s.outcome {
            StageOutcome::Failed { cause } => {
                Some(serde_json::json!({"stage": s.stage, "error": cause.to_string()}))
            }
            _ => None,
        })
        .collect();
    let mut parts = vec![format!("{} ran", ran.len())];
    if !restored.is_empty() {
        parts.push(format!("{} restored from the cache", restored.len()));
    }
    parts.push(format!("{} up to date", skipped.len()));
    if !failed.is_empty() {
        parts.push(format!("{} failed", failed.len()));
    }
    let summary = format!("{} in {:.2} s", parts.join(", "), r.seconds());
    serde_json::json!({
        "ran": ran,
        "restored": restored,
        "skipped": skipped,
        "failed": failed,
        "seconds": r.seconds(),
        "summary": summary,
    })
}
