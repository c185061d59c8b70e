//! The layered layout of the stage graph (`View` ──layout──▶ `Layout`), shared by the ASCII
//! drawing of `wf dag`, `wf dag --svg` and the web UI: which layer each node sits in, its order
//! within the layer, and the slots each edge passes through.
//!
//! Sugiyama's method, as Graphviz's `dot` does it in outline: an edge that closes a cycle (a
//! valid pipeline has none, a collapsed view can) is turned round; each node goes to the layer
//! of its longest path from a root; an edge that skips layers gets a dummy slot in every layer
//! it crosses; barycenter sweeps down and up, then swaps of neighbours, keep the ordering with
//! the fewest crossings. Deterministic: ties keep the current order.

use crate::dag_render::View;

/// Barycenter sweeps (alternately down and up) before the swaps of neighbours.
const SWEEPS: usize = 8;
/// Passes of swaps of neighbours at most (each pass removes at least one crossing).
const SWAP_PASSES: usize = 24;

/// A slot of a layer: a node of the view, or a point of a long edge in a layer it crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A node, by its index in `View::nodes`.
    Node(usize),
    /// A dummy point of the edge `Component::edges[i]`.
    Dummy(usize),
}

/// Where a node of the view sits within its component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The node, by its index in `View::nodes`.
    pub node: usize,
    /// Its layer, 0 at the top.
    pub layer: usize,
    /// Its position within the layer (dummies count), 0 at the left.
    pub order: usize,
}

/// An edge of the view and the slots it goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The writer, by its index in `View::nodes`.
    pub from: usize,
    /// The reader, by its index in `View::nodes`.
    pub to: usize,
    /// The edge closes a cycle, so it goes up, from a later layer to an earlier one.
    pub reversed: bool,
    /// (layer, position) from `from`'s slot to `to`'s, one per layer, dummies between; a
    /// self-loop (a collapsed group feeding itself) has its node's twice.
    pub points: Vec<(usize, usize)>,
}

/// One connected part of the graph, with its own layers numbered from 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Component {
    /// Each layer, top to bottom, with its slots left to right.
    pub layers: Vec<Vec<Slot>>,
    /// Its nodes, in ascending index.
    pub nodes: Vec<Place>,
    /// Its edges, sorted by (from, to), without duplicates.
    pub edges: Vec<Route>,
}

/// The layout of a whole view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// The connected components, drawn one after another, in the order of their lowest node.
    pub components: Vec<Component>,
}

impl Layout {
    /// The component (by its index) and the place of a node, if the view has it.
    pub fn place(&self, node: usize) -> Option<(usize, Place)> {
        self.components.iter().enumerate().find_map(|(c, comp)| {
            let k = comp.nodes.binary_search_by_key(&node, |p| p.node).ok()?;
            Some((c, comp.nodes[k]))
        })
    }
}

/// Lays the view out: layers, an order with few crossings, and the route of every edge.
/// Edges to nodes the view does not have are left out.
pub fn layout(view: &View) -> Layout {
    build(view, SWEEPS)
}

/// The number of pairs of edge segments that cross between two neighbouring layers.
pub fn crossings(layout: &Layout) -> usize {
    let mut total = 0;
    for comp in &layout.components {
        let mut between = vec![Vec::new(); comp.layers.len()];
        for route in &comp.edges {
            for w in route.points.windows(2) {
                let (a, b) = if w[0].0 <= w[1].0 {
                    (w[0], w[1])
                } else {
                    (w[1], w[0])
                };
                if a.0 + 1 == b.0 {
                    between[a.0].push((a.1, b.1));
                }
            }
        }
        total += between.iter_mut().map(|s| inversions(s)).sum::<usize>();
    }
    total
}

