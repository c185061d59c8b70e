//! `wf exp show`: the experiments as a table, as `dvc exp show`, fitted to the terminal.

use std::collections::BTreeMap;
use std::io::Write as _;

use super::layout::{fitted, table, width};
use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exp::show::{self, Options};
use crate::store::Store;

/// Show experiments: name, created, state, then metrics, then params; grouped under their
/// baseline commit.
///
/// On a terminal the table fits its width: columns whose value is the same in every row go
/// first, then long values are shortened, then the last columns are left out (a note says so).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Every run of the store (`wf repro` runs too), not only experiments.
    #[arg(short = 'A', long)]
    pub all: bool,
    /// Sort by this metric or param (`accuracy`, `params.yaml:train.C`), or `name`, `created`.
    #[arg(long, value_name = "KEY")]
    pub sort_by: Option<String>,
    /// With `--sort-by`: `asc` or `desc`.
    #[arg(long, value_name = "ORDER", default_value = "asc", value_parser = ["asc", "desc"])]
    pub sort_order: String,
    /// Only the columns whose value differs between experiments.
    #[arg(long)]
    pub only_changed: bool,
    /// Only the newest N experiments.
    #[arg(short = 'n', long = "num", value_name = "N")]
    pub num: Option<usize>,
    /// Only the columns matching this regular expression (`file:key` or `key`).
    #[arg(long, value_name = "REGEX")]
    pub keep: Option<String>,
    /// Not the columns matching this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub drop: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with_all = ["csv", "md"])]
    pub json: bool,
    /// Print CSV.
    #[arg(long, conflicts_with = "md")]
    pub csv: bool,
    /// Print a Markdown table.
    #[arg(long)]
    pub md: bool,
}

/// Runs `wf exp show`.
pub fn run(ctx: &Context, args: &Args) -> Result<Report, Error> {
    let regex = |flag: &str, r: &Option<String>| -> Result<Option<regex::Regex>, Error> {
        r.as_deref()
            .map(|r| {
                regex::Regex::new(r).map_err(|e| Error::Usage {
                    message: format!("`{flag} {r}` is no regular expression: {e}"),
                    help: None,
                })
            })
            .transpose()
    };
    let opts = Options {
        all: args.all,
        sort_by: args.sort_by.clone(),
        descending: args.sort_order == "desc",
        only_changed: args.only_changed,
        limit: args.num,
        keep: regex("--keep", &args.keep)?,
        drop: regex("--drop", &args.drop)?,
    };
    let root = ctx.repo().root;
    let store = if Store::path(&root).exists() {
        Some(Store::open(&root)?)
    } else {
        None
    };
    let grid = match &store {
        Some(store) => store.grid(opts.all)?,
        None => crate::store::Grid::default(),
    };
    let sheet = show::sheet(grid, &opts).map_err(|message| Error::Usage {
        message,
        help: Some("`wf exp show` without `--sort-by` lists the columns".into()),
    })?;
    let out = if args.json {
        // What the stages' scripts logged through MLflow, under the run that ran them.
        let mut logged = BTreeMap::new();
        if let Some(store) = &store {
            let parents = store.parents_of_children()?;
            for group in &sheet.groups {
                for row in group.rows.iter().filter(|r| parents.contains(&r.id)) {
                    logged.insert(row.id.clone(), store.children(&row.id)?);
                }
            }
        }
        print(|w| super::render::json(&sheet, &logged, w))?
    } else if args.csv {
        super::render::csv(&sheet)
    } else if args.md {
        table(&sheet, None, sheet.columns.len()).markdown()
    } else {
        let (table, note) = fitted(sheet, width());
        print(|w| {
            table.write_text(w)?;
            w.write_all(note.as_bytes())
        })?
    };
    Ok(Report::ok(out))
}

/// Writes to stdout as `write` goes, as 10 000 experiments make 18 MB of text; what is left for
/// the report to print is nothing.
fn print(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> Result<String, Error> {
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        // As ripgrep: a closed pipe (`wf exp show | head`) ends quietly.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(e)),
        _ => Ok(String::new()),
    }
}
