//! `Dag`: the stage graph (petgraph), with an edge from the stage writing an out to every stage
//! reading that path or a path inside it (or a folder holding it), and the checks DVC makes on
//! it: one writer per out, no nested outs, no stage reading its own out, no cycles.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::repo_path::RepoPath;
use crate::spec::{Pipeline, SpecError};

/// The stage graph: node `i` is stage `i` of the pipeline.
#[derive(Debug)]
pub struct Dag {
    graph: DiGraph<usize, ()>,
}

impl Dag {
    /// Builds the graph and checks it.
    pub fn build(p: &Pipeline) -> Result<Dag, SpecError> {
        let mut graph = DiGraph::with_capacity(p.stages.len(), p.stages.len());
        for i in 0..p.stages.len() {
            graph.add_node(i);
        }
        // Every out by path: (stage, out index).
        let mut outs: BTreeMap<&RepoPath, (usize, usize)> = BTreeMap::new();
        for (si, stage) in p.stages.iter().enumerate() {
            for (oi, out) in stage.outs.iter().enumerate() {
                if let Some(&(sj, oj)) = outs.get(&out.entry.path) {
                    let first = &p.stages[sj];
                    return Err(SpecError::DuplicateOut {
                        path: out.entry.path.to_string(),
                        first: first.address(),
                        second: stage.address(),
                        first_loc: first.outs[oj].entry.loc.clone(),
                        second_loc: out.entry.loc.clone(),
                    });
                }
                outs.insert(&out.entry.path, (si, oi));
            }
        }
        // Nested outs: an out with another out among its parents.
        for (path, &(si, oi)) in &outs {
            let mut parent = path.parent();
            while !parent.as_str().is_empty() {
                if let Some(&(sj, oj)) = outs.get(&parent) {
                    return Err(SpecError::OverlappingOuts {
                        outer: parent.to_string(),
                        outer_stage: p.stages[sj].address(),
                        inner: path.to_string(),
                        inner_stage: p.stages[si].address(),
                        outer_loc: p.stages[sj].outs[oj].entry.loc.clone(),
                        inner_loc: p.stages[si].outs[oi].entry.loc.clone(),
                    });
                }
                parent = parent.parent();
            }
        }
        let mut edges = BTreeSet::new();
        for (si, stage) in p.stages.iter().enumerate() {
            // As DVC: a params file is a dependency like any other.
            // An external dep is no stage's out: outs stay inside the repository.
            let read = stage
                .deps
                .iter()
                .filter_map(|d| Some((d.path.repo()?, &d.loc)))
                .chain(stage.params.iter().map(|p| (&p.file, &p.loc)));
            for (path, loc) in read {
                for producer in producers(&outs, path) {
                    if producer == si {
                        return Err(SpecError::OutIsDep {
                            stage: stage.address(),
                            path: path.to_string(),
                            loc: loc.clone(),
                        });
                    }
                    edges.insert((producer, si));
                }
            }
        }
        for (a, b) in edges {
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
        let dag = Dag { graph };
        if let Some(cycle) = dag.find_cycle() {
            let names: Vec<String> = cycle.iter().map(|&i| p.stages[i].address()).collect();
            return Err(SpecError::Cycle {
                cycle: names,
                loc: p.stages[cycle[0]].loc.clone(),
            });
        }
        Ok(dag)
    }

    /// The stages `i` reads from.
    pub fn parents(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
            .map(NodeIndex::index)
    }

    /// The stages that read from `i`.
    pub fn children(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(i), Direction::Outgoing)
            .map(NodeIndex::index)
    }

    /// Every edge (from, to), sorted.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let mut e: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (a.index(), b.index()))
            .collect();
        e.sort_unstable();
        e
    }

    /// `from` and everything upstream of them.
    pub fn ancestors(&self, from: &[usize]) -> BTreeSet<usize> {
        self.reach(from, Direction::Incoming)
    }

    /// `from` and everything downstream of them.
    pub fn descendants(&self, from: &[usize]) -> BTreeSet<usize> {
        self.reach(from, Direction::Outgoing)
    }

    /// `from` and every stage connected to them in either direction.
    pub fn component(&self, from: &[usize]) -> BTreeSet<usize> {
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        let mut stack: Vec<usize> = from.to_vec();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(self.parents(i));
                stack.extend(self.children(i));
            }
        }
        seen
    }

    fn reach(&self, from: &[usize], dir: Direction) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = from.to_vec();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(
                    self.graph
                        .neighbors_directed(NodeIndex::new(i), dir)
                        .map(NodeIndex::index),
                );
            }
        }
        seen
    }

    /// The stages in an order where every stage comes after its parents (ties by index).
    pub fn topo_order(&self) -> Vec<usize> {
        let n = self.graph.node_count();
        let mut indegree: Vec<usize> = (0..n).map(|i| self.parents(i).count()).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for c in self.children(i) {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.insert(c);
                }
            }
        }
        order
    }

    /// A cycle as stage indices, the first repeated at the end, if there is one.
    fn find_cycle(&self) -> Option<Vec<usize>> {
        // Depth-first search colouring: 0 unvisited, 1 on the current path, 2 done.
        let mut colour = vec![0u8; self.graph.node_count()];
        for start in 0..colour.len() {
            if colour[start] != 0 {
                continue;
            }
            colour[start] = 1;
            let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, self.children(start).collect())];
            loop {
                let next = match stack.last_mut() {
                    None => break,
                    Some((_, pending)) => pending.pop(),
                };
                match next {
                    None => {
                        if let Some((done, _)) = stack.pop() {
                            colour[done] = 2;
                        }
                    }
                    Some(next) if colour[next] == 0 => {
                        colour[next] = 1;
                        stack.push((next, self.children(next).collect()));
                    }
                    Some(next) if colour[next] == 1 => {
                        let from = stack.iter().position(|(s, _)| *s == next).unwrap_or(0);
                        let mut cycle: Vec<usize> = stack[from..].iter().map(|(s, _)| *s).collect();
                        cycle.push(next);
                        return Some(cycle);
                    }
                    Some(_) => {}
                }
            }
        }
        None
    }
}

/// The stages whose outs a dep reads: an out equal to the dep, holding it, or inside it.
fn producers(outs: &BTreeMap<&RepoPath, (usize, usize)>, dep: &RepoPath) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    if let Some(&(s, _)) = outs.get(dep) {
        found.insert(s);
    }
    let mut parent = dep.parent();
    while !parent.as_str().is_empty() {
        if let Some(&(s, _)) = outs.get(&parent) {
            found.insert(s);
        }
        parent = parent.parent();
    }
    // Outs inside the dep folder sort right after `dep/`.
    let prefix = format!("{}/", dep.as_str());
    for (path, &(s, _)) in
        outs.range::<RepoPath, _>((std::ops::Bound::Excluded(dep), std::ops::Bound::Unbounded))
    {
        if dep.as_str().is_empty() || path.as_str().starts_with(&prefix) {
            found.insert(s);
        } else if path.as_str() > prefix.as_str() {
            break;
        }
    }
    found
}
