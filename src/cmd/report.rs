//! `wf report --md`: a Markdown summary for a pull-request comment — what the last run did, the
//! champion change, metrics and params against a base revision, and the pipeline as Mermaid.
//! The template is minijinja and can be replaced by a file.

use std::path::{Path, PathBuf};

use minijinja::{Environment, context};

use crate::cmd::Report;
use crate::context::Context;
use crate::dag::Dag;
use crate::dag_render::{self, ViewOptions};
use crate::diff::{self, Kind};
use crate::error::Error;
use crate::git::Git;
use crate::registry;
use crate::spec::Pipeline;

/// The built-in template.
const TEMPLATE: &str = include_str!("report_template.md.j2");

/// Print a Markdown report for a pull request.
///
/// What the last `wf repro` ran, the champion change when `deploy` ran, the metrics and params
/// that differ from a base revision, each study's best trial and history, and the pipeline as a
/// Mermaid graph.
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
    /// `base`, `metrics`, `params`, `studies`, `dag`).
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
    let (base, warning) = match &args.base {
        Some(b) => (b.clone(), String::new()),
        None => default_base(&ctx.root)?,
    };
    let metrics = diff_md(ctx, Kind::Metrics, &base)?;
    let params = diff_md(ctx, Kind::Params, &base)?;
    let run = last_run(ctx);
    let studies = if crate::store::Store::path(&ctx.root).exists() {
        crate::tune::show::report_md(&crate::store::Store::open(&ctx.root)?)?
    } else {
        String::new()
    };
    let ran = |stage: &str| {
        run.as_ref()
            .and_then(|r| r["ran"].as_array())
            .is_some_and(|ran| ran.iter().any(|n| *n == stage))
    };
    let champion = match registry::deploys(&pipeline)
        .into_iter()
        .find(|d| ran(&d.stage))
    {
        Some(deploy) => champion(&deploy.dir)?,
        None => None,
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
                studies => studies,
                dag => dag_render::mermaid(&view, true).trim_end(),
            })
        })
        .map_err(|e| usage(format!("cannot render the report: {e}")))?;
    Ok(Report {
        stdout: format!("{}\n", rendered.trim_end()),
        stderr: warning,
        code: crate::exit_code::OK,
    })
}

/// The last run's record, with a one-line `summary`.
fn last_run(ctx: &Context) -> Option<serde_json::Value> {
    crate::run::RunRecord::read_last(&ctx.root).map(|r| run_value(&r))
}

/// The Markdown table of what differs from `base`, empty when nothing does.
fn diff_md(ctx: &Context, kind: Kind, base: &str) -> Result<String, Error> {
    let d = diff::compare(&ctx.root, &ctx.cwd, kind, Some(base), None, false)?;
    if d.is_empty() {
        return Ok(String::new());
    }
    Ok(d.table().markdown().trim_end().to_string())
}

/// The merge base with the default branch where there is one, else `HEAD`; with a warning when
/// the two share no history (a shallow clone).
fn default_base(root: &Path) -> Result<(String, String), Error> {
    let head = || "HEAD".to_string();
    // Outside git the comparison says so itself.
    let Some(git) = Git::find(root)? else {
        return Ok((head(), String::new()));
    };
    let Some(branch) = git.default_branch()? else {
        return Ok((head(), String::new()));
    };
    Ok(match git.merge_base("HEAD", &branch)? {
        Some(sha) => (sha.chars().take(12).collect(), String::new()),
        None => (
            head(),
            format!(
                "warning: `HEAD` shares no history with `{branch}` (a shallow clone?), so the report compares with `HEAD`; fetch more history or pass `--base REV`\n"
            ),
        ),
    })
}

/// The registry's champion and whether the last deploy changed it.
fn champion(dir: &Path) -> Result<Option<serde_json::Value>, Error> {
    let registry = wf_stages::registry::Registry::open(dir)?;
    let Some(version) = registry.champion()? else {
        return Ok(None);
    };
    let meta = registry.meta(version)?;
    let history = registry.history()?;
    let previous = history.iter().rev().nth(1).map(|h| h.version);
    let changed = history.last().is_some_and(|h| h.version == version)
        && previous.is_some_and(|p| p != version);
    Ok(Some(serde_json::json!({
        "version": version,
        "model": meta.model,
        "metric": meta.metric.name,
        "value": meta.metric.value,
        "changed": changed,
        "previous": previous,
    })))
}

/// The last run as the template sees it: the stages that ran, were restored or failed, and a
/// summary line.
fn run_value(r: &crate::run::RunRecord) -> serde_json::Value {
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
