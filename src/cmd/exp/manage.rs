//! `wf exp diff`, `wf exp apply` and `wf exp remove`.

use std::collections::BTreeSet;

use crate::cmd::Report;
use crate::context::Context;
use crate::error::Error;
use crate::store::{Experiment, Store};
use crate::table::Table;

/// Compare the params and metrics of two experiments (or runs).
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The first experiment's name or id.
    pub a: String,
    /// The second's.
    pub b: String,
    /// Also the params and metrics that are equal.
    #[arg(long)]
    pub all: bool,
    /// Print JSON.
    #[arg(long, conflicts_with = "md")]
    pub json: bool,
    /// Print Markdown tables.
    #[arg(long)]
    pub md: bool,
}

/// Put an experiment's params files, lock and outputs into the workspace.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The experiment's name or id.
    pub name: String,
    /// Overwrite files with changes of their own.
    #[arg(short, long)]
    pub force: bool,
}

/// Remove experiments (and their records) from the run store.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// Experiments' names or ids.
    #[arg(value_name = "NAME", required_unless_present_any = ["queued", "failed"])]
    pub names: Vec<String>,
    /// Every queued experiment.
    #[arg(long)]
    pub queued: bool,
    /// Every failed or cancelled experiment.
    #[arg(long)]
    pub failed: bool,
}

/// Runs `wf exp diff`.
pub fn diff(ctx: &Context, args: &DiffArgs) -> Result<Report, Error> {
    let store = Store::open(&ctx.repo().root)?;
    let (a, b) = (store.find(&args.a)?, store.find(&args.b)?);
    let params = rows(&a, &b, args.all, |e| flat(&e.params));
    let metrics = rows(&a, &b, args.all, |e| {
        flat(&e.metrics)
            .into_iter()
            .map(|(k, v)| (k, serde_json::json!(v)))
            .collect()
    });
    if args.json {
        let side = |rows: &[Row]| -> serde_json::Value {
            rows.iter()
                .map(|(file, key, x, y)| {
                    let change = match (
                        x.as_ref().and_then(|v| v.as_f64()),
                        y.as_ref().and_then(|v| v.as_f64()),
                    ) {
                        (Some(x), Some(y)) => serde_json::json!(y - x),
                        _ => serde_json::Value::Null,
                    };
                    (
                        format!("{file}:{key}"),
                        serde_json::json!({"old": x, "new": y, "diff": change}),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let out = serde_json::json!({
            "a": a.run.name, "b": b.run.name,
            "params": side(&params), "metrics": side(&metrics),
        });
        return Ok(Report::ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&out).unwrap_or_default()
        )));
    }
    let mut out = String::new();
    for (what, rows) in [("Metric", &metrics), ("Param", &params)] {
        if rows.is_empty() {
            continue;
        }
        let mut t = Table::dvc([
            "Path",
            what,
            a.run.name.as_str(),
            b.run.name.as_str(),
            "Change",
        ]);
        for (file, key, x, y) in rows {
            let text = |v: &Option<serde_json::Value>| match v {
                None => "-".to_string(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            };
            let change = match (
                x.as_ref().and_then(|v| v.as_f64()),
                y.as_ref().and_then(|v| v.as_f64()),
            ) {
                (Some(x), Some(y)) => crate::spec::value::Value::Float(y - x).to_text(),
                _ => "-".into(),
            };
            t.push([file.clone(), key.clone(), text(x), text(y), change]);
        }
        if !out.is_empty() && !args.md {
            out.push('\n');
        }
        out.push_str(&if args.md { t.markdown() } else { t.text() });
    }
    if out.is_empty() && !ctx.quiet {
        out = format!(
            "'{}' and '{}' have the same params and metrics\n",
            a.run.name, b.run.name
        );
    }
    Ok(Report::ok(out))
}

/// File, key, the value in a and in b.
type Row = (
    String,
    String,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
);

fn rows(
    a: &Experiment,
    b: &Experiment,
    all: bool,
    values: impl Fn(&Experiment) -> std::collections::BTreeMap<(String, String), serde_json::Value>,
) -> Vec<Row> {
    let (va, vb) = (values(a), values(b));
    let keys: BTreeSet<&(String, String)> = va.keys().chain(vb.keys()).collect();
    keys.into_iter()
        .map(|k| {
            (
                k.0.clone(),
                k.1.clone(),
                va.get(k).cloned(),
                vb.get(k).cloned(),
            )
        })
        .filter(|(_, _, x, y)| all || x != y)
        .collect()
}

fn flat<V: Clone>(
    by_file: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, V>>,
) -> std::collections::BTreeMap<(String, String), V> {
    by_file
        .iter()
        .flat_map(|(f, m)| {
            m.iter()
                .map(move |(k, v)| ((f.clone(), k.clone()), v.clone()))
        })
        .collect()
}

/// Runs `wf exp apply`.
pub fn apply(ctx: &Context, args: &ApplyArgs) -> Result<Report, Error> {
    let done = crate::exp::apply(&ctx.repo(), &args.name, args.force)?;
    let mut out = String::new();
    if !ctx.quiet {
        for f in &done.files {
            out.push_str(&format!("wrote {f}\n"));
        }
        for f in &done.restored {
            out.push_str(&format!("restored {f}\n"));
        }
        out.push_str(&format!(
            "Changes for experiment '{}' have been applied to your workspace.\n",
            done.name
        ));
    }
    Ok(Report::ok(out))
}

/// Runs `wf exp remove`.
pub fn remove(ctx: &Context, args: &RemoveArgs) -> Result<Report, Error> {
    let mut store = Store::open(&ctx.repo().root)?;
    let mut chosen: Vec<Experiment> = Vec::new();
    for name in &args.names {
        chosen.push(store.find(name)?);
    }
    for e in store.experiments(false)? {
        let pick = (args.queued && e.run.status == "queued")
            || (args.failed && matches!(e.run.status.as_str(), "failed" | "cancelled"));
        if pick && !chosen.iter().any(|c| c.run.id == e.run.id) {
            chosen.push(e);
        }
    }
    let ids: Vec<String> = chosen.iter().map(|e| e.run.id.clone()).collect();
    store.remove(&ids)?;
    let mut out = String::new();
    if !ctx.quiet {
        for e in &chosen {
            out.push_str(&format!("Removed experiment '{}'\n", e.run.name));
        }
        if chosen.is_empty() {
            out.push_str("No experiment to remove.\n");
        }
    }
    Ok(Report::ok(out))
}
