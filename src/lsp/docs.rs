//! Documentation of nodes and properties for hover and completion, read from the
//! language reference itself (docs/language.md, embedded at build time): the editor and
//! the reference are one text, so they cannot drift apart.
//!
//! A node's or property's entry is the row of a reference table whose first cell names
//! it (`` `stage` ``, ``child `tag TEMPLATE` ``, `` `on "tag"` ``), in the section of
//! the node it belongs to.

use std::sync::OnceLock;

/// The language reference.
pub const LANGUAGE: &str = include_str!("../../docs/language.md");

/// A `##` section with its `###` subsections.
struct Section {
    title: String,
    rows: Vec<Row>,
}

/// A table row and its table's header.
struct Row {
    header: Vec<String>,
    cells: Vec<String>,
}

impl Row {
    /// What the first cell names: the first word inside its first backticks, after an
    /// optional `child `.
    fn key(&self) -> Option<&str> {
        let first = self.cells.first()?;
        let quoted = first.split('`').nth(1)?;
        quoted.split_whitespace().next()
    }

    /// The row as markdown: the entry's name, then each other cell under its header.
    fn markdown(&self, node: &str) -> String {
        let mut out = format!("**{}** ({node})", self.cells[0]);
        for (header, cell) in self.header.iter().zip(&self.cells).skip(1) {
            if !cell.is_empty() {
                out.push_str(&format!("\n\n*{header}*: {cell}"));
            }
        }
        out
    }

    /// The quoted choices in the row's cells (`"no"`, `"always"`), without quotes.
    fn choices(&self) -> Vec<String> {
        let mut out = Vec::new();
        for cell in self.cells.iter().skip(1) {
            for (i, code) in cell.split('`').enumerate() {
                if i % 2 == 1
                    && let Some(inner) = code.strip_prefix('"').and_then(|c| c.strip_suffix('"'))
                    && !inner.is_empty()
                    && !out.iter().any(|c| c == inner)
                {
                    out.push(inner.to_string());
                }
            }
        }
        out
    }
}

fn sections() -> &'static [Section] {
    static SECTIONS: OnceLock<Vec<Section>> = OnceLock::new();
    SECTIONS.get_or_init(|| parse(LANGUAGE))
}

fn parse(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            sections.push(Section {
                title: title.trim().to_string(),
                rows: Vec::new(),
            });
            header = None;
            continue;
        }
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells = cells(line);
        match &header {
            None => header = Some(cells),
            Some(_) if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) => {}
            Some(h) => {
                if let Some(section) = sections.last_mut() {
                    section.rows.push(Row {
                        header: h.clone(),
                        cells,
                    });
                }
            }
        }
    }
    sections
}

/// The cells of a table line; `\|` is a `|` inside a cell.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => cells.push(String::new()),
            c => {
                let c = if c == '\\' && chars.peek() == Some(&'|') {
                    chars.next().unwrap_or(c)
                } else {
                    c
                };
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The section a node at `path` is documented in, and the section its children are.
fn section_of(path: &[&str]) -> Option<&'static Section> {
    let title = match path {
        [] => "Top-level nodes",
        ["arg"] => "`arg` (top level)",
        [top] => return section_titled(&format!("`{top}`")),
        ["stage", ..] => "Instructions",
        ["image", "tag", ..] => "Tag rules",
        [top, ..] => return section_titled(&format!("`{top}`")),
    };
    section_titled(title)
}

fn section_titled(title: &str) -> Option<&'static Section> {
    sections().iter().find(|s| s.title == title)
}

/// The row documenting `name` in the section of `path`.
/// The row documenting `name` (a property or a child node) of the node at `path`: in a
/// table headed by the node's own name (`` | `smoke-test` | ``) first, else in any table
/// of its section not headed by another node's name.
fn row(path: &[&str], name: &str) -> Option<&'static Row> {
    let own = path.last().map(|n| format!("`{n}`"));
    let rows = || {
        [section_of(path), children_section(path)]
            .into_iter()
            .flatten()
            .flat_map(|s| &s.rows)
            .filter(|r| r.key() == Some(name) && !r.cells[0].starts_with("argument"))
    };
    let mut rows_of_own = rows().filter(|r| Some(&r.header[0]) == own.as_ref());
    rows_of_own
        .next()
        .or_else(|| rows().find(|r| !r.header[0].starts_with('`')))
}

/// The section that documents the children of the node at `path`: a stage's
/// instructions have their own.
fn children_section(path: &[&str]) -> Option<&'static Section> {
    match path {
        ["stage"] => section_titled("Instructions"),
        _ => section_of(path),
    }
}

/// The documentation of the node at `path` (its name last), as markdown.
pub fn node(path: &[&str]) -> Option<String> {
    let (name, parent) = path.split_last()?;
    if parent.is_empty() {
        let what = row(&[], name)?;
        let mut out = format!("**`{name}`**: {}", what.cells.get(2)?);
        if let Some(section) = section_of(path) {
            for r in section
                .rows
                .iter()
                .take_while(|r| r.header == section.rows[0].header)
            {
                out.push_str(&format!("\n- {}: {}", r.cells[0], r.cells.last()?));
            }
        }
        return Some(out);
    }
    Some(row(parent, name)?.markdown(&parent.join(" ")))
}

