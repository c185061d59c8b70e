//! DVC's plot templates, written as Vega-Lite specifications of wf's own: each takes the rows
//! (tagged with their revision) and the x and y fields, and draws what DVC's template of the
//! same name draws.

use serde_json::{Value as Json, json};

/// DVC's templates, `linear` the default.
pub(crate) const TEMPLATES: [&str; 8] = [
    "linear",
    "simple",
    "scatter",
    "smooth",
    "confusion",
    "confusion_normalized",
    "bar_horizontal",
    "bar_horizontal_sorted",
];

/// What a template is filled with.
#[derive(Debug)]
pub(crate) struct Chart<'a> {
    /// The plot's title.
    pub title: &'a str,
    /// The x field.
    pub x: &'a str,
    /// The y field.
    pub y: &'a str,
    /// The x axis title.
    pub x_title: &'a str,
    /// The y axis title.
    pub y_title: &'a str,
    /// The revisions, in the order of their colours.
    pub revs: &'a [String],
    /// The field telling the lines of one revision apart (`field` for several y fields,
    /// `filename` for several files), if any.
    pub series: Option<&'a str>,
    /// The rows.
    pub rows: Vec<Json>,
}

/// The Vega-Lite specification of `template` (one of [`TEMPLATES`]) filled with `chart`.
pub(crate) fn spec(template: &str, chart: Chart<'_>) -> Json {
    let mut spec = json!({
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": []},
        "title": {"text": chart.title, "anchor": "middle"},
    });
    let body = match template {
        "simple" => simple(&chart),
        "scatter" => scatter(&chart),
        "smooth" => smooth(&chart),
        "confusion" => confusion(&chart, false),
        "confusion_normalized" => confusion(&chart, true),
        "bar_horizontal" => bars(&chart, false),
        "bar_horizontal_sorted" => bars(&chart, true),
        _ => linear(&chart),
    };
    if let (Json::Object(spec), Json::Object(body)) = (&mut spec, body) {
        spec.extend(body);
    }
    spec["data"]["values"] = Json::Array(chart.rows);
    spec
}

fn x(c: &Chart<'_>) -> Json {
    json!({"field": c.x, "type": "quantitative", "title": c.x_title})
}

fn y(c: &Chart<'_>) -> Json {
    json!({"field": c.y, "type": "quantitative", "title": c.y_title, "scale": {"zero": false}})
}

/// One colour per revision, in the order given.
fn color(c: &Chart<'_>) -> Json {
    json!({"field": "rev", "type": "nominal", "title": "revision", "scale": {"domain": c.revs}})
}

fn tooltip(c: &Chart<'_>) -> Json {
    let mut fields = vec![
        json!({"field": "rev"}),
        json!({"field": c.x}),
        json!({"field": c.y}),
    ];
    if let Some(series) = c.series {
        fields.push(json!({ "field": series }));
    }
    Json::Array(fields)
}

/// The encodings every line chart shares; several y fields differ by their dash.
fn line_encoding(c: &Chart<'_>) -> Json {
    let mut enc = json!({"x": x(c), "y": y(c), "color": color(c), "tooltip": tooltip(c)});
    if let Some(series) = c.series {
        enc["strokeDash"] = json!({"field": series, "type": "nominal", "title": series});
    }
    enc
}

/// Zoom and pan with the mouse.
fn grid() -> Json {
    json!([{"name": "grid", "select": "interval", "bind": "scales"}])
}

/// Lines through the points, a point at each row.
fn linear(c: &Chart<'_>) -> Json {
    json!({
        "width": 300,
        "height": 300,
        "encoding": line_encoding(c),
        "layer": [
            {"mark": {"type": "line"}, "params": grid()},
            {"mark": {"type": "point", "filled": true, "size": 20}},
        ],
    })
}

/// Plain lines.
fn simple(c: &Chart<'_>) -> Json {
    json!({
        "width": 300,
        "height": 300,
        "params": grid(),
        "mark": {"type": "line", "tooltip": true},
        "encoding": line_encoding(c),
    })
}

