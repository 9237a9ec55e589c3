//! Checked spec and plan in, `values.yaml` and `values.schema.json` per `chart` out.
//!
//! Values follow `helm create` conventions (`image.repository/tag/pullPolicy`,
//! `imagePullSecrets`, `resources`, `nodeSelector`, `tolerations`, `affinity`) plus
//! `modelsRuntime` entries. Both files come from one ordered tree, so the schema always
//! matches the values; it refuses unknown keys, so a typo in an override fails `helm lint`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::workflow::chart_dir;
use super::{RenderOptions, Rendered, escape, header, join, render_template};
use crate::check::Checked;
use crate::diagnostics::Error;
use crate::plan::Plan;
use crate::plan::{ChartImage, GpuPlan};
use crate::spec::{Chart, ImageSource};

/// A values node; `Free` maps accept any key in the schema.
#[derive(Debug, Clone)]
enum Node {
    Str(String),
    Int(u32),
    Map(Vec<(String, Node)>),
    Free(Vec<(String, Node)>),
    List(Vec<Node>),
}

#[derive(Serialize)]
struct Context {
    header: Vec<String>,
    chart: String,
    /// True for an overlay of the user's chart, false for a created chart's values.
    overlay: bool,
    body: String,
}

/// Block-style YAML for `node` at `indent` spaces.
fn emit(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) | Node::Free(entries) => {
            for (k, v) in entries {
                out.push_str(&format!("{pad}{}:", escape::yaml_key(k)));
                inline_or_block(v, indent, out);
            }
        }
        Node::List(items) => {
            for item in items {
                match item {
                    Node::Map(entries) | Node::Free(entries) if !entries.is_empty() => {
                        // The first key shares the dash's line.
                        let mut block = String::new();
                        emit(item, indent + 2, &mut block);
                        out.push_str(&format!("{pad}- {}", &block[indent + 2..]));
                        let _ = entries;
                    }
                    _ => {
                        out.push_str(&format!("{pad}-"));
                        inline_or_block(item, indent, out);
                    }
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{}\n", scalar_text(scalar))),
    }
}

fn scalar_text(node: &Node) -> String {
    match node {
        Node::Str(s) => escape::yaml(s),
        Node::Int(i) => i.to_string(),
        Node::Map(e) | Node::Free(e) if e.is_empty() => "{}".into(),
        Node::List(l) if l.is_empty() => "[]".into(),
        _ => String::new(),
    }
}

fn inline_or_block(v: &Node, indent: usize, out: &mut String) {
    let text = scalar_text(v);
    if !text.is_empty() {
        out.push_str(&format!(" {text}\n"));
    } else {
        out.push('\n');
        emit(v, indent + 2, out);
    }
}

/// The JSON schema of `node`.
fn schema(node: &Node) -> Value {
    match node {
        Node::Str(_) => json!({ "type": "string" }),
        Node::Int(_) => json!({ "type": ["integer", "string"] }),
        Node::Map(entries) => {
            let props: Map<String, Value> = entries
                .iter()
                .map(|(k, v)| (k.clone(), schema(v)))
                .collect();
            json!({ "type": "object", "properties": props, "additionalProperties": false })
        }
        Node::Free(entries) => {
            let props: Map<String, Value> = entries
                .iter()
                .map(|(k, v)| (k.clone(), schema(v)))
                .collect();
            json!({ "type": "object", "properties": props })
        }
        Node::List(items) => match items.first() {
            Some(first) => json!({ "type": "array", "items": schema(first) }),
            None => json!({ "type": "array" }),
        },
    }
}

/// Inserts `value` at the dotted `path` of a map, creating maps on the way.
fn insert(entries: &mut Vec<(String, Node)>, path: &[&str], value: Node) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let pos = entries.iter().position(|(k, _)| k == first);
    if rest.is_empty() {
        match pos {
            Some(i) => entries[i].1 = value,
            None => entries.push((first.to_string(), value)),
        }
        return;
    }
    let i = match pos {
        Some(i) => i,
        None => {
            entries.push((first.to_string(), Node::Map(Vec::new())));
            entries.len() - 1
        }
    };
    if let Node::Map(inner) = &mut entries[i].1 {
        insert(inner, rest, value);
    } else {
        entries[i].1 = Node::Map(Vec::new());
        if let Node::Map(inner) = &mut entries[i].1 {
            insert(inner, rest, value);
        }
    }
}

