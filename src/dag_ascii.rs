//! ASCII drawing of the stage graph for `wf dag`: layered boxes, top to bottom.
//!
//! Layers and their order come from `dag_layout` (a dummy column wherever an edge skips a
//! layer); here x is pulled towards parents and children, then straightened.
//! Between two layers, parents with the same children share a net (fork, join or bus)
//! on a track of its own, and a child fed by several nets gets an arrow per net: lines
//! only meet (`+`) within a net, and elsewhere merely cross (`|` over `-`).

use std::collections::BTreeMap;

use crate::dag_layout::{Layout, Slot};
use crate::dag_render::View;

/// A box (a real node, `w` = label + 4) or a pass-through column (a dummy, `w` = 1).
struct Item {
    label: Option<String>,
    layer: usize,
    w: i64,
    x: i64,
}

/// One connected component: its items, their parents (`nb[0]`) and children
/// (`nb[1]`), always in the next layer up or down, and the order of each layer.
#[derive(Default)]
struct Comp {
    items: Vec<Item>,
    nb: [Vec<Vec<usize>>; 2],
    layers: Vec<Vec<usize>>,
}

impl Comp {
    fn add(&mut self, label: Option<String>, layer: usize) -> usize {
        let w = label.as_ref().map_or(1, |s| s.chars().count() as i64 + 4);
        let (x, depth) = (0, self.layers.len().max(layer + 1));
        self.items.push(Item { label, layer, w, x });
        self.nb.iter_mut().for_each(|nb| nb.push(Vec::new()));
        self.layers.resize(depth, Vec::new());
        self.layers[layer].push(self.items.len() - 1);
        self.items.len() - 1
    }

    fn mid(&self, i: usize) -> i64 {
        self.items[i].x + self.items[i].w / 2
    }

    /// Blank columns kept between neighbours: 3 between boxes, else 2.
    fn gap(&self, a: usize, b: usize) -> i64 {
        2 + i64::from(self.items[a].label.is_some() && self.items[b].label.is_some())
    }

    /// Index of every item within its layer.
    fn positions(&self) -> Vec<usize> {
        let mut pos = vec![0; self.items.len()];
        for ids in &self.layers {
            ids.iter().enumerate().for_each(|(k, &i)| pos[i] = k);
        }
        pos
    }
}

/// Draws the view top to bottom, with the layers and order of `layout`; each connected
/// component one after another. An edge that closes a cycle or loops on its node is left out.
pub(crate) fn render(view: &View, layout: &Layout) -> String {
    let mut pictures = Vec::new();
    for comp in &layout.components {
        let mut c = Comp::default();
        // Items by node, and by (edge, layer) for dummies.
        let (mut node, mut dummy) = (BTreeMap::new(), BTreeMap::new());
        for place in &comp.nodes {
            let label = view.nodes[place.node].replace(char::is_control, "?");
            node.insert(place.node, c.add(Some(label), place.layer));
        }
        for (e, route) in comp.edges.iter().enumerate() {
            let (Some(&first), Some(&last)) = (node.get(&route.from), node.get(&route.to)) else {
                continue;
            };
            if route.reversed || first == last {
                continue;
            }
            let mut chain = vec![first];
            for &(l, _) in route.points.iter().skip(1).take(route.points.len() - 2) {
                let id = c.add(None, l);
                dummy.insert((e, l), id);
                chain.push(id);
            }
            chain.push(last);
            for w in chain.windows(2) {
                c.nb[1][w[0]].push(w[1]);
                c.nb[0][w[1]].push(w[0]);
            }
        }
        // The order is the layout's; `add` only numbered the items.
        for (l, slots) in comp.layers.iter().enumerate() {
            let ids = slots.iter().filter_map(|slot| match *slot {
                Slot::Node(v) => node.get(&v).copied(),
                Slot::Dummy(e) => dummy.get(&(e, l)).copied(),
            });
            c.layers[l] = ids.collect();
        }
        place(&mut c);
        pictures.push(draw(&c));
    }
    pictures.join("\n")
}