/// Points, one shape per y field.
fn scatter(c: &Chart<'_>) -> Json {
    let mut enc = json!({"x": x(c), "y": y(c), "color": color(c), "tooltip": tooltip(c)});
    if let Some(series) = c.series {
        enc["shape"] = json!({"field": series, "type": "nominal", "title": series});
    }
    json!({
        "width": 300,
        "height": 300,
        "params": grid(),
        "mark": {"type": "point", "tooltip": true},
        "encoding": enc,
    })
}

/// The rows faint, and a LOESS curve through them whose bandwidth a slider sets.
fn smooth(c: &Chart<'_>) -> Json {
    let mut groupby = vec!["rev"];
    groupby.extend(c.series);
    json!({
        "width": 300,
        "height": 300,
        "params": [{
            "name": "smooth",
            "value": 0.3,
            "bind": {"input": "range", "min": 0.01, "max": 1, "step": 0.01, "name": "smoothing "},
        }],
        "encoding": line_encoding(c),
        "layer": [
            {"mark": {"type": "line", "opacity": 0.25}, "params": grid()},
            {
                "transform": [{
                    "loess": c.y,
                    "on": c.x,
                    "groupby": groupby,
                    "bandwidth": {"signal": "smooth"},
                }],
                "mark": {"type": "line"},
            },
        ],
    })
}

/// A matrix of counts of (y, x) pairs, one per revision side by side; normalised, each row
/// divided by its sum. As wf's addition, a `count` column weighs its row (the built-in
/// `evaluate` writes one row per pair with its count; DVC's data has one row per prediction).
fn confusion(c: &Chart<'_>, normalized: bool) -> Json {
    let mut transform = vec![
        json!({"calculate": "isValid(datum.count) ? toNumber(datum.count) : 1", "as": "wf_weight"}),
        json!({
            "aggregate": [{"op": "sum", "field": "wf_weight", "as": "xy_count"}],
            "groupby": ["rev", c.y, c.x],
        }),
        json!({"impute": "xy_count", "groupby": ["rev", c.y], "key": c.x, "value": 0}),
        json!({"impute": "xy_count", "groupby": ["rev", c.x], "key": c.y, "value": 0}),
    ];
    let (value, scale, format) = if normalized {
        transform.push(json!({
            "joinaggregate": [{"op": "sum", "field": "xy_count", "as": "sum_y"}],
            "groupby": ["rev", c.y],
        }));
        transform.push(json!({"calculate": "datum.xy_count / datum.sum_y", "as": "percent_of_y"}));
        ("percent_of_y", json!({"domain": [0, 1]}), ".2f")
    } else {
        ("xy_count", json!({"domainMin": 0, "nice": true}), "d")
    };
    let nominal = |field: &str, title: &str| json!({"field": field, "type": "nominal", "sort": "ascending", "title": title});
    json!({
        "facet": {"column": {"field": "rev", "type": "nominal", "sort": c.revs, "title": null}},
        "spec": {
            "width": 300,
            "height": 300,
            "transform": transform,
            "encoding": {"x": nominal(c.x, c.x_title), "y": nominal(c.y, c.y_title)},
            "layer": [
                {
                    "mark": "rect",
                    "encoding": {
                        "color": {"field": value, "type": "quantitative", "title": "", "scale": scale},
                        "tooltip": [
                            {"field": c.y, "type": "nominal"},
                            {"field": c.x, "type": "nominal"},
                            {"field": value, "type": "quantitative", "format": format},
                        ],
                    },
                },
                {
                    "mark": {"type": "text", "color": "black"},
                    "encoding": {"text": {"field": value, "type": "quantitative", "format": format}},
                },
            ],
        },
    })
}

/// Horizontal bars of x for each y, revisions side by side; sorted, the longest first.
fn bars(c: &Chart<'_>, sorted: bool) -> Json {
    let mut y = json!({"field": c.y, "type": "nominal", "title": c.y_title});
    if sorted {
        y["sort"] = json!("-x");
    }
    json!({
        "width": 300,
        "height": 300,
        "mark": {"type": "bar", "tooltip": true},
        "encoding": {
            "x": {"field": c.x, "type": "quantitative", "title": c.x_title},
            "y": y,
            "yOffset": {"field": "rev", "sort": c.revs},
            "color": color(c),
        },
    })
}
