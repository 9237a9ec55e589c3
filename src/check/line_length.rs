//! BuildKit reads a Dockerfile line by line with a 64 KiB buffer; a longer line fails the
//! whole file. Each line the Dockerfile renderer writes is bounded here from the values on
//! it (their worst-case escaped length), so a spec `check` accepts always renders lines
//! BuildKit can read. The bound is a little generous: a line within a few hundred bytes
//! of the limit may be refused although its exact text would fit.

use super::Checker;
use crate::diagnostics::Error;
use std::fmt::Display;

use miette::SourceSpan;

use crate::spec::{InstructionKind, Mount, Spanned};
use crate::value::dockerfile::{MAX_LINE_BYTES, line_len_bound};

/// A value on a line: where it is in the spec, and its text as the spec wrote it.
type Val = (SourceSpan, String);

fn val<T: Display>(s: &Spanned<T>) -> Val {
    (s.span, s.value.to_string())
}

impl Checker<'_> {
    /// Every Dockerfile line the spec's values make.
    pub(super) fn line_lengths(&mut self) {
        let spec = self.spec;
        let mut lines: Vec<(&str, Vec<Val>)> = Vec::new();
        for stage in &spec.stages {
            lines.push((
                "the stage's FROM line",
                vec![val(&stage.from), val(&stage.name)],
            ));
            for ins in &stage.instructions {
                instruction_lines(&ins.kind, &mut lines);
            }
        }
        for arg in spec
            .args
            .iter()
            .chain(spec.variants.iter().flat_map(|v| &v.args))
        {
            let mut values = vec![val(&arg.name)];
            values.extend(arg.value.iter().map(val));
            lines.push(("a build argument", values));
        }
        let p = &spec.project;
        lines.push(("the project version", vec![val(&p.version)]));
        let labels = p
            .description
            .iter()
            .chain(spec.images.iter().filter_map(|i| i.description.as_ref()))
            .chain(&p.source)
            .chain(&p.url)
            .chain(&p.license)
            .chain(spec.images.iter().map(|i| &i.name));
        for label in labels {
            lines.push(("an OCI label", vec![val(label)]));
        }
        if !p.maintainers.is_empty() {
            lines.push((
                "the maintainers label",
                p.maintainers.iter().map(val).collect(),
            ));
        }
        for (what, values) in lines {
            let bytes = line_len_bound(values.iter().map(|(_, t)| t.as_str()));
            if bytes > MAX_LINE_BYTES
                && let Some((span, _)) = values.iter().max_by_key(|(_, t)| t.len())
            {
                self.push(Error::LineTooLong {
                    what: what.into(),
                    bytes,
                    span: *span,
                });
            }
        }
    }
}

/// The values on each line `kind` is written as.
fn instruction_lines(kind: &InstructionKind, lines: &mut Vec<(&'static str, Vec<Val>)>) {
    fn opt<T: Display>(o: &Option<Spanned<T>>) -> Vec<Val> {
        o.iter().map(val).collect()
    }
    match kind {
        InstructionKind::Workdir(t) => lines.push(("the working directory", vec![val(t)])),
        InstructionKind::User(t) => lines.push(("the user", vec![val(t)])),
        InstructionKind::Copy(c) => {
            let mut v: Vec<Val> = c.sources.iter().chain([&c.to]).map(val).collect();
            v.extend(opt(&c.from));
            v.extend(opt(&c.chown));
            v.extend(opt(&c.chmod));
            lines.push(("a `copy`", v));
        }
        InstructionKind::Add(a) => {
            let mut v: Vec<Val> = a.sources.iter().chain([&a.to]).map(val).collect();
            v.extend(opt(&a.chown));
            v.extend(opt(&a.chmod));
            v.extend(opt(&a.checksum));
            lines.push(("an `add`", v));
        }
        InstructionKind::Run(run) => {
            let mut first: Vec<Val> = Vec::new();
            for m in &run.mounts {
                match m {
                    Mount::Cache {
                        target,
                        id,
                        sharing,
                    } => {
                        first.push(val(target));
                        first.extend(id.iter().chain(sharing).map(val));
                    }
                    Mount::Secret { id, target, .. } => {
                        first.push(val(id));
                        first.extend(target.iter().map(val));
                    }
                    Mount::Bind { source, target, .. } => first.extend([val(source), val(target)]),
                }
            }
            let mut commands = run.commands.iter();
            first.extend(commands.next().map(val));
            lines.push(("a `run` command", first));
            for c in commands {
                lines.push(("a `run` command", vec![val(c)]));
            }
        }
        InstructionKind::Env(pairs) => {
            for e in pairs {
                lines.push(("an `env` value", vec![val(&e.name), val(&e.value)]));
            }
        }
        InstructionKind::Arg(a) => {
            let mut v = vec![val(&a.name)];
            v.extend(a.value.iter().map(val));
            lines.push(("an `arg` default", v));
        }
        InstructionKind::Expose(ports) => lines.push(("`expose`", ports.iter().map(val).collect())),
        InstructionKind::Healthcheck(h) => {
            let mut v = vec![val(&h.command)];
            v.extend(
                h.interval
                    .iter()
                    .chain(&h.timeout)
                    .chain(&h.start_period)
                    .map(val),
            );
            lines.push(("a health check", v));
        }
        InstructionKind::Label(k, v) => lines.push(("a label", vec![val(k), val(v)])),
        InstructionKind::Volume(w) => lines.push(("`volume`", w.iter().map(val).collect())),
        InstructionKind::Shell(w) => lines.push(("`shell`", w.iter().map(val).collect())),
        InstructionKind::Entrypoint(w) => lines.push(("`entrypoint`", w.iter().map(val).collect())),
        InstructionKind::Cmd(w) => lines.push(("`cmd`", w.iter().map(val).collect())),
        InstructionKind::CmdShell(t) => lines.push(("`cmd`", vec![val(t)])),
        InstructionKind::EntrypointShell(t) => lines.push(("`entrypoint`", vec![val(t)])),
        InstructionKind::Comment(t) => lines.push(("a comment", vec![val(t)])),
    }
}