/// Assigns x: packed, pulled alternately towards parents and children, straightened.
fn place(c: &mut Comp) {
    let nl = c.layers.len();
    let none = vec![Vec::new(); c.items.len()];
    (0..nl).for_each(|l| align(c, l, &none));
    for round in 0..9 {
        let nb = c.nb[round % 2].clone();
        (1..nl).for_each(|k| align(c, if round % 2 == 0 { k } else { nl - 1 - k }, &nb));
    }
    // Remove jogs, top down: move an item in line with a neighbour if there is room;
    // a dummy follows its parent any distance, a box moves up to two columns.
    let pos = c.positions();
    for i in c.layers.concat() {
        let (ids, k, own) = (&c.layers[c.items[i].layer], pos[i], c.mid(i));
        let left = k.checked_sub(1).and_then(|j| ids.get(j));
        let lo = left.map_or(i64::MIN, |&a| c.items[a].x + c.items[a].w + c.gap(a, i));
        let right = ids.get(k + 1);
        let hi = right.map_or(i64::MAX, |&b| c.items[b].x - c.gap(i, b) - c.items[i].w);
        let boxed = c.items[i].label.is_some();
        let mut nbs: Vec<i64> = c.nb[0][i].iter().map(|&j| c.mid(j)).collect();
        nbs.extend(c.nb[1][i].iter().filter(|_| boxed).map(|&j| c.mid(j)));
        let reach = if boxed { 2 } else { i64::MAX };
        let mut near = nbs.iter().filter(|&&x| (x - own).abs() <= reach);
        let fit = near.find(|&&x| (lo..=hi).contains(&(c.items[i].x + x - own)));
        if let Some(x) = fit.filter(|_| !nbs.contains(&own)) {
            c.items[i].x += x - own;
        }
    }
    let min = c.items.iter().map(|it| it.x).min().unwrap_or(0);
    c.items.iter_mut().for_each(|it| it.x -= min);
}

/// Moves layer `l` towards the mean centre of each item's `nb`, keeping order and
/// gaps: the average of the layer pushed apart rightwards and pushed apart leftwards.
fn align(c: &mut Comp, l: usize, nb: &[Vec<usize>]) {
    let ids = c.layers[l].clone();
    let mut want = Vec::new();
    for &i in &ids {
        let sum: i64 = nb[i].iter().map(|&j| c.mid(j)).sum();
        want.push(match nb[i].len() {
            0 => c.items[i].x,
            n => sum.div_euclid(n as i64) - c.items[i].w / 2,
        });
    }
    let (mut right, mut left) = (want.clone(), want);
    for k in 1..ids.len() {
        let space = c.items[ids[k - 1]].w + c.gap(ids[k - 1], ids[k]);
        right[k] = right[k].max(right[k - 1] + space);
    }
    for k in (1..ids.len()).rev() {
        let space = c.items[ids[k - 1]].w + c.gap(ids[k - 1], ids[k]);
        left[k - 1] = left[k - 1].min(left[k] - space);
    }
    for (k, &i) in ids.iter().enumerate() {
        c.items[i].x = (right[k] + left[k]).div_euclid(2);
    }
}

/// Rows of chars; `put` keeps the stronger line char: `v` > `+` > `|` > `-`.
struct Canvas(Vec<Vec<char>>);

impl Canvas {
    fn put(&mut self, r: usize, x: i64, ch: char) {
        let rank = |ch: char| "-|+v".find(ch).map_or(0, |k| k + 1);
        let x = usize::try_from(x).unwrap_or(0);
        self.0.resize(self.0.len().max(r + 1), Vec::new());
        let line = &mut self.0[r];
        line.resize(line.len().max(x + 1), ' ');
        if rank(ch) >= rank(line[x]) {
            line[x] = ch;
        }
    }
}

