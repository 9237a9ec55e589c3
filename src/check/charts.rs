//! Charts: the rules of a chart's mode, and the rules that read the user's chart.
//!
//! A `chart` with `path=` is the user's own chart: specc writes only an overlay values
//! file beside it, holding the mapped image keys and the pod settings the spec asks for.
//! Every key the overlay writes must be one the chart's `values.yaml` has (its templates
//! read the chart's keys, not specc's), of a type its `values.schema.json` accepts. Those
//! rules need the chart's files, so they run where the disk is read (`check`, `generate`),
//! not in `check --spec-only`: [`chart_files`] is given what `sync` read.

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use super::Checker;
use crate::diagnostics::{Error, closest};
use crate::spec::{Chart, Slot, Text};

/// What the overlay writes at a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    String,
    Map,
    List,
}

impl Holds {
    fn json_type(self) -> &'static str {
        match self {
            Holds::String => "string",
            Holds::Map => "object",
            Holds::List => "array",
        }
    }

    fn described(self) -> &'static str {
        match self {
            Holds::String => "a string",
            Holds::Map => "a map",
            Holds::List => "a list",
        }
    }
}

/// One key an overlay writes, with the span of the spec entry that asks for it.
#[derive(Debug, Clone)]
pub struct Wired {
    pub key: String,
    pub holds: Holds,
    pub span: miette::SourceSpan,
    /// How the spec maps it: `key="..."` of image `image` (the key being the map's
    /// `suffix` entry, e.g. `.tag`); `None` for the pod settings.
    pub mapped: Option<(String, &'static str, &'static str)>,
}

/// Every key the overlay of `chart` writes: each image's keys (a map key as its
/// `repository` and `tag`), then `resources` (when the spec sets some or `gpu` asks for
/// one), `nodeSelector` and `tolerations` when the spec names any.
pub fn wired(chart: &Chart, gpu: bool) -> Vec<Wired> {
    let mut out = Vec::new();
    for image in &chart.images {
        for (key, slot) in image.slots() {
            let (property, keys): (_, &[(&str, Holds)]) = match slot {
                Slot::Image => (
                    "key",
                    &[
                        ("", Holds::Map),
                        (".repository", Holds::String),
                        (".tag", Holds::String),
                    ],
                ),
                Slot::Repository => ("repository", &[("", Holds::String)]),
                Slot::Tag => ("tag", &[("", Holds::String)]),
                Slot::Reference => ("ref", &[("", Holds::String)]),
            };
            out.extend(keys.iter().map(|&(suffix, holds)| Wired {
                key: format!("{}{suffix}", key.value),
                holds,
                span: key.span,
                mapped: Some((image.image.value.clone(), property, suffix)),
            }));
        }
    }
    let resources = chart.resources.as_ref().map(|r| r.span);
    if let Some(span) = resources.or(gpu.then_some(chart.name.span)) {
        out.push(Wired {
            key: "resources".into(),
            holds: Holds::Map,
            span,
            mapped: None,
        });
    }
    if let Some((k, _)) = chart.node_selector.first() {
        out.push(Wired {
            key: "nodeSelector".into(),
            holds: Holds::Map,
            span: k.span,
            mapped: None,
        });
    }
    if let Some(t) = chart.tolerations.first() {
        out.push(Wired {
            key: "tolerations".into(),
            holds: Holds::List,
            span: t.span,
            mapped: None,
        });
    }
    out
}