/// The crossings among segments given as (upper position, lower position): pairs whose
/// lower ends are in the other order than their upper ends (a shared end is no crossing).
fn inversions(segments: &mut [(usize, usize)]) -> usize {
    segments.sort_unstable();
    // A Fenwick tree over lower positions: for each segment, how many before it end further right.
    let size = segments.iter().map(|s| s.1 + 1).max().unwrap_or(0);
    let (mut tree, mut count) = (vec![0usize; size + 1], 0);
    for (seen, &(_, b)) in segments.iter().enumerate() {
        let mut k = b + 1;
        let mut at_most = 0;
        while k > 0 {
            at_most += tree[k];
            k &= k - 1;
        }
        count += seen - at_most;
        let mut k = b + 1;
        while k <= size {
            tree[k] += 1;
            k += k & k.wrapping_neg();
        }
    }
    count
}

/// The layout after `sweeps` barycenter sweeps (0: the first order, nodes by index, then
/// dummies by edge).
pub(crate) fn build(view: &View, sweeps: usize) -> Layout {
    let n = view.nodes.len();
    let mut edges: Vec<(usize, usize)> = view.edges.clone();
    edges.retain(|&(a, b)| a < n && b < n);
    edges.sort_unstable();
    edges.dedup();
    // Components by union-find, each named by its lowest node.
    let mut root: Vec<usize> = (0..n).collect();
    let find = |root: &mut Vec<usize>, mut v: usize| {
        while root[v] != v {
            root[v] = root[root[v]];
            v = root[v];
        }
        v
    };
    for &(a, b) in &edges {
        let (ra, rb) = (find(&mut root, a), find(&mut root, b));
        root[ra.max(rb)] = ra.min(rb);
    }
    let mut index = vec![usize::MAX; n];
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut inside: Vec<Vec<(usize, usize)>> = Vec::new();
    for v in 0..n {
        let r = find(&mut root, v);
        if index[r] == usize::MAX {
            index[r] = members.len();
            members.push(Vec::new());
            inside.push(Vec::new());
        }
        members[index[r]].push(v);
    }
    for &(a, b) in &edges {
        let r = find(&mut root, a);
        inside[index[r]].push((a, b));
    }
    let components = (members.iter().zip(&inside))
        .map(|(members, edges)| component(members, edges, sweeps))
        .collect();
    Layout { components }
}

/// The slots of one component, as the ordering sees them: ids `0..m` are its nodes (in
/// ascending index), dummies follow; `up`/`down` are each slot's neighbours one layer up/down.
struct Grid {
    layers: Vec<Vec<usize>>,
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
}

impl Grid {
    fn positions(&self) -> Vec<usize> {
        let mut pos = vec![0; self.up.len()];
        for ids in &self.layers {
            ids.iter().enumerate().for_each(|(k, &i)| pos[i] = k);
        }
        pos
    }

    fn crossings(&self) -> usize {
        let pos = self.positions();
        let mut total = 0;
        for ids in &self.layers {
            let mut segs: Vec<(usize, usize)> = Vec::new();
            for &a in ids {
                segs.extend(self.down[a].iter().map(|&b| (pos[a], pos[b])));
            }
            total += inversions(&mut segs);
        }
        total
    }

    /// Barycenter sweeps, down and up, keeping the order with the fewest crossings; then swaps
    /// of neighbours while one removes crossings.
    fn order(&mut self, sweeps: usize) {
        let nl = self.layers.len();
        let mut best = (self.crossings(), self.layers.clone());
        for sweep in 0..sweeps {
            let down = sweep % 2 == 0;
            for k in 1..nl {
                let pos = self.positions();
                let nb = if down { &self.up } else { &self.down };
                let key = |&i: &usize| match nb[i].len() {
                    0 => pos[i] as f64,
                    n => nb[i].iter().map(|&j| pos[j] as f64).sum::<f64>() / n as f64,
                };
                let l = if down { k } else { nl - 1 - k };
                let mut ids = self.layers[l].clone();
                ids.sort_by(|a, b| key(a).total_cmp(&key(b)));
                self.layers[l] = ids;
            }
            let count = self.crossings();
            if count < best.0 {
                best = (count, self.layers.clone());
            }
        }
        self.layers = best.1;
        if sweeps > 0 && best.0 > 0 {
            self.swap_neighbours();
        }
    }

