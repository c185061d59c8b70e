//! SVG drawing of the stage graph (`Layout` ──draw──▶ SVG), for `wf dag --svg` and the web UI:
//! top to bottom, a rounded box per node, edges as smooth curves through the layout's dummy
//! slots, so that they pass beside boxes rather than through them.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::dag_layout::{Component, Layout, Slot};
use crate::dag_render::View;

/// Box height, and the approximate width of a character of the 13 px label.
const NODE_H: f64 = 32.0;
const CHAR_W: f64 = 7.5;
/// Blank space: inside a box either side of its label, between layers, between boxes, beside
/// a dummy, between components, around the drawing.
const PAD: f64 = 12.0;
const LAYER_GAP: f64 = 56.0;
const NODE_GAP: f64 = 24.0;
const DUMMY_GAP: f64 = 14.0;
const COMP_GAP: f64 = 40.0;
const MARGIN: f64 = 16.0;
/// Room kept right of a box for its self-loop.
const LOOP_W: f64 = 24.0;
const FONT: &str = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";

/// Colours of the node classes, for a standalone file (a page styles them with its own CSS).
const STYLE: &str = "
.node rect { fill: #ffffff; stroke: #57606a; stroke-width: 1.5px; }
.node text { fill: #1f2328; }
.node.fresh rect { fill: #dafbe1; stroke: #1a7f37; }
.node.stale rect { fill: #fff8c5; stroke: #9a6700; }
.node.running rect { fill: #ddf4ff; stroke: #0969da; }
.node.failed rect { fill: #ffebe9; stroke: #cf222e; }
.node.skipped rect { fill: #f6f8fa; stroke: #8c959f; stroke-dasharray: 4 3; }
.node.skipped text { fill: #656d76; }
.edge { fill: none; stroke: #8c959f; stroke-width: 1.5px; }
.arrow { fill: #8c959f; }
";

/// Draws the view as SVG with the layers and order of `layout`. Each node is a
/// `<g class="node CLASS" data-stage="LABEL" id="node-INDEX">` (CLASS from `class_of`, by node
/// index; `None`: no extra class), each edge a `<path class="edge" data-from data-to>`.
/// `standalone`: a complete file with its colours and a white background; else an `<svg>`
/// element to inline in a page whose CSS styles the classes.
pub fn svg(
    view: &View,
    layout: &Layout,
    class_of: &dyn Fn(usize) -> Option<String>,
    standalone: bool,
) -> String {
    let (mut body, mut left, mut height) = (String::new(), MARGIN, 0.0f64);
    for comp in &layout.components {
        let (drawing, w, h) = component(view, comp, left, class_of);
        body.push_str(&drawing);
        left += w + COMP_GAP;
        height = height.max(h);
    }
    let (width, height) = if layout.components.is_empty() {
        body.push_str(&format!(
            "<text class=\"empty\" x=\"80\" y=\"24\" text-anchor=\"middle\" \
             dominant-baseline=\"central\" font-family=\"{FONT}\" font-size=\"13\" \
             fill=\"#656d76\">no stages</text>\n"
        ));
        (160.0, 48.0)
    } else {
        (left - COMP_GAP + MARGIN, height + 2.0 * MARGIN)
    };
    let (w, h) = (num(width), num(height));
    let mut s = String::new();
    if standalone {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"wf-dag\" width=\"{w}\" \
         height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"stage graph\">"
    );
    if standalone {
        let _ = writeln!(s, "<style>{STYLE}</style>");
        s.push_str(
            "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
        );
    }
    s.push_str(
        "<defs><marker id=\"wf-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" markerUnits=\"userSpaceOnUse\" \
         orient=\"auto-start-reverse\"><path class=\"arrow\" d=\"M0,0 L10,5 L0,10 z\" \
         fill=\"#8c959f\"/></marker></defs>\n",
    );
    s.push_str(&body);
    s.push_str("</svg>\n");
    s
}

/// The label as it is drawn: control characters (invalid in XML) as `?`.
fn label(view: &View, node: usize) -> String {
    view.nodes[node].replace(char::is_control, "?")
}

/// Escapes text for an XML attribute or element.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate, without decimals where it has none.
fn num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn layer_top(l: usize) -> f64 {
    MARGIN + l as f64 * (NODE_H + LAYER_GAP)
}

/// Draws one component from `left`; returns the drawing, its width and its height.
fn component(
    view: &View,
    comp: &Component,
    left: f64,
    class_of: &dyn Fn(usize) -> Option<String>,
) -> (String, f64, f64) {
    let looped = |v: usize| comp.edges.iter().any(|r| r.from == v && r.to == v);
    // Each slot's width left and right of its centre.
    let reach: Vec<Vec<(f64, f64)>> = comp
        .layers
        .iter()
        .map(|slots| {
            let reach = |slot: &Slot| match *slot {
                Slot::Node(v) => {
                    let w = box_width(view, v) / 2.0;
                    (w, w + if looped(v) { LOOP_W } else { 0.0 })
                }
                Slot::Dummy(_) => (0.0, 0.0),
            };
            slots.iter().map(reach).collect()
        })
        .collect();
    let mut x = place(comp, &reach);
    let lo = (x.iter().zip(&reach))
        .flat_map(|(xs, rs)| xs.iter().zip(rs).map(|(x, r)| x - r.0))
        .fold(f64::INFINITY, f64::min);
    let hi = (x.iter().zip(&reach))
        .flat_map(|(xs, rs)| xs.iter().zip(rs).map(|(x, r)| x + r.1))
        .fold(f64::NEG_INFINITY, f64::max);
    x.iter_mut().flatten().for_each(|x| *x += left - lo);
    let shift = spread(view, comp, &x);
    let mut s = String::new();
    for (route, &shift) in comp.edges.iter().zip(&shift) {
        let (from, to) = (esc(&label(view, route.from)), esc(&label(view, route.to)));
        let d = if route.from == route.to {
            let (l, k) = route.points[0];
            let (r, y) = (x[l][k] + box_width(view, route.from) / 2.0, layer_top(l));
            format!(
                "M{},{} C{},{} {},{} {},{}",
                num(r),
                num(y + 8.0),
                num(r + LOOP_W - 2.0),
                num(y - 6.0),
                num(r + LOOP_W - 2.0),
                num(y + NODE_H + 6.0),
                num(r),
                num(y + NODE_H - 8.0)
            )
        } else {
            path(&ports(route.points.as_slice(), &x, shift))
        };
        let _ = writeln!(
            s,
            "<path class=\"edge\" data-from=\"{from}\" data-to=\"{to}\" d=\"{d}\" fill=\"none\" \
             stroke=\"#8c959f\" stroke-width=\"1.5\" marker-end=\"url(#wf-arrow)\"/>"
        );
    }
    for place in &comp.nodes {
        let (v, cx, y) = (
            place.node,
            x[place.layer][place.order],
            layer_top(place.layer),
        );
        let (w, text) = (box_width(view, v), esc(&label(view, v)));
        let class = class_of(v).map_or(String::new(), |c| format!(" {}", esc(&c)));
        let _ = writeln!(
            s,
            "<g class=\"node{class}\" data-stage=\"{text}\" id=\"node-{v}\"><title>{text}</title>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" ry=\"6\" fill=\"#ffffff\" \
             stroke=\"#57606a\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" \
             text-anchor=\"middle\" dominant-baseline=\"central\" font-family=\"{FONT}\" \
             font-size=\"13\" fill=\"#1f2328\">{text}</text></g>",
            num(cx - w / 2.0),
            num(y),
            num(w),
            num(NODE_H),
            num(cx),
            num(y + NODE_H / 2.0),
        );
    }
    let depth = comp.layers.len() as f64;
    (
        s,
        hi - lo,
        depth * NODE_H + (depth - 1.0).max(0.0) * LAYER_GAP,
    )
}

fn box_width(view: &View, v: usize) -> f64 {
    (label(view, v).chars().count() as f64 * CHAR_W).ceil() + 2.0 * PAD
}

/// A side of a box: (layer, position, bottom side).
type Side = (usize, usize, bool);
/// An edge's end on a side: (x of the slot at the other end, edge, whether it leaves here).
type End = (f64, usize, bool);

/// How far from the middle of its box each edge leaves and arrives: the edges on one side of
/// a box are spread along it, in the order of where they go, so that arrows do not pile up.
fn spread(view: &View, comp: &Component, x: &[Vec<f64>]) -> Vec<(f64, f64)> {
    let mut sides: BTreeMap<Side, Vec<End>> = BTreeMap::new();
    for (e, route) in comp.edges.iter().enumerate() {
        let p = &route.points;
        if route.from == route.to || p.len() < 2 {
            continue;
        }
        let (first, next, last, prev) = (p[0], p[1], p[p.len() - 1], p[p.len() - 2]);
        let down = first.0 < next.0;
        let side = sides.entry((first.0, first.1, down)).or_default();
        side.push((x[next.0][next.1], e, true));
        let side = sides.entry((last.0, last.1, !down)).or_default();
        side.push((x[prev.0][prev.1], e, false));
    }
    let mut shift = vec![(0.0, 0.0); comp.edges.len()];
    for ((l, k, _), mut ends) in sides {
        let Slot::Node(v) = comp.layers[l][k] else {
            continue;
        };
        ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let n = ends.len() as f64;
        let step = (box_width(view, v) * 0.6 / n).min(10.0);
        for (j, &(_, e, leaves)) in ends.iter().enumerate() {
            let dx = (j as f64 - (n - 1.0) / 2.0) * step;
            if leaves {
                shift[e].0 = dx;
            } else {
                shift[e].1 = dx;
            }
        }
    }
    shift
}

/// Where an edge through these slots touches: a box's bottom or top, and a dummy's whole
/// layer (it passes straight down beside the boxes).
fn ports(points: &[(usize, usize)], x: &[Vec<f64>], shift: (f64, f64)) -> Vec<(f64, f64)> {
    let down = points.len() < 2 || points[0].0 < points[1].0;
    let (near, far) = if down { (0.0, NODE_H) } else { (NODE_H, 0.0) };
    let mut out = Vec::new();
    for (i, &(l, k)) in points.iter().enumerate() {
        let px = x[l][k]
            + match i {
                0 => shift.0,
                i if i + 1 == points.len() => shift.1,
                _ => 0.0,
            };
        let top = layer_top(l);
        if i > 0 {
            out.push((px, top + near));
        }
        if i + 1 < points.len() {
            out.push((px, top + far));
        }
    }
    out
}

/// A smooth path through the ports: straight through a layer, an S-curve between layers
/// (vertical at both ends, so that the pieces join without a corner).
fn path(ports: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, &(x, y)) in ports.iter().enumerate() {
        if i == 0 {
            let _ = write!(d, "M{},{}", num(x), num(y));
            continue;
        }
        let (px, py) = ports[i - 1];
        if i % 2 == 0 && px == x {
            let _ = write!(d, " L{},{}", num(x), num(y));
        } else {
            let m = num((py + y) / 2.0);
            let (px, x, y) = (num(px), num(x), num(y));
            let _ = write!(d, " C{px},{m} {x},{m} {x},{y}");
        }
    }
    d
}

/// Centres of the slots: packed, then pulled alternately towards the slots above and below,
/// keeping order and spacing.
fn place(comp: &Component, reach: &[Vec<(f64, f64)>]) -> Vec<Vec<f64>> {
    let nl = comp.layers.len();
    // Neighbours one layer up ([0]) and down ([1]), by (layer, position).
    let mut nb: [Vec<Vec<Vec<usize>>>; 2] = [0, 1].map(|_| {
        let empty = |slots: &Vec<Slot>| vec![Vec::new(); slots.len()];
        comp.layers.iter().map(empty).collect()
    });
    for route in comp.edges.iter().filter(|r| r.from != r.to) {
        for w in route.points.windows(2) {
            let (a, b) = if w[0].0 < w[1].0 {
                (w[0], w[1])
            } else {
                (w[1], w[0])
            };
            nb[1][a.0][a.1].push(b.1);
            nb[0][b.0][b.1].push(a.1);
        }
    }
    let gap = |l: usize, k: usize| {
        let dummy = |k: usize| matches!(comp.layers[l][k], Slot::Dummy(_));
        let g = if dummy(k - 1) || dummy(k) {
            DUMMY_GAP
        } else {
            NODE_GAP
        };
        reach[l][k - 1].1 + g + reach[l][k].0
    };
    let mut x: Vec<Vec<f64>> = Vec::with_capacity(nl);
    for (l, slots) in comp.layers.iter().enumerate() {
        let mut xs = vec![0.0; slots.len()];
        for k in 1..slots.len() {
            xs[k] = xs[k - 1] + gap(l, k);
        }
        x.push(xs);
    }
    for round in 0..12 {
        let dir = round % 2;
        for step in 1..nl {
            let l = if dir == 0 { step } else { nl - 1 - step };
            let other = if dir == 0 { l - 1 } else { l + 1 };
            let want: Vec<f64> = (0..x[l].len())
                .map(|k| match nb[dir][l][k].len() {
                    0 => x[l][k],
                    n => nb[dir][l][k].iter().map(|&j| x[other][j]).sum::<f64>() / n as f64,
                })
                .collect();
            let (mut right, mut leftward) = (want.clone(), want);
            for k in 1..right.len() {
                right[k] = right[k].max(right[k - 1] + gap(l, k));
            }
            for k in (1..leftward.len()).rev() {
                leftward[k - 1] = leftward[k - 1].min(leftward[k] - gap(l, k));
            }
            x[l] = right
                .iter()
                .zip(&leftward)
                .map(|(a, b)| (a + b) / 2.0)
                .collect();
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag_layout::layout;

    fn draw(nodes: &[&str], edges: &[(usize, usize)], standalone: bool) -> String {
        let nodes = nodes.iter().map(|s| s.to_string()).collect();
        let view = View {
            nodes,
            edges: edges.to_vec(),
        };
        let class = |v: usize| (v == 0).then(|| "stale".to_string());
        svg(&view, &layout(&view), &class, standalone)
    }

    #[test]
    fn nodes_and_edges_are_marked_up_for_the_page() {
        let s = draw(&["prep", "a&b", "<c>"], &[(0, 1), (0, 2), (1, 2)], false);
        assert!(
            s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{s}"
        );
        assert!(s.contains("<g class=\"node stale\" data-stage=\"prep\" id=\"node-0\">"));
        assert!(s.contains("<g class=\"node\" data-stage=\"a&amp;b\" id=\"node-1\">"));
        assert!(s.contains("<title>&lt;c&gt;</title>"));
        assert!(s.contains("data-from=\"a&amp;b\" data-to=\"&lt;c&gt;\""));
        assert_eq!(s.matches("<path class=\"edge\"").count(), 3);
        assert!(!s.contains("<style>") && s.contains("viewBox=\"0 0 "));
        assert!(!s.contains("NaN") && !s.contains("inf"), "{s}");
    }

    #[test]
    fn standalone_has_its_colours_and_background() {
        let s = draw(&["a"], &[], true);
        assert!(s.starts_with("<?xml") && s.ends_with("</svg>\n"));
        assert!(s.contains("<style>") && s.contains(".node.failed rect"));
        assert!(s.contains("class=\"background\""));
    }

    #[test]
    fn empty_self_loop_and_cycle_do_not_panic() {
        let empty = draw(&[], &[], true);
        assert!(empty.contains(">no stages</text>") && empty.ends_with("</svg>\n"));
        let looped = draw(&["feat", "train"], &[(0, 0), (0, 1), (1, 0)], false);
        assert_eq!(looped.matches("<path class=\"edge\"").count(), 3);
        assert!(!looped.contains("NaN"));
    }
}