/// A chart folder as `sync` found it.
#[derive(Debug, Clone)]
pub enum ChartFolder {
    /// No such folder.
    Missing,
    /// A folder without the named file (`Chart.yaml`, `values.yaml`).
    Without(&'static str),
    /// The chart's `values.yaml` and, when it has one, `values.schema.json`.
    Read {
        /// The `name` in its Chart.yaml, when it has one.
        name: Option<String>,
        values: String,
        schema: Option<String>,
    },
}

/// Every problem of the overlay keys of `chart` (at `dir`) against the chart's files.
pub fn chart_files(chart: &Chart, dir: &str, folder: &ChartFolder, wired: &[Wired]) -> Vec<Error> {
    let path = chart.path.as_ref();
    let span = path.map_or(chart.name.span, |p| p.span);
    let missing = |reason: &str, help: &str| {
        vec![Error::ChartMissing {
            path: dir.to_string(),
            reason: reason.into(),
            span,
            help: help.into(),
        }]
    };
    let (values, schema) = match folder {
        ChartFolder::Missing => {
            return missing(
                "does not exist",
                "point `path=` at the folder that holds the chart's Chart.yaml, or write `create=#true` for specc to create the chart's values",
            );
        }
        ChartFolder::Without(file) => {
            return missing(
                &format!("has no {file}"),
                &format!(
                    "point `path=` at the chart's own folder (the one with Chart.yaml and values.yaml), or add {file} there (`helm create` writes both)"
                ),
            );
        }
        ChartFolder::Read {
            name,
            values,
            schema,
        } => {
            if chart.push.is_some()
                && let Some(name) = name.as_ref().filter(|n| **n != chart.name.value)
            {
                return vec![Error::ChartName {
                    chart: chart.name.value.clone(),
                    name: name.clone(),
                    span: chart.name.span,
                    help: format!("name the chart as its Chart.yaml does: `chart {name} path=...`"),
                }];
            }
            (values, schema)
        }
    };
    let invalid = |file: &str, reason: String, help: &str| Error::ChartFileInvalid {
        file: format!("{dir}/{file}"),
        reason,
        span,
        help: help.into(),
    };
    let values: Yaml = match serde_yaml_ng::from_str(values) {
        Ok(v) => v,
        Err(e) => {
            let help = "fix the chart's values.yaml (`helm lint` reads it the same way)";
            return vec![invalid("values.yaml", e.to_string(), help)];
        }
    };
    let schema: Option<Json> = match schema.as_deref().map(serde_json::from_str) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            let help = "fix the chart's values.schema.json (Helm refuses to install a chart whose schema is not JSON)";
            return vec![invalid("values.schema.json", e.to_string(), help)];
        }
    };
    let keys = all_keys(&values);
    let mut errors: Vec<(miette::SourceSpan, Error)> = Vec::new();
    for w in wired {
        // One problem per spec entry: a missing map says enough about its entries.
        if errors.iter().any(|(span, _)| *span == w.span) {
            continue;
        }
        if let Some(e) = key_problem(chart, dir, w, &values, schema.as_ref(), &keys) {
            errors.push((w.span, e));
        }
    }
    errors.into_iter().map(|(_, e)| e).collect()
}

fn key_problem(
    chart: &Chart,
    dir: &str,
    w: &Wired,
    values: &Yaml,
    schema: Option<&Json>,
    keys: &[String],
) -> Option<Error> {
    let Some(found) = at(values, &w.key) else {
        let help = missing_help(w, keys);
        return Some(Error::ChartKeyMissing {
            chart: chart.name.value.clone(),
            key: w.key.clone(),
            span: w.span,
            file: format!("{dir}/values.yaml"),
            help,
        });
    };
    let mismatch = |reason: String| {
        Some(Error::ChartKeyType {
            key: w.key.clone(),
            writes: w.holds.described().into(),
            span: w.span,
            reason,
            help: match w.holds {
                Holds::String => "map a key that holds a string: `repository=`, `tag=` or `ref=` for one-string keys, `key=` for a map with `repository` and `tag`".into(),
                _ => format!("give the chart's `{}` {} in values.yaml", w.key, w.holds.described()),
            },
        })
    };
    if let Some(held) = yaml_kind(found)
        && held != w.holds
    {
        return mismatch(format!("values.yaml holds {} here", held.described()));
    }
    let types = schema
        .and_then(|s| schema_at(s, s, &w.key))
        .map(schema_types)?;
    if types.is_empty() || types.iter().any(|t| t == w.holds.json_type()) {
        return None;
    }
    mismatch(format!("values.schema.json says {}", types.join(" or ")))
}

/// What to write for a key the chart does not have: its nearest key, mapped the same way.
fn missing_help(w: &Wired, keys: &[String]) -> String {
    let Some((image, property, suffix)) = &w.mapped else {
        return format!(
            "add `{}:` to the chart's values.yaml and read it in its templates (specc writes the pod settings the spec asks for there)",
            w.key
        );
    };
    let near =
        closest(&w.key, keys.iter().map(String::as_str)).and_then(|near| near.strip_suffix(suffix));
    match near {
        Some(near) => format!("did you mean `{near}`? write `image {image} {property}=\"{near}\"`"),
        None => format!(
            "map a key the chart's values.yaml has, or add `{}` to it: the chart's templates read only its own keys",
            w.key
        ),
    }
}

/// What a values.yaml node holds; `None` for null (an empty key takes anything).
fn yaml_kind(v: &Yaml) -> Option<Holds> {
    match v {
        Yaml::Null => None,
        Yaml::Mapping(_) => Some(Holds::Map),
        Yaml::Sequence(_) => Some(Holds::List),
        Yaml::Tagged(t) => yaml_kind(&t.value),
        // A number or boolean is replaced by the string specc writes; the schema, when
        // there is one, says whether the chart takes a string there.
        _ => Some(Holds::String),
    }
}

/// The node at a dot path (list entries by index), as Helm's templates walk it.
fn at<'v>(v: &'v Yaml, key: &str) -> Option<&'v Yaml> {
    key.split('.').try_fold(v, |node, part| match node {
        Yaml::Mapping(m) => m.get(part),
        Yaml::Sequence(s) => part.parse::<usize>().ok().and_then(|i| s.get(i)),
        _ => None,
    })
}