fn values(plan: &Plan, chart: &Chart) -> Node {
    let mut top: Vec<(String, Node)> = Vec::new();
    let gpu = plan.chart_gpu(&chart.name.value);
    let images = plan.charts.iter().filter(|c| c.chart == chart.name.value);
    for ci in images.clone().filter(|c| c.runtime.is_none()) {
        image_values(&mut top, ci, true);
    }
    top.push(("imagePullSecrets".into(), Node::List(Vec::new())));
    top.push(("resources".into(), resources(chart, gpu)));
    top.push(("nodeSelector".into(), node_selector(chart)));
    top.push(("tolerations".into(), tolerations(chart)));
    top.push(("affinity".into(), Node::Free(Vec::new())));
    if !chart.runtimes.is_empty() {
        let runtimes = chart
            .runtimes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut e = vec![
                    ("name".to_string(), Node::Str(r.name.value.clone())),
                    ("type".to_string(), Node::Str(r.kind.value.clone())),
                ];
                for (k, v) in [
                    ("namespace", &r.namespace),
                    ("chartRepository", &r.chart_repository),
                    ("chartVersion", &r.chart_version),
                ] {
                    e.push((
                        k.to_string(),
                        Node::Str(v.as_ref().map(|t| t.value.clone()).unwrap_or_default()),
                    ));
                }
                if let Some(img) = &r.image {
                    let planned = images.clone().find(|c| c.runtime == Some(i));
                    let (repository, tag) = match planned {
                        Some(c) => (c.repository.clone(), c.tag.clone()),
                        None => split_reference(&img.value),
                    };
                    e.push((
                        "image".into(),
                        Node::Map(vec![
                            ("repository".into(), Node::Str(repository)),
                            ("tag".into(), Node::Str(tag)),
                        ]),
                    ));
                }
                Node::Map(e)
            })
            .collect();
        top.push(("modelsRuntime".into(), Node::List(runtimes)));
    }
    Node::Map(top)
}

/// The plan's reference of one chart image at each key the spec maps it to; a created
/// chart's image map also says `pullPolicy`, as `helm create` does.
fn image_values(top: &mut Vec<(String, Node)>, ci: &ChartImage, created: bool) {
    let mut map = vec![
        ("repository".into(), Node::Str(ci.repository.clone())),
        ("tag".into(), Node::Str(ci.tag.clone())),
    ];
    if created {
        map.push(("pullPolicy".into(), Node::Str("IfNotPresent".into())));
    }
    let reference = format!("{}:{}", ci.repository, ci.tag);
    for (key, value) in [
        (&ci.key, Node::Map(map)),
        (&ci.repository_key, Node::Str(ci.repository.clone())),
        (&ci.tag_key, Node::Str(ci.tag.clone())),
        (&ci.ref_key, Node::Str(reference)),
    ] {
        if let Some(key) = key {
            let path: Vec<&str> = key.split('.').collect();
            insert(top, &path, value);
        }
    }
}

/// `resources`: the spec's CPU and memory as limits and requests, plus the GPU's device
/// count as a limit.
fn resources(chart: &Chart, gpu: Option<&GpuPlan>) -> Node {
    let mut limits = Vec::new();
    let mut requests = Vec::new();
    if let Some(r) = &chart.resources {
        for (k, v) in [("cpu", &r.cpu), ("memory", &r.memory)] {
            if let Some(v) = v {
                limits.push((k.to_string(), Node::Str(v.value.clone())));
                requests.push((k.to_string(), Node::Str(v.value.clone())));
            }
        }
    }
    if let Some(g) = gpu {
        let resource = match g.driver.as_str() {
            "amd" => "amd.com/gpu",
            "intel" => "gpu.intel.com/i915",
            _ => "nvidia.com/gpu",
        };
        // Kubernetes counts devices; "all" means one whole device per pod.
        let count = g.count.parse::<u32>().unwrap_or(1);
        limits.push((resource.into(), Node::Int(count)));
    }
    let mut resources = Vec::new();
    if !limits.is_empty() {
        resources.push(("limits".into(), Node::Free(limits)));
    }
    if !requests.is_empty() {
        resources.push(("requests".into(), Node::Free(requests)));
    }
    Node::Free(resources)
}

