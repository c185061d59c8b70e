//! `wf model`: the registry that `deploy` fills — list, show, promote, roll back, predict.

use std::path::PathBuf;

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::registry;
use crate::spec::Pipeline;
use crate::table::Table;

/// Inspect and manage the model registry.
///
/// The registry is the `registry` folder of the `deploy` stage of the working folder's spec, else
/// of the repository's only `deploy` stage, unless `--registry` names another.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The registry folder (default: the `deploy` stage's `registry`).
    #[arg(long, global = true, value_name = "DIR")]
    pub registry: Option<PathBuf>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: ModelCommand,
}

/// `wf model` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// List versions: version, model, metric, aliases, created.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one version (a number, or an alias such as `champion`).
    Show {
        /// The version or alias.
        #[arg(value_name = "VERSION")]
        target: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a version the champion.
    Promote {
        /// The version number.
        #[arg(value_name = "VERSION")]
        number: u32,
    },
    /// Give the champion alias back to the previous champion.
    Rollback,
    /// Predict labels for a CSV with the model's feature columns.
    Predict {
        /// The CSV to predict for.
        input: PathBuf,
        /// The version or alias to predict with.
        #[arg(long, default_value = "champion")]
        model: String,
        /// Write the predictions to this CSV instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `wf model`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let dir = match &args.registry {
        Some(d) => ctx.cwd.to_path(&ctx.root).join(d),
        None => default_registry(ctx)?,
    };
    let registry = wf_stages::registry::Registry::open(&dir)?;
    let json = |v: &dyn erased::Json| Ok(Report::ok(format!("{}\n", v.to_json())));
    match &args.command {
        ModelCommand::List { json: true } => json(&registry.list()?),
        ModelCommand::List { json: false } => {
            let mut table = Table::new(["version", "model", "metric", "aliases", "created"]);
            for v in &registry.list()? {
                table.push([
                    v.version.to_string(),
                    v.model.clone(),
                    format!("{} {:.4}", v.metric.name, v.metric.value),
                    v.aliases.join(", "),
                    v.created.clone(),
                ]);
            }
            Ok(Report::ok(table.text()))
        }
        ModelCommand::Show { target, json: true } => json(&registry.show(target)?),
        ModelCommand::Show {
            target,
            json: false,
        } => {
            let d = registry.show(target)?;
            let mut s = format!(
                "version   {}\nmodel     {}\nmetric    {} {}\naliases   {}\ncreated   {}\nsource    {}\ntarget    {}\nclasses   {}\nfeatures  {}\nfile      {}\n",
                d.info.version,
                d.info.model,
                d.info.metric.name,
                d.info.metric.value,
                d.info.aliases.join(", "),
                d.info.created,
                d.source,
                d.target,
                d.classes.join(", "),
                d.features.join(", "),
                d.model_file.display()
            );
            if !d.params.is_empty() {
                s.push_str(&format!(
                    "params    {}\n",
                    serde_json::Value::Object(d.params.clone())
                ));
            }
            Ok(Report::ok(s))
        }
        ModelCommand::Promote { number } => {
            registry.promote(*number)?;
            Ok(Report::ok(format!(
                "version {number} is now the champion\n"
            )))
        }
        ModelCommand::Rollback => {
            let v = registry.rollback()?;
            Ok(Report::ok(format!(
                "rolled back: version {v} is the champion again\n"
            )))
        }
        ModelCommand::Predict {
            input,
            model,
            output,
            json: as_json,
        } => {
            let p = registry.predict(model, &ctx.cwd.to_path(&ctx.root).join(input))?;
            if *as_json {
                return json(&p);
            }
            let mut csv = format!("predicted_{}\n", p.target);
            for l in &p.labels {
                csv.push_str(&format!("{l}\n"));
            }
            match output {
                Some(file) => {
                    let path = ctx.cwd.to_path(&ctx.root).join(file);
                    crate::atomic::write(&path, csv.as_bytes()).map_err(|e| Error::Usage {
                        message: format!("cannot write `{}`: {e}", path.display()),
                        help: None,
                    })?;
                    Ok(Report {
                        stdout: String::new(),
                        stderr: format!(
                            "wrote {} predictions of version {} to {}\n",
                            p.labels.len(),
                            p.version,
                            file.display()
                        ),
                        code: 0,
                    })
                }
                None => Ok(Report::ok(csv)),
            }
        }
    }
}

/// The registry of the pipeline's `deploy` stage (see `registry::find`).
pub(crate) fn default_registry(ctx: &Context) -> Result<PathBuf, Error> {
    let pipeline = Pipeline::load(&ctx.root, &ctx.cwd, &[])?;
    Ok(registry::find_one(&pipeline)?.dir)
}

mod erased {
    //! `--json` for any serialisable registry answer.
    pub(super) trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default()
        }
    }
}
