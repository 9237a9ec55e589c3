//! The real-world corpus's own bookkeeping (`tests/realworld/README.md`): every spec names
//! its source repository and the commits of the files it was modelled on, and the README's
//! table lists each project with those commits and its measured count of `// APPROX:`
//! comments. (The corpus's outputs are checked by the golden, validator, Helm and
//! consistency tests.)

use crate::support::corpus;
use crate::support::validators::repo_root;

/// The 40-hex-digit commits named in `text`, in order, without repeats.
fn commits(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_ascii_hexdigit()) {
        if word.len() == 40 && !out.iter().any(|c| c == word) {
            out.push(word.to_string());
        }
    }
    out
}

/// The README row of `project`: its cells, trimmed.
fn row<'a>(readme: &'a str, project: &str) -> Option<Vec<&'a str>> {
    readme
        .lines()
        .filter_map(|l| l.strip_prefix('|'))
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&project))
}

#[test]
fn readme_table_matches_the_corpus() {
    let readme = std::fs::read_to_string(repo_root().join(corpus::ROOT).join("README.md"))
        .expect("read tests/realworld/README.md");
    let mut problems = Vec::new();
    for project in corpus::projects() {
        let spec = std::fs::read_to_string(
            repo_root()
                .join(corpus::ROOT)
                .join(&project)
                .join("specc.kdl"),
        )
        .expect("read the spec");
        let header: String = spec
            .lines()
            .take_while(|l| l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        if !header.contains("https://github.com/") {
            problems.push(format!("{project}: the header names no repository"));
        }
        let spec_commits = commits(&header);
        if spec_commits.is_empty() {
            problems.push(format!("{project}: the header names no commit"));
        }
        let approximations = spec.matches("// APPROX:").count();
        let Some(cells) = row(&readme, &project) else {
            problems.push(format!("{project}: no row in the README"));
            continue;
        };
        let [_, repository, readme_commits, _, count] = cells[..5] else {
            problems.push(format!("{project}: the README row has too few cells"));
            continue;
        };
        if !header.contains(repository) {
            problems.push(format!("{project}: the spec does not name {repository}"));
        }
        let mut want = spec_commits.clone();
        want.sort();
        let mut got = commits(readme_commits);
        got.sort();
        if want != got {
            problems.push(format!(
                "{project}: README commits {got:?}, spec commits {want:?}"
            ));
        }
        if count != approximations.to_string() {
            problems.push(format!(
                "{project}: README says {count} approximations, the spec has {approximations}"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
