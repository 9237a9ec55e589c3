//! `(expand)` values in stages: Docker expands `$VAR` in them, so every variable they name
//! must be one the stage declares before the instruction (an `arg` of the stage, or an
//! `env` of the stage or of a stage it builds from), and the value must expand as
//! written. A top-level `arg` is a global `ARG`, which Docker does not let instructions
//! see unless the stage declares `arg NAME` again.

use std::collections::BTreeSet;

use super::Checker;
use crate::diagnostics::{Error, closest};
use crate::spec::{Instruction, InstructionKind, Stage, Text, inner_span};
use crate::value::dockerfile::variable_refs;

/// The variables an instruction can read.
type Scope<'s> = BTreeSet<&'s str>;

/// True when `decl` applies in every variant `ins` applies in.
fn covers(decl: &Instruction, ins: &Instruction) -> bool {
    match (&decl.variants, &ins.variants) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(d), Some(i)) => i.iter().all(|v| d.iter().any(|w| w.value == v.value)),
    }
}

/// The names `ins` declares: `env` names, and `arg` names too when `args`.
fn declared(ins: &Instruction, args: bool) -> Vec<&str> {
    match &ins.kind {
        InstructionKind::Arg(a) if args => vec![a.name.as_str()],
        InstructionKind::Env(pairs) => pairs.iter().map(|e| e.name.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// Every value of `ins` that Docker expands.
fn expanded_values(ins: &Instruction) -> Vec<&Text> {
    let all: Vec<&Text> = match &ins.kind {
        InstructionKind::Env(pairs) => {
            return pairs
                .iter()
                .filter(|e| e.expand)
                .map(|e| &e.value)
                .collect();
        }
        InstructionKind::Workdir(t) | InstructionKind::User(t) => vec![t],
        InstructionKind::Label(_, v) => vec![v],
        InstructionKind::Arg(a) => a.value.iter().collect(),
        InstructionKind::Expose(list) | InstructionKind::Volume(list) => list.iter().collect(),
        InstructionKind::Copy(c) => std::iter::once(&c.to).chain(&c.chown).collect(),
        InstructionKind::Add(a) => std::iter::once(&a.to).chain(&a.chown).collect(),
        _ => Vec::new(),
    };
    all.into_iter().filter(|t| ins.expands(t)).collect()
}

impl<'s> Checker<'s> {
    /// Every `(expand)` value of every stage.
    pub(super) fn expansions(&mut self) {
        for stage in &self.spec.stages {
            for (i, ins) in stage.instructions.iter().enumerate() {
                let values = expanded_values(ins);
                if values.is_empty() {
                    continue;
                }
                let scope = self.scope(stage, i);
                for value in values {
                    self.expansion(stage, &scope, value);
                }
            }
        }
    }

    /// What instruction `i` of `stage` can read: the stage's own `arg` and `env` before
    /// it, and the `env` of the stages it builds from (Docker keeps ENV across `FROM
    /// stage`, but not ARG).
    fn scope(&self, stage: &'s Stage, i: usize) -> Scope<'s> {
        let ins = &stage.instructions[i];
        let mut names: BTreeSet<&str> = stage.instructions[..i]
            .iter()
            .filter(|d| covers(d, ins))
            .flat_map(|d| declared(d, true))
            .collect();
        // Docker gives every image a default `PATH`.
        names.insert("PATH");
        for p in self.ancestors(stage) {
            let env = p.instructions.iter().filter(|d| covers(d, ins));
            names.extend(env.flat_map(|d| declared(d, false)));
        }
        names
    }

    /// The stages `stage` builds from, nearest first.
    pub(super) fn ancestors(&self, stage: &'s Stage) -> Vec<&'s Stage> {
        let mut chain: Vec<&Stage> = Vec::new();
        let mut parent = self.spec.stage_index(stage.from.value.as_str());
        while let Some(p) = parent {
            let p = &self.spec.stages[p];
            if p.name.value == stage.name.value || chain.iter().any(|s| s.name == p.name) {
                break;
            }
            chain.push(p);
            parent = self.spec.stage_index(p.from.value.as_str());
        }
        chain
    }

    /// The image (not a stage) at the root of `stage`'s chain, unless it is `scratch`.
    fn base_image(&self, stage: &'s Stage) -> Option<String> {
        let root = self.ancestors(stage).last().copied().unwrap_or(stage);
        let from = root.from.value.as_str();
        (from != "scratch").then(|| from.to_string())
    }

    fn expansion(&mut self, stage: &Stage, scope: &Scope, value: &Text) {
        let refs = match variable_refs(&value.value) {
            Ok(refs) => refs,
            Err(e) => {
                self.push(Error::InvalidExpansion {
                    span: inner_span(value.span, &value.value, e.start, e.len),
                    reason: e.reason,
                    help: "write `$NAME`, `${NAME}` or `${NAME:-default}`; for a literal `$`, leave `(expand)` out".into(),
                });
                return;
            }
        };
        for r in refs {
            if scope.contains(r.name.as_str()) {
                continue;
            }
            let global = self.spec.args.iter().any(|a| a.name.value == r.name);
            let declare = format!(
                "declare it in stage `{}` before this instruction: `arg {}` (a build argument) or `env {} \"...\"`",
                stage.name.value, r.name, r.name
            );
            let from_image = self.base_image(stage).map(|image| {
                format!(
                    "; if base image `{image}` sets it, declare it with `arg {}` and no value (the image's ENV wins over an ARG of the same name)",
                    r.name
                )
            });
            let declare = declare + from_image.as_deref().unwrap_or("");
            let help = if global {
                format!(
                    "a top-level `arg` is a global ARG, which Docker hides inside stages; {declare}"
                )
            } else {
                match closest(&r.name, scope.iter().copied()) {
                    Some(meant) => format!("did you mean `{meant}`? Otherwise {declare}"),
                    None => declare,
                }
            };
            self.push(Error::UndeclaredVariable {
                name: r.name.clone(),
                stage: stage.name.value.clone(),
                span: inner_span(value.span, &value.value, r.start, r.len),
                help,
            });
        }
    }
}