/// Every dot path of a values tree, for a did-you-mean.
fn all_keys(v: &Yaml) -> Vec<String> {
    fn walk(v: &Yaml, prefix: &str, out: &mut Vec<String>) {
        let Yaml::Mapping(m) = v else { return };
        for (k, child) in m {
            let Some(k) = k.as_str() else { continue };
            let path = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            walk(child, &path, out);
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// The schema of the value at a dot path, following local `$ref`s; `None` when the
/// schema says nothing there.
fn schema_at<'s>(root: &'s Json, node: &'s Json, key: &str) -> Option<&'s Json> {
    let mut node = resolve(root, node, 0)?;
    for part in key.split('.') {
        let next = node
            .get("properties")
            .and_then(|p| p.get(part))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| {
                part.parse::<usize>()
                    .ok()
                    .and(node.get("items").filter(|i| i.is_object()))
            })?;
        node = resolve(root, next, 0)?;
    }
    Some(node)
}

/// `node`, or what its local `$ref` (`#/definitions/x`) points at.
fn resolve<'s>(root: &'s Json, node: &'s Json, depth: usize) -> Option<&'s Json> {
    match node.get("$ref").and_then(Json::as_str) {
        // A cycle of references says nothing about a type.
        Some(_) if depth > 16 => None,
        Some(r) => {
            let target = root.pointer(r.strip_prefix('#')?)?;
            resolve(root, target, depth + 1)
        }
        None => Some(node),
    }
}

/// The JSON types a schema node allows; empty when it does not say.
fn schema_types(node: &Json) -> Vec<String> {
    match node.get("type") {
        Some(Json::String(t)) => vec![t.clone()],
        Some(Json::Array(ts)) => ts
            .iter()
            .filter_map(Json::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

impl Checker<'_> {
    /// Settings that only one of a chart's modes can honour.
    pub(super) fn chart_mode(&mut self, chart: &Chart) {
        let overlay = "an overlay for your own chart (`path=` without `create=#true`)";
        if chart.overlay() {
            if let Some(v) = &chart.values {
                self.path(v, "overlay file");
                self.overlay_not_the_charts(v);
            }
            for rt in &chart.runtimes {
                self.push(Error::ChartMode {
                    what: "`runtime`".into(),
                    mode: overlay.into(),
                    span: rt.name.span,
                    reason: "a `modelsRuntime` entry belongs to values specc creates".into(),
                    help: "map the image to the chart's own key (`image NAME key=\"runtime.image\"`), or write `create=#true` on the chart for specc to create its values".into(),
                });
            }
        } else if let Some(v) = &chart.values {
            self.push(Error::ChartMode {
                what: "`values=`".into(),
                mode: "a chart specc creates (it writes values.yaml itself)".into(),
                span: v.span,
                reason: "names an overlay file".into(),
                help: overlay_help(chart.path.as_ref()),
            });
        }
    }
}

impl Checker<'_> {
    /// The overlay must not land on a file of the chart itself, which stays the user's.
    fn overlay_not_the_charts(&mut self, v: &Text) {
        let name = v.value.trim_start_matches("./");
        let theirs = [
            "Chart.yaml",
            "Chart.lock",
            "values.yaml",
            "values.schema.json",
        ]
        .contains(&name)
            || name.starts_with("templates/")
            || name.starts_with("charts/")
            || name.starts_with("crds/");
        if theirs {
            self.push(Error::InvalidPath {
                what: "overlay file".into(),
                value: v.value.clone(),
                span: v.span,
                reason: "a file of the chart itself, which stays yours".into(),
                help: "name a file of specc's own, e.g. `values=\"values.specc.yaml\"`".into(),
            });
        }
    }
}

fn overlay_help(path: Option<&Text>) -> String {
    match path {
        Some(_) => "remove `create=#true` to write an overlay for your chart, or remove `values=`".into(),
        None => "add `path=\"deploy/chart\"` (your chart's folder) to write an overlay, or remove `values=`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_paths_follow_properties_items_and_refs() {
        let s: Json = serde_json::from_str(
            r##"{"properties": {"image": {"$ref": "#/definitions/img"},
                 "list": {"items": {"properties": {"tag": {"type": "integer"}}}}},
                 "definitions": {"img": {"properties": {"tag": {"type": ["string", "null"]}}}}}"##,
        )
        .unwrap();
        let types = |k: &str| schema_at(&s, &s, k).map(schema_types);
        assert_eq!(
            types("image.tag"),
            Some(vec!["string".into(), "null".into()])
        );
        assert_eq!(types("list.0.tag"), Some(vec!["integer".into()]));
        assert_eq!(types("other"), None);
    }

    #[test]
    fn values_paths_walk_maps_and_list_indices() {
        let v: Yaml = serde_yaml_ng::from_str("a:\n  b: [ {c: 1} ]\nd: ~\n").unwrap();
        assert!(at(&v, "a.b.0.c").is_some());
        assert!(at(&v, "a.b.1.c").is_none());
        assert_eq!(yaml_kind(at(&v, "d").unwrap()), None);
        assert_eq!(all_keys(&v), ["a.b", "a", "d"]);
    }
}