fn draw(c: &Comp) -> String {
    let (mut cv, mut row) = (Canvas(Vec::new()), 0);
    for (l, ids) in c.layers.iter().enumerate() {
        for it in ids.iter().map(|&i| &c.items[i]) {
            let Some(label) = &it.label else {
                (row..row + 3).for_each(|r| cv.put(r, it.x, '|'));
                continue;
            };
            let rule = format!("+{}+", "-".repeat(label.chars().count() + 2));
            for (r, text) in [&rule, &format!("| {label} |"), &rule].iter().enumerate() {
                let cells = (it.x..).zip(text.chars());
                cells.for_each(|(x, ch)| cv.put(row + r, x, ch));
            }
        }
        row += 3;
        if l + 1 < c.layers.len() {
            row += band(c, l, row, &mut cv);
        }
    }
    let lines = cv.0.iter().map(|line| line.iter().collect::<String>());
    lines.map(|line| format!("{}\n", line.trim_end())).collect()
}

/// Parents with the same children: the parents' columns, and the columns where
/// the lines reach the children with their tips (`v`, or `|` into a dummy).
#[derive(Default)]
struct Net {
    up: Vec<i64>,
    dn: Vec<i64>,
    tip: Vec<char>,
}

/// Draws the routing band under layer `l`, from row `r0`; returns its height.
fn band(c: &Comp, l: usize, r0: usize, cv: &mut Canvas) -> usize {
    let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for &p in c.layers[l].iter().filter(|&&p| !c.nb[1][p].is_empty()) {
        let mut kids = c.nb[1][p].clone();
        kids.sort_unstable();
        groups.entry(kids).or_default().push(p);
    }
    let mut nets: Vec<Net> = groups.values().map(|_| Net::default()).collect();
    for (net, ps) in nets.iter_mut().zip(groups.values()) {
        net.up = ps.iter().map(|&p| c.mid(p)).collect();
    }
    // A child fed by several nets gets an arrow per net, two columns apart (one if the
    // box is narrow), each near that net's parents; a single arrow drops straight if
    // it can, else into the middle. Arrows avoid other nets' parent columns.
    for &q in c.layers.get(l + 1).into_iter().flatten() {
        let (x, w, boxed) = (c.items[q].x, c.items[q].w, c.items[q].label.is_some());
        let (lo, hi) = (x + i64::from(boxed), x + w - 1 - i64::from(boxed));
        let mut feeds = Vec::new();
        for (k, _) in groups.keys().enumerate().filter(|g| g.1.contains(&q)) {
            let mean = nets[k].up.iter().sum::<i64>() / nets[k].up.len().max(1) as i64;
            feeds.push((mean, k));
        }
        feeds.sort_unstable();
        let (n, mut prev) = (feeds.len() as i64, i64::MIN);
        let step = if 2 * (n - 1) <= hi - lo { 2 } else { 1 };
        for (i, &(mean, k)) in (0..).zip(&feeds) {
            let straight = n > 1 || (lo..=hi).contains(&mean);
            let want = if straight { mean } else { c.mid(q) };
            let other = |x: &i64| (0..nets.len()).any(|j| j != k && nets[j].up.contains(x));
            let range = lo.max(prev.saturating_add(step))..=hi - step * (n - 1 - i);
            let best = range.min_by_key(|x| (other(x), (x - want).abs()));
            prev = best.unwrap_or(want.max(prev).min(hi).max(lo));
            nets[k].dn.push(prev);
            nets[k].tip.push(if boxed { 'v' } else { '|' });
        }
    }
    // Tracks, first fit: a straight net needs none; a net whose parent line comes down
    // the column of another net's arrow sits two tracks above it (corners never touch).
    let span = |n: &Net| {
        let xs = || n.up.iter().chain(&n.dn).copied();
        (xs().min().unwrap_or(0), xs().max().unwrap_or(0))
    };
    let (m, spans): (usize, Vec<(i64, i64)>) = (nets.len(), nets.iter().map(span).collect());
    let routed = |k: usize| spans[k].0 < spans[k].1;
    let feeds = |a: usize, b: usize| a != b && nets[a].up.iter().any(|x| nets[b].dn.contains(x));
    let mut track: Vec<Option<usize>> = vec![None; m];
    for _ in 0..m {
        let free = |b: &usize| routed(*b) && track[*b].is_none();
        let ready = |b: &usize| !(0..m).any(|a| free(&a) && feeds(a, *b));
        let pick = (0..m).filter(free).find(ready);
        let Some(b) = pick.or_else(|| (0..m).find(free)) else {
            break;
        };
        let above = (0..m).filter(|&a| feeds(a, b)).filter_map(|a| track[a]);
        let (mut t, (lo, hi)) = (above.map(|t| t + 2).max().unwrap_or(0), spans[b]);
        let near = |a: usize| spans[a].0 <= hi + 2 && lo <= spans[a].1 + 2;
        while (0..m).any(|a| track[a] == Some(t) && near(a)) {
            t += 1;
        }
        track[b] = Some(t);
    }
    let height = track.iter().flatten().max().map_or(2, |t| t + 4);
    let arrow = r0 + height - 1;
    for (net, t) in nets.iter().zip(&track) {
        let tr = t.map_or(arrow, |t| r0 + 1 + t);
        for &x in &net.up {
            (r0..tr).for_each(|r| cv.put(r, x, '|'));
        }
        for (&x, &tip) in net.dn.iter().zip(&net.tip) {
            (tr + 1..arrow).for_each(|r| cv.put(r, x, '|'));
            cv.put(arrow, x, tip);
        }
        if let Some((lo, hi)) = t.map(|_| span(net)) {
            (lo..=hi).for_each(|x| cv.put(tr, x, '-'));
            for &x in net.up.iter().chain(&net.dn) {
                cv.put(tr, x, '+');
            }
        }
    }
    height
}

