//! What the editor features need from a parsed spec: the declared names and every
//! reference to them (each with the span of the name's own text), and what the cursor
//! is on. Read from the KDL document `syntax::parse` gives, so that it works on a spec
//! that parses but does not decode or check (a half-typed `image app`).
//!
//! Which property refers to which kind of declaration is the table of docs/language.md
//! ("References between nodes"), in [`reference_kind`].

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

/// The kinds of declarations a reference can name.
pub const KINDS: &[&str] = &[
    "stage", "variant", "registry", "image", "service", "workflow", "chart",
];

/// A declared name or a reference to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub kind: &'static str,
    pub name: String,
    /// The name's own text (inside the quotes); the whole entry when the name is not
    /// written verbatim (escapes, a raw string).
    pub span: SourceSpan,
    /// True when `span` is exactly the name, so a rename may replace it.
    pub exact: bool,
}

/// A top-level node or a node inside it, for the outline.
#[derive(Debug, Clone)]
pub struct Outline {
    pub node: String,
    /// Argument 1, when it is a string.
    pub label: Option<String>,
    pub span: SourceSpan,
    pub name_span: SourceSpan,
    pub children: Vec<Outline>,
}

/// The names and references of one parsed document.
#[derive(Debug, Default)]
pub struct Index {
    pub declarations: Vec<Name>,
    pub references: Vec<Name>,
    pub outline: Vec<Outline>,
    /// References that may be image references instead, until declarations are known.
    maybe: Vec<Name>,
}

/// The part of a node the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The node's name.
    Node,
    /// A property's key.
    Key(String),
    /// A property's value.
    Value(String),
    /// Argument `n` (0-based).
    Argument(usize),
}

/// Where the cursor is: the names of the nodes from the top level down to the one it is
/// in, and the part of that node; `part` is `None` between a node's entries, or inside
/// its children block between nodes (then `inside` is true).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spot {
    pub path: Vec<String>,
    pub part: Option<Part>,
    /// The text of the part up to the cursor (for completion).
    pub typed: String,
    pub span: SourceSpan,
    pub inside: bool,
}

/// The kind of declaration the value of `property` (or argument `argument`) on the node
/// at `path` names, if it names one.
pub fn reference_kind(
    path: &[&str],
    property: Option<&str>,
    argument: Option<usize>,
) -> Option<&'static str> {
    match (property, argument) {
        (Some("stage" | "from"), _) => Some("stage"),
        (Some("variant" | "variants"), _) => Some("variant"),
        (Some("registry" | "registries"), _) => Some("registry"),
        (Some("image"), _) => Some("image"),
        (None, Some(i)) => match path {
            [.., "service", "depends-on"] => Some("service"),
            [.., "workflow", "images"] => Some("image"),
            [.., "workflow", "chart"] if i == 0 => Some("chart"),
            [.., "chart", "image"] if i == 0 => Some("image"),
            _ => None,
        },
        _ => None,
    }
}

/// Properties whose value is a list of names.
fn is_list(property: &str) -> bool {
    matches!(property, "variants" | "registries")
}

/// Properties (and arguments) whose value is a reference to a declaration only when a
/// declaration of that name exists (else an image reference such as `alpine:3.20`).
fn may_be_external(property: Option<&str>) -> bool {
    matches!(property, Some("from" | "image"))
}

impl Index {
    pub fn of(doc: &KdlDocument, src: &str) -> Index {
        let mut index = Index::default();
        let mut path = Vec::new();
        index.outline = doc
            .nodes()
            .iter()
            .map(|n| index.walk(n, src, &mut path))
            .collect();
        // `from=alpine:3.20` is an image reference, not a stage: kept only when declared.
        let maybe = std::mem::take(&mut index.maybe);
        for r in maybe {
            if index
                .declarations
                .iter()
                .any(|d| d.kind == r.kind && d.name == r.name)
            {
                index.references.push(r);
            }
        }
        index.references.sort_by_key(|r| r.span.offset());
        index
    }

    fn walk(&mut self, node: &KdlNode, src: &str, path: &mut Vec<String>) -> Outline {
        let name = node.name().value().to_string();
        let args: Vec<&KdlEntry> = node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect();
        let label = args
            .first()
            .and_then(|e| e.value().as_string().map(String::from));
        let kind = KINDS.iter().find(|k| **k == name).copied();
        if let (true, Some(kind), Some(first)) = (path.is_empty(), kind, args.first()) {
            self.declarations.extend(names(kind, first, src, false));
        }
        path.push(name.clone());
        let here: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut argument = 0;
        for entry in node.entries() {
            let key = entry.name().map(|k| k.value());
            let arg = key.is_none().then_some(argument);
            argument += usize::from(key.is_none());
            let Some(kind) = reference_kind(&here, key, arg) else {
                continue;
            };
            let list = key.is_some_and(is_list);
            let found = names(kind, entry, src, list);
            if may_be_external(key) {
                self.maybe.extend(found);
            } else {
                self.references.extend(found);
            }
        }
        let children = node
            .children()
            .map(|d| d.nodes().iter().map(|n| self.walk(n, src, path)).collect())
            .unwrap_or_default();
        path.pop();
        Outline {
            node: name,
            label,
            span: node.span(),
            name_span: node.name().span(),
            children,
        }
    }
}

