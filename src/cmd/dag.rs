//! `wf dag`: draw the graph of stages (ASCII, DOT, Mermaid).

use crate::cmd::Report;
use crate::context::Context;
use crate::dag::Dag;
use crate::dag_layout;
use crate::dag_render::{self, ViewOptions};
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
    /// Draw outputs as nodes instead of stages.
    #[arg(long, conflicts_with = "collapse")]
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
    Ok(Report::ok(if args.dot {
        dag_render::dot(&view)
    } else if args.mermaid || args.md {
        dag_render::mermaid(&view, args.md)
    } else {
        crate::dag_ascii::render(&view, &dag_layout::layout(&view))
    }))
}