#[cfg(test)]
mod tests {
    use crate::dag_layout::layout;
    use crate::dag_render::View;

    fn render(nodes: &[String], edges: &[(usize, usize)]) -> String {
        let (nodes, edges) = (nodes.to_vec(), edges.to_vec());
        let view = View { nodes, edges };
        super::render(&view, &layout(&view))
    }

    /// "a b c | 0-1 1-2": labels, then edges as from-to indices.
    fn graph(spec: &str) -> (Vec<String>, Vec<(usize, usize)>) {
        let (labels, edges) = spec.split_once('|').unwrap_or((spec, ""));
        let nodes = labels.split_whitespace().map(String::from).collect();
        let edge = |e: &str| e.split_once('-').map(|(a, b)| (a.parse(), b.parse()));
        let edges = edges.split_whitespace().filter_map(edge);
        let edges = edges.filter_map(|e| Some((e.0.ok()?, e.1.ok()?))).collect();
        (nodes, edges)
    }

    /// Every label sits in exactly one well-formed box; no trailing blanks; stable.
    fn check_boxes(nodes: &[String], edges: &[(usize, usize)]) {
        let out = render(nodes, edges);
        let lines: Vec<&str> = out.lines().collect();
        assert!(out.is_empty() || out.ends_with('\n'));
        assert!(lines.iter().all(|l| l.trim_end() == *l) && out == render(nodes, edges));
        for label in nodes {
            let text = format!("| {label} |");
            let rule = format!("+{}+", "-".repeat(text.chars().count() - 2));
            let mut hits = Vec::new();
            for (r, line) in lines.iter().enumerate() {
                for (b, _) in line.match_indices(&text) {
                    hits.push((r, line[..b].chars().count()));
                }
            }
            assert_eq!(hits.len(), 1, "{label} in\n{out}");
            let (r, x) = hits[0];
            for border in [lines[r - 1], lines[r + 1]] {
                let boxed = border.get(x..).is_some_and(|b| b.starts_with(&rule));
                assert!(boxed, "{label} in\n{out}");
            }
        }
    }

