//! The real-world corpus: `tests/realworld/<project>/specc.kdl`, specs modelled on public
//! projects' own build setups (see `tests/realworld/README.md`). Each folder is also its
//! golden: the outputs `specc generate` writes next to the spec are committed there.

use super::validators::repo_root;

/// The corpus folder, relative to the repository root.
pub const ROOT: &str = "tests/realworld";

/// The project names (`tests/realworld/<name>/specc.kdl` exists), sorted.
pub fn projects() -> Vec<String> {
    let dir = repo_root().join(ROOT);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("list tests/realworld").file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| dir.join(n).join("specc.kdl").is_file())
        .collect();
    names.sort();
    assert!(
        names.len() >= 8,
        "the corpus needs at least 8 projects, found {names:?}"
    );
    names
}

/// `(path relative to the repository root, text)` of every corpus spec.
pub fn specs() -> Vec<(String, String)> {
    projects()
        .into_iter()
        .map(|name| {
            let rel = format!("{ROOT}/{name}/specc.kdl");
            let text = std::fs::read_to_string(repo_root().join(&rel))
                .unwrap_or_else(|e| panic!("read {rel}: {e}"));
            (rel, text)
        })
        .collect()
}
