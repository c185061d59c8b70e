//! `wf exp show`: the experiments as a table, as `dvc exp show`, fitted to the terminal.

use std::collections::BTreeMap;

use super::render::{created, write_cell};
use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::exp::show::{self, Options, Sheet};
use crate::store::Store;
use crate::table::Table;

/// Show experiments: name, created, state, then metrics, then params; grouped under their
/// baseline commit.
///
/// On a terminal the table fits its width: columns whose value is the same in every row go
/// first, then long values are shortened.
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
        super::render::json(&sheet, &logged)
    } else if args.csv {
        super::render::csv(&sheet)
    } else if args.md {
        table(&sheet, None, sheet.columns.len()).markdown()
    } else {
        fitted(sheet, width())
    };
    Ok(Report::ok(out))
}

/// The terminal's width, if stdout is one (or `COLUMNS` says).
fn width() -> Option<usize> {
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(w);
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// The text table, made to fit `width`: first without the columns equal in every row, then with
/// long cells shortened, then without the last columns.
fn fitted(sheet: Sheet, width: Option<usize>) -> String {
    let full = table(&sheet, None, sheet.columns.len());
    let Some(width) = width.filter(|w| full.width() > *w) else {
        return full.text();
    };
    let mut sheet = sheet;
    let rows = || sheet.groups.iter().flat_map(|g| &g.rows);
    let same: Vec<bool> = (0..sheet.columns.len())
        .map(|i| {
            let mut vals = rows().map(|r| &r.values[i]);
            let first = vals.next();
            vals.all(|v| Some(v) == first)
        })
        .collect();
    let hidden = same.iter().filter(|s| **s).count();
    drop_columns(&mut sheet, |i| same[i]);
    let mut note = String::new();
    if hidden > 0 {
        note.push_str(&format!(
            "({hidden} columns equal in every row are hidden: `--keep` shows them)\n"
        ));
    }
    for cut in [24, 16, 10] {
        let short = table(&sheet, Some(cut), sheet.columns.len());
        if short.width() <= width {
            return format!("{}{note}", short.text());
        }
    }
    // As many columns as fit, the rest left out.
    let short = table(&sheet, Some(10), sheet.columns.len());
    let widths = short.widths();
    let mut used = 0;
    let mut kept = 0;
    for (i, w) in widths.iter().enumerate() {
        used += w + if i > 0 { 2 } else { 0 };
        if used > width && i >= 3 {
            break;
        }
        kept = i + 1;
    }
    let shown = kept.saturating_sub(3);
    let dropped = sheet.columns.len() - shown;
    if dropped > 0 {
        note.push_str(&format!(
            "({dropped} more columns do not fit: `--keep`, `--drop` or `--json` show them)\n"
        ));
    }
    format!("{}{note}", table(&sheet, Some(10), shown).text())
}

fn drop_columns(sheet: &mut Sheet, gone: impl Fn(usize) -> bool) {
    let keep: Vec<bool> = (0..sheet.columns.len()).map(|i| !gone(i)).collect();
    let mut i = 0;
    sheet.columns.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    for row in sheet.groups.iter_mut().flat_map(|g| &mut g.rows) {
        let mut i = 0;
        row.values.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}

/// Shortens what `s` holds from `start` on with `…` to `cut` characters.
fn cap(s: &mut String, start: usize, cut: Option<usize>) {
    let Some(cut) = cut else { return };
    if let Some((end, _)) = s[start..].char_indices().nth(cut) {
        let keep = s[start..start + end]
            .char_indices()
            .nth(cut.saturating_sub(1))
            .map_or(end, |(i, _)| i);
        s.truncate(start + keep);
        s.push('…');
    }
}

/// The table: Experiment, Created, State, then a column per metric and param (the first
/// `columns` of them); with `cut`, every header and value longer than it shortened (a dotted
/// header to its last part first).
fn table(sheet: &Sheet, cut: Option<usize>, columns: usize) -> Table {
    let mut header = vec!["Experiment".to_string(), "Created".into(), "State".into()];
    header.extend(sheet.columns.iter().take(columns).map(|c| match cut {
        Some(n) if c.header.chars().count() > n => {
            let mut h = c.header.rsplit('.').next().unwrap_or(&c.header).to_string();
            cap(&mut h, 0, cut);
            h
        }
        _ => c.header.clone(),
    }));
    let mut t = Table::new(header);
    // Most values are numbers of about 8 characters.
    let cells = sheet.groups.iter().map(|g| g.rows.len() + 1).sum::<usize>() * (3 + columns);
    t.reserve(cells, cells * 8);
    for group in &sheet.groups {
        let base = group
            .baseline
            .as_deref()
            .map_or("workspace".to_string(), |b| b.chars().take(7).collect());
        t.cell(&base);
        for _ in 0..3 + columns.min(sheet.columns.len()) - 1 {
            t.cell("");
        }
        t.end_row();
        let n = group.rows.len();
        for (i, row) in group.rows.iter().enumerate() {
            let branch = if i + 1 == n { "└──" } else { "├──" };
            t.cell_with(|s| {
                s.push_str(branch);
                s.push(' ');
                let start = s.len();
                s.push_str(&row.name);
                cap(s, start, cut.map(|c| c.max(12)));
            });
            t.cell(&created(row.created));
            t.cell(&row.state);
            for v in row.values.iter().take(columns) {
                t.cell_with(|s| {
                    let start = s.len();
                    write_cell(s, v);
                    cap(s, start, cut);
                });
            }
            t.end_row();
        }
    }
    t
}
