//! Every path `specc generate` writes, known from the spec alone: two outputs at one path,
//! an output where another needs a folder, or an output on the spec itself would overwrite
//! one another, so `check` refuses them.

use std::collections::HashMap;

use miette::SourceSpan;

use super::Checker;
use crate::diagnostics::Error;

/// One file specc writes: its path as the spec spells it, what writes it, where the spec
/// places it (an empty span for a default setting) and how to move it.
struct Output {
    path: String,
    what: String,
    span: SourceSpan,
    help: String,
}

/// `path` without `.` segments, empty segments or `a/..` pairs: one spelling per file.
fn normalized(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn join(dir: &str, file: &str) -> String {
    format!("{dir}/{file}")
}

impl Checker<'_> {
    /// Reports outputs that land on each other, on a folder another output needs, or on
    /// the spec itself.
    pub(super) fn output_clashes(&mut self) {
        let outputs = self.outputs();
        let spec_file = self.spec_file.as_deref().map(normalized);
        // First output at each path, and first output needing each folder: one lookup per
        // ancestor instead of a comparison with every earlier output (quadratic with
        // thousands of images).
        let mut at_path: HashMap<String, usize> = HashMap::new();
        let mut needs_folder: HashMap<String, usize> = HashMap::new();
        for (i, out) in outputs.iter().enumerate() {
            let path = normalized(&out.path);
            if spec_file.as_deref() == Some(path.as_str()) {
                self.clash(
                    out,
                    None,
                    format!("{} would overwrite the spec itself", out.what),
                );
                continue;
            }
            let ancestors: Vec<&str> = path
                .match_indices('/')
                .map(|(at, _)| &path[..at])
                .filter(|a| !a.is_empty())
                .collect();
            // The earliest earlier output that clashes, as a scan in order would find it.
            let mut earlier: Option<(usize, String)> = None;
            let mut consider = |j: usize, reason: String| {
                if earlier.as_ref().is_none_or(|(k, _)| j < *k) {
                    earlier = Some((j, reason));
                }
            };
            if let Some(&j) = at_path.get(&path) {
                let o = &outputs[j];
                consider(
                    j,
                    format!("{} and {} would both write this file", o.what, out.what),
                );
            }
            for a in &ancestors {
                if let Some(&j) = at_path.get(*a) {
                    let o = &outputs[j];
                    consider(
                        j,
                        format!("{} writes a file where {} needs a folder", o.what, out.what),
                    );
                }
            }
            if let Some(&j) = needs_folder.get(&path) {
                let o = &outputs[j];
                consider(
                    j,
                    format!("{} needs a folder here for {}", out.what, o.what),
                );
            }
            for a in ancestors {
                needs_folder.entry(a.to_string()).or_insert(i);
            }
            at_path.entry(path).or_insert(i);
            if let Some((j, reason)) = earlier {
                self.clash(out, Some(&outputs[j]), reason);
            }
        }
    }

    /// Labels the output written in the spec (a default setting has no place in it).
    fn clash(&mut self, out: &Output, first: Option<&Output>, reason: String) {
        let (at, other) = match first {
            Some(f) if out.span.is_empty() && !f.span.is_empty() => (f, Some(out)),
            _ => (out, first),
        };
        let help = match other {
            Some(o) if !o.span.is_empty() && at.span.is_empty() => o.help.clone(),
            _ => at.help.clone(),
        };
        self.push(Error::OutputClash {
            value: normalized(&at.path),
            span: at.span,
            reason,
            help,
        });
    }

    /// Every file the spec's outputs write, in a fixed order: the `output` files, then
    /// Dockerfiles, `.dockerignore` files, workflows and chart values.
    fn outputs(&self) -> Vec<Output> {
        let spec = self.spec;
        let o = &spec.output;
        let defaults = crate::spec::Output::defaults();
        let mut out = Vec::new();
        let uses_root = spec
            .images
            .iter()
            .any(|i| normalized(&i.context.value).is_empty());
        for ((key, t), (_, default)) in o.files().into_iter().zip(defaults.files()) {
            let written = match key {
                "dockerignore" => uses_root,
                "bake" => !spec.images.is_empty(),
                "compose" => !spec.services.is_empty(),
                _ => true,
            };
            if written {
                out.push(Output {
                    path: t.value.clone(),
                    what: format!("`{key}`"),
                    span: t.span,
                    help: format!(
                        "give `{key}` its own path in the `output` block (its default is `{}`)",
                        default.value
                    ),
                });
            }
        }
        self.dockerfile_outputs(&mut out);
        self.other_outputs(&mut out);
        out
    }

    /// `<dockerfiles>/<image>.Dockerfile`, and for an image built in several variants
    /// `<image>.<variant>.Dockerfile` too (each with its `.dockerignore` when the image has
    /// `ignore` patterns of its own) (which one is written depends on whether the
    /// variants' Dockerfiles differ, so both are kept free).
    fn dockerfile_outputs(&self, out: &mut Vec<Output>) {
        let spec = self.spec;
        let setting = &spec.output.dockerfiles;
        let dir = &setting.value;
        for (ii, image) in spec.images.iter().enumerate() {
            // An image declared twice has its own error.
            if self.spec.image_index(&image.name.value) != Some(ii) {
                continue;
            }
            // The folder setting, when the spec writes one, is what places the file.
            let span = if !setting.span.is_empty() {
                setting.span
            } else {
                image.name.span
            };
            let name = &image.name.value;
            let help = format!(
                "rename image `{name}`, or write the Dockerfiles to another folder: `output {{ dockerfiles \"...\" }}`"
            );
            let mut files = vec![format!("{name}.Dockerfile")];
            let built = self.built_variants(image);
            if built.len() > 1 {
                files.extend(
                    built
                        .iter()
                        .map(|v| format!("{name}.{}.Dockerfile", spec.variants[*v].name.value)),
                );
            }
            // A variant declared twice has its own error too.
            let mut seen = std::collections::HashSet::new();
            files.retain(|f| seen.insert(f.clone()));
            for file in files {
                // An image with `ignore` patterns of its own: its Dockerfile's ignore file.
                if !image.ignore.is_empty() {
                    out.push(Output {
                        path: join(dir, &format!("{file}.dockerignore")),
                        what: format!("the Dockerfile ignore file of image `{name}`"),
                        span,
                        help: help.clone(),
                    });
                }
                out.push(Output {
                    path: join(dir, &file),
                    what: format!("the Dockerfile of image `{name}`"),
                    span,
                    help: help.clone(),
                });
            }
        }
    }

    /// `.dockerignore` per build context other than the root, workflows, chart values.
    fn other_outputs(&self, out: &mut Vec<Output>) {
        let spec = self.spec;
        let mut contexts: Vec<String> = Vec::new();
        for image in &spec.images {
            let context = normalized(&image.context.value);
            if context.is_empty() || contexts.contains(&context) {
                continue;
            }
            out.push(Output {
                path: join(&context, ".dockerignore"),
                what: format!("the .dockerignore of context `{context}`"),
                span: image.context.span,
                help: "build from another context, or move the other output away from it".into(),
            });
            contexts.push(context);
        }
        for w in &spec.workflows {
            out.push(Output {
                path: join(
                    &spec.output.workflows.value,
                    &format!("{}.yml", w.name.value),
                ),
                what: format!("workflow `{}`", w.name.value),
                span: w.name.span,
                help: "rename the workflow, or move the other output away".into(),
            });
        }
        for chart in &spec.charts {
            let (dir, span) = match &chart.path {
                Some(p) => (p.value.clone(), p.span),
                None => (
                    join(&spec.output.charts.value, &chart.name.value),
                    chart.name.span,
                ),
            };
            for file in chart.files() {
                out.push(Output {
                    path: join(&dir, &file),
                    what: format!("the values of chart `{}`", chart.name.value),
                    span,
                    help: "give the chart its own folder with `path=\"...\"`".into(),
                });
            }
        }
    }

    /// The variants `image` is built in, as its `variants=` lists them (all by default).
    pub(super) fn built_variants(&self, image: &crate::spec::Image) -> Vec<usize> {
        match &image.variants {
            Some(list) => list
                .iter()
                .filter_map(|v| self.spec.variant_index(&v.value))
                .collect(),
            None => (0..self.spec.variants.len()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn one_spelling_per_file() {
        assert_eq!(normalized("./a//b/"), "a/b");
        assert_eq!(normalized("a/../b"), "b");
        assert_eq!(normalized("."), "");
    }
}
