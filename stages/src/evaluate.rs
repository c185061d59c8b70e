//! `evaluate`: scores a trained model on the held-out split (metrics JSON + confusion matrix CSV).

use serde::Deserialize;

use crate::model::{load_model, predict_cancellable};
use crate::scores::Report;
use crate::table::Table;
use crate::{Builtin, Error, Io, RunContext, atomic, parse_with};

/// The `with:` of `uses: evaluate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateWith {
    /// The folder written by `train` (reads its `model.json`).
    pub model: String,
    /// The folder written by `prepare` (reads its `test.csv`).
    pub data: String,
    /// The metrics file to write (JSON).
    pub out: String,
    /// The confusion-matrix plot data to write (CSV); defaults to the metrics path with
    /// `.confusion.csv` in place of its extension.
    #[serde(default)]
    pub plot: Option<String>,
}

impl EvaluateWith {
    /// The plot path, given or derived from `out`.
    pub fn plot_path(&self) -> String {
        self.plot.clone().unwrap_or_else(|| {
            let stem = self.out.strip_suffix(".json").unwrap_or(&self.out);
            format!("{stem}.confusion.csv")
        })
    }
}

/// The `evaluate` stage.
pub struct Evaluate;

impl Builtin for Evaluate {
    fn name(&self) -> &'static str {
        "evaluate"
    }

    fn version(&self) -> u32 {
        1
    }

    fn io(&self, with: &serde_json::Value) -> Result<Io, Error> {
        let w: EvaluateWith = parse_with(self.name(), with)?;
        // Drawn as a confusion matrix by `wf plots show`, with nothing written in the spec.
        let props = [
            ("template", "confusion"),
            ("x", "predicted"),
            ("y", "actual"),
            ("title", "Confusion matrix"),
        ];
        let props = props.map(|(k, v)| (k.to_string(), v.to_string()));
        Ok(Io {
            deps: vec![w.model.clone(), w.data.clone()],
            metrics: vec![w.out.clone()],
            plots: vec![w.plot_path()],
            plot_props: [(w.plot_path(), props.into())].into(),
            ..Io::default()
        })
    }

    fn run(&self, with: &serde_json::Value, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let w: EvaluateWith = parse_with(self.name(), with)?;
        let dir = ctx.dir;
        let model = load_model(&dir.join(&w.model).join("model.json"))?;
        let test = Table::read(&dir.join(&w.data).join("test.csv"))?;
        ctx.cancel.check()?;
        let actual = test.labels(&model.target)?;
        let predicted = predict_cancellable(&model, &test, ctx.cancel)?;
        let report = Report::new(&model.classes, &actual, &predicted);
        (ctx.log)(format!(
            "{} on {} test rows: accuracy {:.4}, f1_macro {:.4}",
            model.model, report.samples, report.accuracy, report.f1_macro
        ));
        atomic::write_json(&dir.join(&w.out), &report)?;
        atomic::write(&dir.join(w.plot_path()), report.confusion_csv().as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plot_path_derives_from_metrics_path() {
        let io = Evaluate
            .io(&json!({"model": "models/svm", "data": "data/prepared", "out": "metrics/svm.json"}))
            .unwrap();
        assert_eq!(io.plots, ["metrics/svm.confusion.csv"]);
        let props = &io.plot_props["metrics/svm.confusion.csv"];
        assert_eq!(props["template"], "confusion");
        // The fields of `Report::confusion_csv`'s header.
        assert_eq!(
            (props["x"].as_str(), props["y"].as_str()),
            ("predicted", "actual")
        );
        assert_eq!(io.deps, ["models/svm", "data/prepared"]);
    }
}
