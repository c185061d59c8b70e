//! The HTML page of `wf plots show|diff`: one self-contained file with Vega, Vega-Lite and
//! vega-embed inlined (`assets/vega/`), each plot's specification and data embedded, images
//! as `data:` URIs. It works offline, where DVC's page loads its libraries from a CDN.

use std::path::{Path, PathBuf};

use minijinja::{Environment, context};
use serde::Serialize;

use super::error::PlotsError;
use super::show::{Body, Plot};

const TEMPLATE: &str = include_str!("page.html.j2");
const VEGA: &str = include_str!("../../assets/vega/vega-5.33.1.min.js");
const VEGA_LITE: &str = include_str!("../../assets/vega/vega-lite-5.23.0.min.js");
const VEGA_EMBED: &str = include_str!("../../assets/vega/vega-embed-6.29.0.min.js");

#[derive(Serialize)]
struct PagePlot {
    id: String,
    /// The specification as JSON safe inside a `<script>` element.
    spec: Option<String>,
    images: Vec<PageImage>,
}

#[derive(Serialize)]
struct PageImage {
    rev: String,
    /// A `data:` URI: base64 and a MIME type, nothing to escape.
    src: String,
}

/// The page showing `plots`.
pub fn page(title: &str, plots: &[Plot]) -> Result<String, PlotsError> {
    let plots: Vec<PagePlot> = plots
        .iter()
        .map(|p| match &p.body {
            Body::Vega { spec, .. } => PagePlot {
                id: p.id.clone(),
                // `<` escaped, so that no value can close the script element.
                spec: Some(spec.to_string().replace('<', "\\u003c")),
                images: vec![],
            },
            Body::Images(images) => PagePlot {
                id: p.id.clone(),
                spec: None,
                images: images
                    .iter()
                    .map(|i| PageImage {
                        rev: i.rev.clone(),
                        src: i.data_uri(),
                    })
                    .collect(),
            },
        })
        .collect();
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let render = |env: &mut Environment<'_>| -> Result<String, minijinja::Error> {
        env.add_template("page.html", TEMPLATE)?;
        env.get_template("page.html")?.render(context! {
            title,
            plots => minijinja::Value::from(minijinja::value::Serde(&plots)),
            vega => VEGA,
            vega_lite => VEGA_LITE,
            vega_embed => VEGA_EMBED,
        })
    };
    render(&mut env).map_err(|e| PlotsError::Io {
        action: "render",
        path: "page.html".into(),
        reason: e.to_string(),
    })
}

/// Writes the page as `dir/index.html` and returns its path.
pub fn write(dir: &Path, title: &str, plots: &[Plot]) -> Result<PathBuf, PlotsError> {
    let html = page(title, plots)?;
    let path = dir.join("index.html");
    let io = |e: std::io::Error| PlotsError::Io {
        action: "write",
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(&path, html).map_err(io)?;
    Ok(path)
}