/// The names an entry's string value holds (one, or a list's items), each with the span
/// of its text.
fn names(kind: &'static str, entry: &KdlEntry, src: &str, list: bool) -> Vec<Name> {
    let KdlValue::String(value) = entry.value() else {
        return Vec::new();
    };
    let (start, exact) = match value_start(entry, src, value) {
        Some(start) => (start, true),
        None => (entry.span().offset(), false),
    };
    let span_of = |at: usize, len: usize| {
        if exact {
            SourceSpan::from((start + at, len))
        } else {
            entry.span()
        }
    };
    if !list {
        return vec![Name {
            kind,
            name: value.clone(),
            span: span_of(0, value.len()),
            exact,
        }];
    }
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|item| !item.is_empty())
        .map(|item| {
            // `item` is a slice of `value`: its offset there is the pointers' distance.
            let at = item.as_ptr() as usize - value.as_ptr() as usize;
            Name {
                kind,
                name: item.to_string(),
                span: span_of(at, item.len()),
                exact,
            }
        })
        .collect()
}

/// The byte offset where an entry's string value starts in the source, when it is
/// written verbatim there (bare, or in plain quotes without escapes).
pub fn value_start(entry: &KdlEntry, src: &str, value: &str) -> Option<usize> {
    let span = entry.span();
    let raw = src.get(span.offset()..span.offset() + span.len())?;
    let mut skip = match entry.name() {
        Some(key) => key.span().offset() + key.span().len() - span.offset(),
        None => 0,
    };
    let rest = raw.get(skip..)?;
    let trimmed = rest.trim_start_matches(|c: char| c == '=' || c.is_whitespace());
    skip += rest.len() - trimmed.len();
    // A type annotation: `(expand)"..."`.
    let (skip, trimmed) = match trimmed.strip_prefix('(') {
        Some(after) => {
            let close = after.find(')')? + 2;
            (skip + close, trimmed.get(close..)?)
        }
        None => (skip, trimmed),
    };
    if trimmed == value {
        return Some(span.offset() + skip);
    }
    let inner = trimmed.strip_prefix('"')?.strip_suffix('"')?;
    (inner == value && !trimmed.starts_with("\"\"\"")).then_some(span.offset() + skip + 1)
}

/// What the cursor at byte `offset` is on.
pub fn spot(doc: &KdlDocument, src: &str, offset: usize) -> Spot {
    let mut path = Vec::new();
    let mut nodes = doc.nodes();
    let mut inside = true;
    let mut found: Option<&KdlNode> = None;
    while let Some(node) = nodes.iter().find(|n| contains(n.span(), offset)) {
        path.push(node.name().value().to_string());
        found = Some(node);
        inside = false;
        match node.children() {
            Some(children) if children_contain(children, src, offset) => {
                nodes = children.nodes();
                inside = true;
                found = None;
            }
            _ => break,
        }
    }
    let none = |path: Vec<String>, inside| Spot {
        path,
        part: None,
        typed: String::new(),
        span: SourceSpan::from((offset, 0)),
        inside,
    };
    let Some(node) = found else {
        return none(path, inside);
    };
    let typed = |span: SourceSpan| {
        src.get(span.offset()..offset.max(span.offset()))
            .unwrap_or_default()
            .to_string()
    };
    let at = |part: Part, span: SourceSpan| Spot {
        path: path.clone(),
        part: Some(part),
        typed: typed(span),
        span,
        inside: false,
    };
    if contains(node.name().span(), offset) {
        return at(Part::Node, node.name().span());
    }
    let mut argument = 0;
    for entry in node.entries() {
        if let Some(key) = entry.name() {
            if contains(key.span(), offset) {
                return at(Part::Key(key.value().to_string()), key.span());
            }
            if contains(entry.span(), offset) {
                let span = value_span(entry, src);
                return at(Part::Value(key.value().to_string()), span);
            }
        } else {
            if contains(entry.span(), offset) {
                return at(Part::Argument(argument), value_span(entry, src));
            }
            argument += 1;
        }
    }
    none(path, false)
}

/// The span of an entry's value text, inside its quotes when it has plain ones.
fn value_span(entry: &KdlEntry, src: &str) -> SourceSpan {
    let value = match entry.value() {
        KdlValue::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value_start(entry, src, &value) {
        Some(start) => SourceSpan::from((start, value.len())),
        None => entry.span(),
    }
}

/// True when `offset` is in `span` or just after it (where a cursor that typed it is).
fn contains(span: SourceSpan, offset: usize) -> bool {
    span.offset() <= offset && offset <= span.offset() + span.len()
}

/// True when `offset` is inside the braces of a children block.
fn children_contain(children: &KdlDocument, src: &str, offset: usize) -> bool {
    let span = children.span();
    let open = src
        .get(..span.offset().min(src.len()))
        .and_then(|before| before.rfind('{'));
    let end = span.offset() + span.len();
    let close = src
        .get(end..)
        .and_then(|after| after.find('}'))
        .map(|i| end + i);
    match (open, close) {
        (Some(open), Some(close)) => open < offset && offset <= close,
        _ => contains(span, offset),
    }
}