/// The documentation of property `key` of the node at `path`: its own row where the
/// reference has one, else the node's (whose row describes its properties).
pub fn property(path: &[&str], key: &str) -> Option<String> {
    if let Some(r) = row(path, key) {
        return Some(r.markdown(path.last().unwrap_or(&"")));
    }
    node(path)
}

/// The properties the reference lists for the node at `path`: its section's rows that
/// name a property (top-level nodes), or the backticked names in the node's own row.
pub fn properties(path: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let [_top] = path
        && let Some(section) = section_of(path)
    {
        for r in &section.rows {
            let first = &r.cells[0];
            if first.starts_with('`') && !first.contains(' ') && r.header[0] == "entry" {
                out.extend(r.key().map(String::from));
            }
        }
        return out;
    }
    if let [.., "stage", _] = path
        && let Some(section) = section_of(path)
    {
        // `variants` and `lint-ignore`, which every instruction takes.
        for r in section.rows.iter().filter(|r| r.header[0] == "property") {
            out.extend(r.key().map(String::from));
        }
    }
    let Some((name, parent)) = path.split_last() else {
        return out;
    };
    // A node with a table of its own (`smoke-test`): the rows that name a property.
    let own = format!("`{name}`");
    let table = section_of(path)
        .into_iter()
        .flat_map(|s| &s.rows)
        .filter(|r| r.header[0] == own && r.cells[0].starts_with('`'));
    let table: Vec<String> = table.filter_map(|r| r.key().map(String::from)).collect();
    if !table.is_empty() {
        return table;
    }
    if let Some(r) = row(parent, name) {
        for cell in r.cells.iter().skip(1) {
            for (i, code) in cell.split('`').enumerate() {
                let word = code.trim();
                if i % 2 == 1
                    && !word.is_empty()
                    && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    && word != *name
                    && !out.iter().any(|o| o == word)
                {
                    out.push(word.to_string());
                }
            }
        }
    }
    out
}

/// The values the reference offers for property `key` of the node at `path`, or for its
/// argument (`key` `None`): `restart "unless-stopped"`, `on "tag"`, `when="branch"`.
pub fn choices(path: &[&str], key: Option<&str>) -> Vec<String> {
    let Some((name, parent)) = path.split_last() else {
        return Vec::new();
    };
    match key {
        None => {
            // `on "tag"`: one row per choice, named in the first cell.
            let section = section_of(parent);
            let mut out: Vec<String> = section
                .into_iter()
                .flat_map(|s| &s.rows)
                .filter(|r| r.key() == Some(name))
                .filter_map(|r| {
                    let first = r.cells[0].split('`').nth(1)?;
                    let choice = first.split_once(' ')?.1;
                    let choice = choice.strip_prefix('"')?.strip_suffix('"')?;
                    Some(choice.to_string())
                })
                .collect();
            if out.is_empty() {
                out = row(parent, name).map(Row::choices).unwrap_or_default();
            }
            out
        }
        Some("when") => section_titled("Tag rules")
            .into_iter()
            .flat_map(|s| &s.rows)
            .filter(|r| r.header[0] == "`when`")
            .filter_map(|r| r.key().map(|k| k.trim_matches('"').to_string()))
            .collect(),
        Some(key) => row(path, key).map(Row::choices).unwrap_or_default(),
    }
}

/// The child nodes the reference documents for the node at `path`.
pub fn children(path: &[&str]) -> Vec<String> {
    let Some(section) = children_section(path) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for r in &section.rows {
        let first = &r.cells[0];
        let child = match path {
            [] => true,
            ["stage"] => r.header[0] == "instruction",
            ["stage", "run"] => r.header[0] == "child",
            [_] => {
                (first.starts_with("child ") || r.header[0] == "child")
                    && !r.header[0].starts_with('`')
            }
            [.., name] => first.starts_with("child ") && r.header[0] == format!("`{name}`"),
        };
        if child
            && let Some(key) = r.key()
            && !out.iter().any(|o| o == key)
        {
            out.push(key.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_by_their_first_cell() {
        assert!(
            node(&["image"])
                .unwrap()
                .starts_with("**`image`**: a shipped image")
        );
        assert!(
            property(&["image"], "stage")
                .unwrap()
                .contains("the final stage")
        );
        assert_eq!(
            choices(&["service", "restart"], None),
            [
                "no",
                "always",
                "unless-stopped",
                "on-failure",
                "on-failure:N"
            ]
        );
        assert_eq!(
            choices(&["workflow", "on"], None),
            [
                "tag",
                "push",
                "release",
                "dispatch",
                "pull-request",
                "schedule"
            ]
        );
        assert_eq!(
            choices(&["image", "tag"], Some("when")),
            ["release", "branch", "schedule", "pr", "always"]
        );
        assert!(children(&["stage"]).contains(&"copy".to_string()));
        assert!(properties(&["stage", "copy"]).contains(&"chown".to_string()));
    }
}