fn node_selector(chart: &Chart) -> Node {
    Node::Free(
        chart
            .node_selector
            .iter()
            .map(|(k, v)| (k.value.clone(), Node::Str(v.value.clone())))
            .collect(),
    )
}

fn tolerations(chart: &Chart) -> Node {
    let list = chart
        .tolerations
        .iter()
        .map(|t| {
            let mut e = Vec::new();
            for (k, v) in [
                ("key", &t.key),
                ("operator", &t.operator),
                ("value", &t.value),
                ("effect", &t.effect),
            ] {
                if let Some(v) = v {
                    e.push((k.to_string(), Node::Str(v.value.clone())));
                }
            }
            Node::Free(e)
        })
        .collect();
    Node::List(list)
}

/// The overlay for the user's chart: each image's keys as the spec maps them, and only
/// the pod settings the spec asks for (the keys `check` found in the chart).
fn overlay(plan: &Plan, chart: &Chart) -> Node {
    let mut top: Vec<(String, Node)> = Vec::new();
    // `check` resolved every image of the chart, so the plan has one entry per image, in
    // spec order.
    let planned = plan
        .charts
        .iter()
        .filter(|c| c.chart == chart.name.value && c.runtime.is_none());
    for ci in planned {
        image_values(&mut top, ci, false);
    }
    let gpu = plan.chart_gpu(&chart.name.value);
    if chart.resources.is_some() || gpu.is_some() {
        top.push(("resources".into(), resources(chart, gpu)));
    }
    if !chart.node_selector.is_empty() {
        top.push(("nodeSelector".into(), node_selector(chart)));
    }
    if !chart.tolerations.is_empty() {
        top.push(("tolerations".into(), tolerations(chart)));
    }
    Node::Map(top)
}

/// An external runtime image's repository and tag (`@digest` in the tag's place when it
/// has one, after the repository and any tag, as written).
fn split_reference(source: &ImageSource) -> (String, String) {
    // `check` accepted the value as a reference (it is no spec image).
    let Ok(r) = source.reference() else {
        return (source.to_string(), "latest".into());
    };
    match (r.tag(), r.digest()) {
        (Some(tag), Some(digest)) => (format!("{}:{tag}", r.repository()), format!("@{digest}")),
        (None, Some(digest)) => (r.repository().to_string(), format!("@{digest}")),
        (Some(tag), None) => (r.repository().to_string(), tag.to_string()),
        (None, None) => (r.repository().to_string(), "latest".into()),
    }
}

pub fn render(
    checked: &Checked,
    plan: &Plan,
    options: &RenderOptions,
    errors: &mut Vec<Error>,
) -> Vec<Rendered> {
    let spec = &checked.spec;
    let mut out = Vec::new();
    for chart in &spec.charts {
        let dir = chart_dir(spec, chart);
        if chart.overlay() {
            let file = chart.files().concat();
            match values_file(
                &overlay(plan, chart),
                chart,
                join(&dir, &file),
                true,
                options,
            ) {
                Ok(file) => out.push(file),
                Err(e) => errors.push(e),
            }
            continue;
        }
        let tree = values(plan, chart);
        match values_file(&tree, chart, join(&dir, "values.yaml"), false, options) {
            Ok(file) => out.push(file),
            Err(e) => errors.push(e),
        }
        let mut schema = schema(&tree);
        if let Value::Object(m) = &mut schema {
            m.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft-07/schema#"),
            );
            m.insert(
                "title".into(),
                json!(format!(
                    "Values of chart {} (generated by specc)",
                    chart.name.value
                )),
            );
        }
        let text = serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n";
        out.push(Rendered {
            path: join(&dir, "values.schema.json"),
            contents: text,
        });
    }
    out
}

/// The values file at `path` holding `tree`: a created chart's `values.yaml`, or the
/// overlay of the user's chart.
fn values_file(
    tree: &Node,
    chart: &Chart,
    path: String,
    overlay: bool,
    options: &RenderOptions,
) -> Result<Rendered, Error> {
    let mut body = String::new();
    emit(tree, 0, &mut body);
    let ctx = Context {
        header: header(options),
        chart: chart.name.value.clone(),
        overlay,
        body: body.trim_end().to_string(),
    };
    let contents = render_template("values", &path, &ctx)?;
    Ok(Rendered { path, contents })
}
