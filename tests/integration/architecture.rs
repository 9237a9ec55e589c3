//! The pipeline's layering (docs/architecture.md), read from the source: each top-level
//! module of `src/` may use only the modules before it, so no stage calls a later one
//! and there is no module cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::validators::repo_root;

/// The modules in pipeline order, and the order's exceptions-free rule: a module may use
/// a module that comes earlier in this list, never a later one.
const LAYERS: &[&str] = &[
    "diagnostics",
    "syntax",
    "value",
    "spec",
    "check",
    "diagram",
    "plan",
    "render",
    "sync",
    "lsp",
    "cli",
];

/// The `crate::<module>` names a source text uses (tests excluded).
fn used_modules(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut used = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or_default()
                .split(',')
                .map(|n| n.trim().split("::").next().unwrap_or_default())
                .collect(),
            None => vec![
                rest.split(|c: char| !c.is_ascii_lowercase() && c != '_')
                    .next()
                    .unwrap_or_default(),
            ],
        };
        used.extend(
            names
                .into_iter()
                .filter(|n| !n.is_empty())
                .map(String::from),
        );
    }
    used
}

/// Top-level module -> the modules its files use.
fn module_uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.expect("src is readable");
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a file name")
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(path).expect("a readable source file");
        uses.entry(top).or_default().extend(used_modules(&text));
    }
    uses
}

#[test]
fn every_module_uses_only_earlier_stages() {
    let uses = module_uses(&repo_root().join("src"));
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut problems = Vec::new();
    for (module, used) in &uses {
        let Some(own) = rank(module) else {
            if !["lib", "main"].contains(&module.as_str()) {
                problems.push(format!("`src/{module}` is not in the layering; add it"));
            }
            continue;
        };
        for u in used {
            if rank(u).is_some_and(|r| r > own) {
                problems.push(format!("`{module}` uses `{u}`, a later stage"));
            }
        }
    }
    assert_eq!(problems, Vec::<String>::new(), "module layering");
}

/// The scanner sees both `crate::x::y` and `crate::{x, y::z}`: a check that cannot see a
/// use could not fail.
#[test]
fn the_layering_scanner_sees_uses() {
    let text = "use crate::plan::Plan;\nuse crate::{render, sync::apply};\nfn f() { crate::cli::main(); }\n#[cfg(test)]\nmod tests { use crate::spec; }";
    let found: Vec<String> = used_modules(text).into_iter().collect();
    assert_eq!(found, ["cli", "plan", "render", "sync"]);
}
