//! Dependency graph in, DOT or Mermaid text out (for `specc graph`).

use std::fmt::Write;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::check::{Checked, Vertex};

/// The label and a stable id of the vertex `n`: distinct vertices get distinct ids
/// (`node:18` and `node/18` differ only in characters an id cannot hold, so an external
/// image's id carries its vertex number).
fn describe(checked: &Checked, n: NodeIndex) -> (String, String) {
    let s = &checked.spec;
    match &checked.graph.graph[n] {
        Vertex::Stage(i) => (
            format!("stage_{i}"),
            format!("stage {}", s.stages[*i].name.value),
        ),
        Vertex::Image(i) => (
            format!("image_{i}"),
            format!("image {}", s.images[*i].name.value),
        ),
        Vertex::Variant(i) => (
            format!("variant_{i}"),
            format!("variant {}", s.variants[*i].name.value),
        ),
        Vertex::Registry(i) => (
            format!("registry_{i}"),
            format!("registry {}", s.registries[*i].name.value),
        ),
        Vertex::Service(i) => (
            format!("service_{i}"),
            format!("service {}", s.services[*i].name.value),
        ),
        Vertex::Workflow(i) => (
            format!("workflow_{i}"),
            format!("workflow {}", s.workflows[*i].name.value),
        ),
        Vertex::Chart(i) => (
            format!("chart_{i}"),
            format!("chart {}", s.charts[*i].name.value),
        ),
        Vertex::External(r) => {
            let id: String = r
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            (format!("ext_{}_{id}", n.index()), r.clone())
        }
    }
}

/// Graphviz DOT.
pub fn dot(checked: &Checked) -> String {
    let g = &checked.graph.graph;
    let mut out = String::from(
        "digraph specc {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for n in g.node_indices() {
        let (id, label) = describe(checked, n);
        let shape = if matches!(g[n], Vertex::External(_)) {
            ", style=dashed"
        } else {
            ""
        };
        let _ = writeln!(out, "  {id} [label={:?}{shape}];", label);
    }
    for e in g.edge_references() {
        let (a, _) = describe(checked, e.source());
        let (b, _) = describe(checked, e.target());
        let _ = writeln!(out, "  {a} -> {b} [label={:?}];", e.weight().0.label());
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart.
pub fn mermaid(checked: &Checked) -> String {
    let g = &checked.graph.graph;
    let mut out = String::from("flowchart LR\n");
    for n in g.node_indices() {
        let (id, label) = describe(checked, n);
        let _ = writeln!(out, "  {id}[\"{}\"]", label.replace('"', "#quot;"));
    }
    for e in g.edge_references() {
        let (a, _) = describe(checked, e.source());
        let (b, _) = describe(checked, e.target());
        let _ = writeln!(out, "  {a} -->|{}| {b}", e.weight().0.label());
    }
    out
}