    /// Small graphs: "== name: graph" lines, each followed by its exact drawing.
    const DRAWINGS: &str = r"
== empty graph: |
== single node: a |
+---+
| a |
+---+
== chain: a b c | 0-1 1-2
+---+
| a |
+---+
  |
  v
+---+
| b |
+---+
  |
  v
+---+
| c |
+---+
== fork: a b c | 0-1 0-2
    +---+
    | a |
    +---+
      |
  +---+---+
  |       |
  v       v
+---+   +---+
| b |   | c |
+---+   +---+
== join: a b c | 0-2 1-2
+---+   +---+
| a |   | b |
+---+   +---+
  |       |
  +---+---+
      |
      v
    +---+
    | c |
    +---+
== diamond: prepare feat@a feat@b train | 0-1 0-2 1-3 2-3
       +---------+
       | prepare |
       +---------+
            |
     +------+-----+
     |            |
     v            v
+--------+   +--------+
| feat@a |   | feat@b |
+--------+   +--------+
     |            |
     +-----+------+
           |
           v
       +-------+
       | train |
       +-------+
== edge skipping a layer runs beside the box: prep train eval | 0-1 1-2 0-2
    +------+
    | prep |
    +------+
        |
    +---+--+
    |      |
    v      |
+-------+  |
| train |  |
+-------+  |
    |      |
    +--+---+
       |
       v
   +------+
   | eval |
   +------+
== components, by lowest index: x a b | 1-2
+---+
| x |
+---+

+---+
| a |
+---+
  |
  v
+---+
| b |
+---+
== a child fed by two nets gets an arrow from each: a b x y | 0-2 1-2 1-3
+---+     +---+
| a |     | b |
+---+     +---+
  |         |
 ++         |
 | +--------+
 | |        |
 v v        v
+---+     +---+
| x |     | y |
+---+     +---+
";

    #[test]
    fn small_graphs_are_drawn_exactly() {
        let mut failed = Vec::new();
        for case in DRAWINGS.trim_end().split("\n== ").skip(1) {
            let (head, want) = case.split_once('\n').unwrap_or((case, ""));
            let (name, spec) = head.split_once(": ").unwrap_or_default();
            let (nodes, edges) = graph(spec);
            let got = render(&nodes, &edges);
            if got.trim_end() != want {
                failed.push(format!("{name}, got:\n{got}"));
            }
            check_boxes(&nodes, &edges);
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn wide_fan_out() {
        let nodes: Vec<String> = (0..13).map(|k| format!("stage-{k}")).collect();
        let edges: Vec<(usize, usize)> = (1..13).map(|k| (0, k)).collect();
        check_boxes(&nodes, &edges);
        let out = render(&nodes, &edges);
        let most = |pat: &str| out.lines().map(|l| l.matches(pat).count()).max();
        let most = [most("| stage-"), most("v"), most("+")];
        assert_eq!(most, [Some(12), Some(12), Some(24)], "{out}");
    }

    #[test]
    fn every_label_in_one_box() {
        let (nodes, edges) = graph(
            "data/raw.dvc prepare feat@tfidf feat@bow train:gpu-1 train.cpu eval@tfidf eval@bow \
             compare report ünïcødé x | 0-1 1-2 1-3 2-4 3-5 4-6 5-7 2-6 3-7 6-8 7-8 8-9 1-9",
        );
        check_boxes(&nodes, &edges);
        // Bad input must not panic: cycles, self loops, duplicates, out of range.
        let bad = [(0, 1), (1, 0), (2, 2), (0, 1), (1, 7), (9, 0)];
        check_boxes(&nodes[..4], &bad);
        let mut seed = 7u64; // pseudo-random graphs, up to 50 nodes
        for n in [5, 20, 35, 50] {
            let nodes: Vec<String> = (0..n).map(|k| format!("s{k}")).collect();
            let mut edges = Vec::new();
            for (a, b) in (0..n).flat_map(|a| (a + 1..n.min(a + 8)).map(move |b| (a, b))) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                if seed >> 62 == 0 {
                    edges.push((a, b));
                }
            }
            check_boxes(&nodes, &edges);
        }
    }
}
