//! BuildKit reads a Dockerfile line by line with a 64 KiB buffer; a longer line fails the
//! whole file. Each line the Dockerfile renderer writes is bounded here from the values on
//! it (their worst-case escaped length), so a spec `check` accepts always renders lines
//! BuildKit can read. The bound is a little generous: a line within a few hundred bytes
//! of the limit may be refused although its exact text would fit.

use super::Checker;
use crate::diagnostics::Error;
use crate::spec::{InstructionKind, Mount, Text};
use crate::value::dockerfile::{MAX_LINE_BYTES, line_len_bound};

impl Checker<'_> {
    /// Every Dockerfile line the spec's values make.
    pub(super) fn line_lengths(&mut self) {
        let spec = self.spec;
        let mut lines: Vec<(&str, Vec<&Text>)> = Vec::new();
        for stage in &spec.stages {
            lines.push(("the stage's FROM line", vec![&stage.from, &stage.name]));
            for ins in &stage.instructions {
                instruction_lines(&ins.kind, &mut lines);
            }
        }
        for arg in spec
            .args
            .iter()
            .chain(spec.variants.iter().flat_map(|v| &v.args))
        {
            let mut values = vec![&arg.name];
            values.extend(arg.value.as_ref());
            lines.push(("a build argument", values));
        }
        let p = &spec.project;
        lines.push(("the project version", vec![&p.version]));
        let labels = p
            .description
            .iter()
            .chain(spec.images.iter().filter_map(|i| i.description.as_ref()))
            .chain(&p.source)
            .chain(&p.license)
            .chain(spec.images.iter().map(|i| &i.name));
        for label in labels {
            lines.push(("an OCI label", vec![label]));
        }
        if !p.maintainers.is_empty() {
            lines.push(("the maintainers label", p.maintainers.iter().collect()));
        }
        for (what, values) in lines {
            let bytes = line_len_bound(values.iter().map(|t| t.value.as_str()));
            if bytes > MAX_LINE_BYTES
                && let Some(longest) = values.iter().max_by_key(|t| t.value.len())
            {
                self.push(Error::LineTooLong {
                    what: what.into(),
                    bytes,
                    span: longest.span,
                });
            }
        }
    }
}

/// The values on each line `kind` is written as.
fn instruction_lines<'s>(
    kind: &'s InstructionKind,
    lines: &mut Vec<(&'static str, Vec<&'s Text>)>,
) {
    let opt = |o: &'s Option<Text>| o.iter().collect::<Vec<_>>();
    match kind {
        InstructionKind::Workdir(t) => lines.push(("the working directory", vec![t])),
        InstructionKind::User(t) => lines.push(("the user", vec![t])),
        InstructionKind::Copy(c) => {
            let mut v: Vec<&Text> = c.sources.iter().chain([&c.to]).collect();
            v.extend(opt(&c.from));
            v.extend(opt(&c.chown));
            v.extend(opt(&c.chmod));
            lines.push(("a `copy`", v));
        }
        InstructionKind::Add(a) => {
            let mut v: Vec<&Text> = a.sources.iter().chain([&a.to]).collect();
            v.extend(opt(&a.chown));
            v.extend(opt(&a.chmod));
            v.extend(opt(&a.checksum));
            lines.push(("an `add`", v));
        }
        InstructionKind::Run(run) => {
            let mut first: Vec<&Text> = Vec::new();
            for m in &run.mounts {
                match m {
                    Mount::Cache {
                        target,
                        id,
                        sharing,
                    } => {
                        first.push(target);
                        first.extend(id.iter().chain(sharing));
                    }
                    Mount::Secret { id, target, .. } => {
                        first.push(id);
                        first.extend(target);
                    }
                }
            }
            let mut commands = run.commands.iter();
            first.extend(commands.next());
            lines.push(("a `run` command", first));
            for c in commands {
                lines.push(("a `run` command", vec![c]));
            }
        }
        InstructionKind::Env(pairs) => {
            for e in pairs {
                lines.push(("an `env` value", vec![&e.name, &e.value]));
            }
        }
        InstructionKind::Arg(a) => {
            let mut v = vec![&a.name];
            v.extend(&a.value);
            lines.push(("an `arg` default", v));
        }
        InstructionKind::Expose(ports) => lines.push(("`expose`", ports.iter().collect())),
        InstructionKind::Healthcheck(h) => {
            let mut v = vec![&h.command];
            v.extend(h.interval.iter().chain(&h.timeout).chain(&h.start_period));
            lines.push(("a health check", v));
        }
        InstructionKind::Label(k, v) => lines.push(("a label", vec![k, v])),
        InstructionKind::Volume(w) => lines.push(("`volume`", w.iter().collect())),
        InstructionKind::Shell(w) => lines.push(("`shell`", w.iter().collect())),
        InstructionKind::Entrypoint(w) => lines.push(("`entrypoint`", w.iter().collect())),
        InstructionKind::Cmd(w) => lines.push(("`cmd`", w.iter().collect())),
    }
}
