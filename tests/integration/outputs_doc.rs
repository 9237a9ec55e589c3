//! `docs/outputs.md` shows every file specc generates for one worked example, in full. This
//! test keeps it true: it generates the example spec (the page's first ```kdl block) the way
//! a user would (`specc generate specc.kdl` in an empty folder) and compares every block
//! whose info string carries `file=PATH` with the generated file, byte for byte; the page
//! must show every generated file. `SPECC_BLESS=1` rewrites the blocks from the real output.

use std::path::Path;
use std::process::Command;

const PAGE: &str = "docs/outputs.md";

/// A fenced block: the line range of its content and its info string.
struct Block {
    info: String,
    /// Lines (0-based) of the content, excluding the fences.
    content: std::ops::Range<usize>,
}

fn blocks(lines: &[&str]) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        match &open {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some((i, info.trim().to_string()));
                }
            }
            Some((start, info)) => {
                if line.trim_end() == "```" {
                    found.push(Block {
                        info: info.clone(),
                        content: start + 1..i,
                    });
                    open = None;
                }
            }
        }
    }
    assert!(open.is_none(), "{PAGE}: a fence is not closed");
    found
}

fn file_attribute(info: &str) -> Option<&str> {
    info.split_whitespace()
        .find_map(|w| w.strip_prefix("file="))
}

#[test]
fn the_outputs_page_shows_exactly_what_specc_generates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join(PAGE)).expect("docs/outputs.md is readable");
    let lines: Vec<&str> = page.lines().collect();
    let blocks = blocks(&lines);
    let spec = blocks
        .iter()
        .find(|b| b.info == "kdl")
        .expect("the page starts its example with a ```kdl block");
    let spec_text = lines[spec.content.clone()].join("\n") + "\n";

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("specc.kdl"), &spec_text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_specc"))
        .args(["generate", "specc.kdl"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the example does not generate:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut generated: Vec<String> = walk(dir.path())
        .into_iter()
        .filter(|p| p != "specc.kdl")
        .collect();
    generated.sort();
    let mut shown: Vec<String> = blocks
        .iter()
        .filter_map(|b| file_attribute(&b.info).map(str::to_string))
        .collect();
    shown.sort();

    let bless = std::env::var_os("SPECC_BLESS").is_some_and(|v| v == "1");
    if bless {
        // Rewrite each file block from the real output, last block first so earlier line
        // numbers stay valid.
        let mut new_lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for b in blocks.iter().rev() {
            if let Some(path) = file_attribute(&b.info) {
                let text = std::fs::read_to_string(dir.path().join(path)).unwrap_or_else(|_| {
                    panic!("{PAGE} shows {path}, which specc does not generate")
                });
                new_lines.splice(b.content.clone(), text.lines().map(str::to_string));
            }
        }
        std::fs::write(root.join(PAGE), new_lines.join("\n") + "\n").unwrap();
        assert_eq!(
            shown, generated,
            "blessed the blocks; add a block for every generated file"
        );
        return;
    }

    assert_eq!(
        shown, generated,
        "{PAGE} must show every generated file exactly once (run with SPECC_BLESS=1 after adding a block)"
    );
    for b in &blocks {
        if let Some(path) = file_attribute(&b.info) {
            let want = std::fs::read_to_string(dir.path().join(path)).unwrap();
            let have = lines[b.content.clone()].join("\n") + "\n";
            assert!(
                have == want,
                "{PAGE}: the block for `{path}` differs from what specc generates; \
                 re-bless with SPECC_BLESS=1 cargo nextest run --test outputs_doc\n{}",
                similar::TextDiff::from_lines(&have, &want)
                    .unified_diff()
                    .header("docs", "generated")
            );
        }
    }
}

/// Every file under `dir`, as `/`-separated paths relative to it.
fn walk(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}