    /// Swaps two neighbours of a layer wherever that removes crossings, until none does (or
    /// for a bounded number of passes).
    fn swap_neighbours(&mut self) {
        let mut pos = self.positions();
        for _ in 0..SWAP_PASSES {
            let mut improved = false;
            for l in 0..self.layers.len() {
                for k in 1..self.layers[l].len() {
                    let (u, v) = (self.layers[l][k - 1], self.layers[l][k]);
                    let cost = |a: usize, b: usize| {
                        let pairs = |nb: &Vec<Vec<usize>>| {
                            let ahead =
                                |x: usize| nb[b].iter().filter(|&&y| pos[x] > pos[y]).count();
                            nb[a].iter().map(|&x| ahead(x)).sum::<usize>()
                        };
                        pairs(&self.up) + pairs(&self.down)
                    };
                    if cost(u, v) > cost(v, u) {
                        self.layers[l].swap(k - 1, k);
                        (pos[u], pos[v]) = (k, k - 1);
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }
}

/// Lays out one connected component: `members` ascending, `edges` sorted, all within it.
fn component(members: &[usize], edges: &[(usize, usize)], sweeps: usize) -> Component {
    let m = members.len();
    let local = |v: usize| members.binary_search(&v).unwrap_or(0);
    let les: Vec<(usize, usize)> = edges.iter().map(|&(a, b)| (local(a), local(b))).collect();
    let reversed = back_edges(m, &les);
    // Longest path from a root, in topological order (Kahn's), edges turned as they go.
    let dir = |e: usize| {
        let (a, b) = les[e];
        if reversed[e] { (b, a) } else { (a, b) }
    };
    let mut out = vec![Vec::new(); m];
    let mut indegree = vec![0usize; m];
    for e in (0..les.len()).filter(|&e| les[e].0 != les[e].1) {
        let (a, b) = dir(e);
        out[a].push(b);
        indegree[b] += 1;
    }
    let mut layer = vec![0usize; m];
    let mut ready: Vec<usize> = (0..m).filter(|&v| indegree[v] == 0).rev().collect();
    while let Some(v) = ready.pop() {
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(w);
            }
        }
    }
    let depth = layer.iter().max().map_or(0, |d| d + 1);
    let mut grid = Grid {
        layers: vec![Vec::new(); depth],
        up: vec![Vec::new(); m],
        down: vec![Vec::new(); m],
    };
    (0..m).for_each(|v| grid.layers[layer[v]].push(v));
    // Each edge's chain of slots, top down; dummies numbered after the nodes, by edge.
    let mut dummy_edge = Vec::new();
    let mut chains: Vec<Vec<usize>> = Vec::new();
    for e in 0..les.len() {
        let (a, b) = dir(e);
        let mut chain = vec![a];
        for l in layer[a] + 1..layer[b] {
            let id = m + dummy_edge.len();
            dummy_edge.push(e);
            grid.layers[l].push(id);
            grid.up.push(Vec::new());
            grid.down.push(Vec::new());
            chain.push(id);
        }
        chain.push(b);
        if a != b {
            for w in chain.windows(2) {
                grid.down[w[0]].push(w[1]);
                grid.up[w[1]].push(w[0]);
            }
        }
        chains.push(chain);
    }
    grid.order(sweeps);
    let pos = grid.positions();
    let slot = |i: usize| match i.checked_sub(m) {
        None => Slot::Node(members[i]),
        Some(d) => Slot::Dummy(dummy_edge[d]),
    };
    let mut slot_layer = vec![0; grid.up.len()];
    for (l, ids) in grid.layers.iter().enumerate() {
        ids.iter().for_each(|&i| slot_layer[i] = l);
    }
    let routes = chains
        .iter()
        .enumerate()
        .map(|(e, chain)| {
            let mut points: Vec<(usize, usize)> =
                chain.iter().map(|&i| (slot_layer[i], pos[i])).collect();
            if reversed[e] {
                points.reverse();
            }
            Route {
                from: edges[e].0,
                to: edges[e].1,
                reversed: reversed[e],
                points,
            }
        })
        .collect();
    Component {
        layers: grid
            .layers
            .iter()
            .map(|ids| ids.iter().map(|&i| slot(i)).collect())
            .collect(),
        nodes: (0..m)
            .map(|v| Place {
                node: members[v],
                layer: layer[v],
                order: pos[v],
            })
            .collect(),
        edges: routes,
    }
}

/// The edges a depth-first search (nodes and edges in order) finds closing a cycle; turning
/// them round leaves the graph acyclic. A self-loop is left as it is.
fn back_edges(m: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut out = vec![Vec::new(); m];
    for (e, &(a, b)) in edges.iter().enumerate() {
        if a != b {
            out[a].push(e);
        }
    }
    let (mut state, mut back) = (vec![0u8; m], vec![false; edges.len()]);
    for start in 0..m {
        if state[start] != 0 {
            continue;
        }
        state[start] = 1;
        let mut stack = vec![(start, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (v, k) = *top;
            let Some(&e) = out[v].get(k) else {
                state[v] = 2;
                stack.pop();
                continue;
            };
            top.1 += 1;
            let w = edges[e].1;
            match state[w] {
                0 => {
                    state[w] = 1;
                    stack.push((w, 0));
                }
                1 => back[e] = true,
                _ => {}
            }
        }
    }
    back
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "a b c | 0-1 1-2": labels, then edges as from-to indices.
    fn view(spec: &str) -> View {
        let (labels, edges) = spec.split_once('|').unwrap_or((spec, ""));
        let edge = |e: &str| {
            let (a, b) = e.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        View {
            nodes: labels.split_whitespace().map(String::from).collect(),
            edges: edges.split_whitespace().filter_map(edge).collect(),
        }
    }

    /// Pseudo-random acyclic graphs of up to 50 nodes, edges to the next few nodes.
    fn random_views() -> Vec<View> {
        let mut seed = 7u64;
        let mut out = Vec::new();
        for n in [5, 12, 20, 35, 50] {
            let mut edges = Vec::new();
            for (a, b) in (0..n).flat_map(|a| (a + 1..n.min(a + 8)).map(move |b| (a, b))) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                if seed >> 62 == 0 {
                    edges.push((a, b));
                }
            }
            let nodes = (0..n).map(|k| format!("s{k}")).collect();
            out.push(View { nodes, edges });
        }
        out
    }

    const DIAMOND: &str = "prepare feat@a feat@b feat@c train other | 0-1 0-2 0-3 1-4 2-4 3-4";

    /// The Iris pipeline of `specs/`, as `wf -C specs dag` sees it.
    fn iris() -> View {
        use crate::repo_path::RepoPath;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let specs = RepoPath::root().join("specs").unwrap();
        let p = crate::spec::Pipeline::load(root, &specs, &[]).unwrap();
        let dag = crate::dag::Dag::build(&p).unwrap();
        crate::dag_render::view(&p, &dag, &crate::dag_render::ViewOptions::default())
    }

    /// The invariants of any layout: each layer a permutation; each node where its place
    /// says; each edge from its writer to its reader, one layer a step (down, or up when it
    /// closes a cycle), through one dummy of its own per skipped layer.
    #[track_caller]
    fn check(v: &View, sweeps: usize) {
        let l = &build(v, sweeps);
        let mut seen = vec![0; v.nodes.len()];
        let mut lowest = None;
        for comp in &l.components {
            assert!(
                comp.nodes.first().map(|p| p.node) > lowest,
                "components in order"
            );
            lowest = comp.nodes.first().map(|p| p.node);
            for place in &comp.nodes {
                seen[place.node] += 1;
                assert_eq!(
                    comp.layers[place.layer][place.order],
                    Slot::Node(place.node)
                );
            }
            let slots: usize = comp.layers.iter().map(Vec::len).sum();
            let dummies: usize = comp.edges.iter().map(|r| r.points.len() - 2).sum();
            assert_eq!(
                slots,
                comp.nodes.len() + dummies,
                "every slot is a node or a dummy"
            );
            for (e, r) in comp.edges.iter().enumerate() {
                let at = |p: (usize, usize)| comp.layers[p.0][p.1];
                let (first, last) = (r.points[0], r.points[r.points.len() - 1]);
                assert_eq!(
                    (at(first), at(last)),
                    (Slot::Node(r.from), Slot::Node(r.to))
                );
                if r.from == r.to {
                    assert_eq!(r.points, [first, first]);
                    continue;
                }
                for w in r.points.windows(2) {
                    let step = if r.reversed { w[1].0 + 1 } else { w[1].0 - 1 };
                    assert_eq!(w[0].0, step, "one layer a step: {r:?}");
                }
                for &p in &r.points[1..r.points.len() - 1] {
                    assert_eq!(at(p), Slot::Dummy(e));
                }
            }
        }
        assert!(
            seen.iter().all(|&k| k == 1),
            "every node placed once: {seen:?}"
        );
        assert_eq!(l, &build(v, sweeps), "deterministic");
    }

    #[test]
    fn layouts_keep_their_invariants() {
        let mut views = random_views();
        for spec in [
            "",
            "a",
            DIAMOND,
            "prep train eval | 0-1 1-2 0-2",
            "x a b | 1-2",
            "a b c d | 0-1 1-0 2-2 0-1 1-9 3-2 2-3",
        ] {
            views.push(view(spec));
        }
        views.push(iris());
        for v in &views {
            check(v, SWEEPS);
            check(v, 0);
        }
    }

    #[test]
    fn acyclic_edges_go_down() {
        for v in random_views() {
            let l = layout(&v);
            let routes = l.components.iter().flat_map(|c| &c.edges);
            assert!(routes.clone().all(|r| !r.reversed));
            assert_eq!(routes.count(), v.edges.len());
        }
    }

    #[test]
    fn a_cycle_is_turned_round_not_dropped() {
        let v = view("a b c | 0-1 1-2 2-0 1-1");
        let l = layout(&v);
        let routes: Vec<&Route> = l.components[0].edges.iter().collect();
        assert_eq!(routes.len(), 4);
        assert_eq!(routes.iter().filter(|r| r.reversed).count(), 1);
    }

    #[test]
    fn iris_and_diamond_have_no_crossings() {
        assert_eq!(crossings(&layout(&iris())), 0);
        assert_eq!(crossings(&layout(&view(DIAMOND))), 0);
        for spec in ["prep train eval | 0-1 1-2 0-2", "a b x y | 0-2 1-2 1-3"] {
            assert_eq!(crossings(&layout(&view(spec))), 0, "{spec}");
        }
    }

    #[test]
    fn sweeps_remove_the_crossings_of_the_first_order() {
        // Two chains from one root whose readers are numbered the other way round.
        let chains = view("r a1 b1 b2 a2 | 0-1 0-2 1-4 2-3");
        assert_eq!(crossings(&build(&chains, 0)), 1);
        assert_eq!(crossings(&layout(&chains)), 0);
        // Three chains crossed, and a long edge through them.
        let tangle = view("r a b c z y x end | 0-1 0-2 0-3 1-6 2-5 3-4 4-7 5-7 6-7 0-7");
        assert_eq!(crossings(&build(&tangle, 0)), 3);
        assert_eq!(crossings(&layout(&tangle)), 0);
        // Random graphs never get worse.
        for v in random_views() {
            assert!(crossings(&layout(&v)) <= crossings(&build(&v, 0)));
        }
    }

    #[test]
    fn crossings_are_counted_once_per_pair() {
        let mut segs = [(0, 2), (1, 1), (2, 0), (0, 0)];
        assert_eq!(inversions(&mut segs), 3);
        assert_eq!(inversions(&mut []), 0);
    }

    #[test]
    fn place_finds_a_node() {
        let v = view("x a b | 1-2");
        let l = layout(&v);
        assert_eq!(l.place(2).map(|(c, p)| (c, p.layer)), Some((1, 1)));
        assert_eq!(l.place(9), None);
    }
}
