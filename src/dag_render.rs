//! The view of the stage graph for `wf dag` (which nodes and edges), and DVC's renderings of
//! it: `--dot` and `--mermaid`. The layered drawings are `dag_ascii` and `dag_svg`.

use std::collections::{BTreeMap, BTreeSet};

use crate::dag::Dag;
use crate::spec::Pipeline;

/// What to draw: labelled nodes and (producer, consumer) edges.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct View {
    /// Node labels.
    pub nodes: Vec<String>,
    /// Edges as indices into `nodes`, from the writer to the reader.
    pub edges: Vec<(usize, usize)>,
}

/// How to build the view.
#[derive(Debug, Default)]
pub struct ViewOptions {
    /// Stages to focus on (with their upstream), or all.
    pub targets: Option<Vec<usize>>,
    /// With targets: their whole connected pipeline instead of their upstream only.
    pub full: bool,
    /// Out paths as nodes instead of stages.
    pub outs: bool,
    /// A foreach/matrix group as one node.
    pub collapse: bool,
}

/// Builds the view of the graph asked for.
pub fn view(p: &Pipeline, dag: &Dag, opts: &ViewOptions) -> View {
    let keep: BTreeSet<usize> = match &opts.targets {
        None => (0..p.stages.len()).collect(),
        Some(t) if opts.full => dag.component(t),
        Some(t) => dag.ancestors(t),
    };
    let mut v = if opts.outs {
        outs_view(p, &keep)
    } else {
        stage_view(p, dag, &keep)
    };
    if opts.collapse {
        v = collapse(&v);
    }
    v
}

fn stage_view(p: &Pipeline, dag: &Dag, keep: &BTreeSet<usize>) -> View {
    let index: BTreeMap<usize, usize> = keep.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    View {
        nodes: keep.iter().map(|&s| p.stages[s].address()).collect(),
        edges: dag
            .edges()
            .into_iter()
            .filter_map(|(a, b)| Some((*index.get(&a)?, *index.get(&b)?)))
            .collect(),
    }
}

/// As DVC's `--outs`: every out is a node, and each out of a reading stage gets an edge from
/// every out it reads.
fn outs_view(p: &Pipeline, keep: &BTreeSet<usize>) -> View {
    let mut v = View::default();
    let mut ids: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for &s in keep {
        for (o, out) in p.stages[s].outs.iter().enumerate() {
            ids.insert((s, o), v.nodes.len());
            v.nodes.push(out.entry.path.to_string());
        }
    }
    let mut edges = BTreeSet::new();
    for &s in keep {
        let stage = &p.stages[s];
        for dep in stage
            .deps
            .iter()
            .filter_map(|d| d.path.repo())
            .chain(stage.params.iter().map(|p| &p.file))
        {
            for (&(ps, po), &from) in &ids {
                let out = &p.stages[ps].outs[po].entry.path;
                if dep.is_within(out) || out.is_within(dep) {
                    for o in 0..p.stages[s].outs.len() {
                        if let Some(&to) = ids.get(&(s, o)) {
                            edges.insert((from, to));
                        }
                    }
                }
            }
        }
    }
    v.edges = edges.into_iter().collect();
    v
}

/// Merges `group@key` nodes into `group`, as DVC's `--collapse-foreach-matrix`; members of one
/// group feeding each other become a self-loop, as in DVC.
fn collapse(v: &View) -> View {
    let mut out = View::default();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let map: Vec<usize> = v
        .nodes
        .iter()
        .map(|n| {
            let name = n.split('@').next().unwrap_or(n).to_string();
            *ids.entry(name.clone()).or_insert_with(|| {
                out.nodes.push(name);
                out.nodes.len() - 1
            })
        })
        .collect();
    let edges: BTreeSet<(usize, usize)> = v.edges.iter().map(|&(a, b)| (map[a], map[b])).collect();
    out.edges = edges.into_iter().collect();
    out
}

/// `dvc dag --dot`: a strict digraph with every node, then every edge.
pub fn dot(v: &View) -> String {
    // As networkx: a graph with a self-loop (a collapsed group feeding itself) is not strict.
    let strict = if v.edges.iter().any(|(a, b)| a == b) {
        ""
    } else {
        "strict "
    };
    let mut s = format!("{strict}digraph {{\n");
    for n in &v.nodes {
        s.push_str(&format!("\"{n}\";\n"));
    }
    for &(a, b) in &v.edges {
        s.push_str(&format!("\"{}\" -> \"{}\";\n", v.nodes[a], v.nodes[b]));
    }
    // DVC prints a blank line after the graph.
    s.push_str("}\n\n");
    s
}

/// `dvc dag --mermaid` (and `--md`, fenced): each connected pipeline's nodes sorted by name,
/// then its edges sorted.
pub fn mermaid(v: &View, markdown: bool) -> String {
    let mut s = String::from("flowchart TD");
    let mut total = 0;
    for comp in components(v) {
        let mut names: Vec<(&str, usize)> =
            comp.iter().map(|&i| (v.nodes[i].as_str(), i)).collect();
        names.sort();
        let mut id = BTreeMap::new();
        for (name, i) in names {
            total += 1;
            s.push_str(&format!("\n\tnode{total}[\"{name}\"]"));
            id.insert(i, total);
        }
        let mut edges: Vec<(&str, &str, usize, usize)> = v
            .edges
            .iter()
            .filter(|(a, _)| id.contains_key(a))
            .map(|&(a, b)| (v.nodes[a].as_str(), v.nodes[b].as_str(), id[&a], id[&b]))
            .collect();
        edges.sort();
        for (_, _, a, b) in edges {
            s.push_str(&format!("\n\tnode{a}-->node{b}"));
        }
    }
    if markdown {
        format!("```mermaid\n{s}\n```\n")
    } else {
        format!("{s}\n")
    }
}

/// The weakly connected components, each sorted, in the order of their first node.
fn components(v: &View) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); v.nodes.len()];
    for &(a, b) in &v.edges {
        adj[a].push(b);
        adj[b].push(a);
    }
    let mut seen = vec![false; v.nodes.len()];
    let mut out = Vec::new();
    for start in 0..v.nodes.len() {
        if seen[start] {
            continue;
        }
        let mut comp = Vec::new();
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            comp.push(i);
            for &j in &adj[i] {
                if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        comp.sort_unstable();
        out.push(comp);
    }
    out
}
