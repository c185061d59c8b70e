//! `wf dag`: draw the graph of stages (ASCII, DOT, Mermaid, SVG).

use std::path::PathBuf;

use crate::cmd::Report;
use crate::context::Context;
use crate::dag::Dag;
use crate::dag_layout;
use crate::dag_render::{self, ViewOptions};
use crate::dag_svg;
use crate::error::Error;
use crate::spec::Pipeline;
use crate::target;

/// Show the graph of stages.
///
/// Without a target, every stage of the repository; with targets, those stages and everything
/// upstream of them (`--full`: their whole connected pipeline).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stages, foreach/matrix groups, spec files or `spec:stage`.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Print in Graphviz DOT, as `dvc dag --dot`.
    #[arg(long, group = "format")]
    pub dot: bool,
    /// Print a Mermaid flowchart, as `dvc dag --mermaid`.
    #[arg(long, group = "format")]
    pub mermaid: bool,
    /// Print a Mermaid flowchart in a Markdown code block.
    #[arg(long, group = "format")]
    pub md: bool,
    /// Print a standalone SVG picture, top to bottom.
    #[arg(long, group = "format")]
    pub svg: bool,
    /// Write the drawing to FILE (replaced atomically) instead of printing it.
    #[arg(long = "output", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Draw outputs as nodes instead of stages (`-o`, as DVC's).
    #[arg(short = 'o', long, conflicts_with = "collapse")]
    pub outs: bool,
    /// Draw each foreach/matrix group as one node.
    #[arg(long, alias = "collapse-foreach-matrix")]
    pub collapse: bool,
    /// With targets, show their whole connected pipeline, downstream included.
    #[arg(long)]
    pub full: bool,
}

/// Runs `wf dag`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let extra = target::named_specs(&ctx.root, &ctx.cwd, &args.targets);
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &extra)?;
    let dag = Dag::build(&pipeline)?;
    let targets = if args.targets.is_empty() {
        None
    } else {
        Some(target::resolve(&pipeline, &ctx.cwd, &args.targets, false)?)
    };
    let view = dag_render::view(
        &pipeline,
        &dag,
        &ViewOptions {
            targets,
            full: args.full,
            outs: args.outs,
            collapse: args.collapse,
        },
    );
    let text = if args.dot {
        dag_render::dot(&view)
    } else if args.mermaid || args.md {
        dag_render::mermaid(&view, args.md)
    } else if args.svg {
        dag_svg::svg(&view, &dag_layout::layout(&view), &|_| None, true)
    } else {
        crate::dag_ascii::render(&view, &dag_layout::layout(&view))
    };
    let Some(file) = &args.out else {
        return Ok(Report::ok(text));
    };
    let path = ctx.cwd.to_path(&ctx.root).join(file);
    crate::atomic::write(&path, text.as_bytes()).map_err(|e| Error::Usage {
        message: format!("cannot write `{}`: {e}", file.display()),
        help: None,
    })?;
    Ok(Report::ok(String::new()))
}
