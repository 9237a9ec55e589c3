//! Typed access to one KDL node: arguments and properties in, spanned values out.
//!
//! A [`Reader`] is told which properties its node takes, reports unknown and repeated
//! ones at once, and on [`Reader::finish`] reports arguments and children blocks the
//! decoder never asked for, and every type annotation (`(expand)"..."`) on the node or an
//! entry that the decoder did not accept there: annotations are checked here, in one
//! place, so none is ever silently ignored. Problems go to the shared error list; the
//! accessors return `None` for a bad value so decoding goes on and finds the next problem
//! too.

use std::cell::RefCell;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::{Spanned, Text};
use crate::diagnostics::{Error, closest, suggest};

pub(super) type Errors = RefCell<Vec<Error>>;

pub(super) struct Reader<'a> {
    node: &'a KdlNode,
    src: &'a str,
    errors: &'a Errors,
    args: Vec<&'a KdlEntry>,
    props: Vec<&'a KdlEntry>,
    /// Unknown properties close to a known one (`form=` for `from=`): reported once, then
    /// read as the property they were probably meant to be, so that a typo does not also
    /// report the intended property as missing.
    guesses: Vec<(String, &'a KdlEntry)>,
    args_read: usize,
    children_read: bool,
    /// Offsets of the entries where the decoder accepts `(expand)`.
    expandable: RefCell<Vec<usize>>,
    /// Why `(expand)` has no meaning on this node's values, for the help of a misplaced one.
    no_expand: Option<&'static str>,
}

/// The one annotation the language knows.
const EXPAND: &str = "expand";

fn describe(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

impl<'a> Reader<'a> {
    /// Starts reading `node`, which takes the properties `allowed`.
    pub fn new(node: &'a KdlNode, src: &'a str, errors: &'a Errors, allowed: &[&str]) -> Self {
        let mut args = Vec::new();
        let mut props: Vec<&KdlEntry> = Vec::new();
        let mut guesses = Vec::new();
        for entry in node.entries() {
            let Some(key) = entry.name() else {
                args.push(entry);
                continue;
            };
            let key = key.value();
            if let Some(first) = props
                .iter()
                .find(|p| p.name().map(|n| n.value()) == Some(key))
            {
                errors.borrow_mut().push(Error::DuplicateProperty {
                    name: key.to_string(),
                    node: node.name().value().to_string(),
                    first: first.span(),
                    span: entry.span(),
                });
                continue;
            }
            if !allowed.contains(&key) {
                let help = if allowed.is_empty() {
                    format!("`{}` takes no properties", node.name().value())
                } else {
                    let title = format!("properties of `{}`", node.name().value());
                    suggest(&title, key, allowed.iter().copied())
                };
                errors.borrow_mut().push(Error::UnknownProperty {
                    name: key.to_string(),
                    node: node.name().value().to_string(),
                    span: entry.span(),
                    help,
                });
                if let Some(meant) = closest(key, allowed.iter().copied()) {
                    guesses.push((meant.to_string(), entry));
                }
                continue;
            }
            props.push(entry);
        }
        Reader {
            node,
            src,
            errors,
            args,
            props,
            guesses,
            args_read: 0,
            children_read: false,
            expandable: RefCell::new(Vec::new()),
            no_expand: None,
        }
    }

    /// Says why `(expand)` means nothing on this node's values (the help of the error).
    pub fn no_expand(&mut self, why: &'static str) {
        self.no_expand = Some(why);
    }

    /// Accepts `(expand)` on `entry`; true when it carries it.
    fn expand_entry(&self, entry: Option<&KdlEntry>) -> bool {
        let Some(entry) = entry else { return false };
        self.expandable.borrow_mut().push(entry.span().offset());
        entry.ty().is_some_and(|t| t.value() == EXPAND)
    }

    /// Accepts `(expand)` on argument `index`; true when it carries it.
    pub fn expand_arg(&self, index: usize) -> bool {
        self.expand_entry(self.args.get(index).copied())
    }

    /// Accepts `(expand)` on property `key`; true when it carries it.
    pub fn expand_prop(&self, key: &str) -> bool {
        self.expand_entry(self.prop_entry(key))
    }

    /// Accepts `(expand)` on the arguments from `index` on; the spans of those that carry it.
    pub fn expanded_args(&self, index: usize) -> Vec<SourceSpan> {
        let entries = self.args.iter().skip(index).copied();
        entries
            .filter(|e| self.expand_entry(Some(e)))
            .map(|e| e.span())
            .collect()
    }

    /// Accepts `(expand)` on property `key`; its span when it carries it.
    pub fn expanded_prop(&self, key: &str) -> Option<SourceSpan> {
        let entry = self.prop_entry(key);
        self.expand_entry(entry)
            .then(|| entry.map(|e| e.span()))
            .flatten()
    }

    fn push(&self, error: Error) {
        self.errors.borrow_mut().push(error);
    }

    pub fn node_name(&self) -> &'a str {
        self.node.name().value()
    }

    /// The span of the node's name: where "this node is missing X" points.
    pub fn name_span(&self) -> SourceSpan {
        self.node.name().span()
    }

    /// The span of the whole node, children included.
    pub fn span(&self) -> SourceSpan {
        self.node.span()
    }

    /// `what` names the value in the message: "`key`" for a property, "a path for
    /// `workdir`" for an argument.
    fn text_of(&self, entry: &KdlEntry, what: &str, allow_numbers: bool) -> Option<Text> {
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), entry.span())),
            KdlValue::Integer(i) if allow_numbers => {
                Some(Spanned::new(i.to_string(), entry.span()))
            }
            other => {
                let help = match other {
                    KdlValue::Integer(_) | KdlValue::Float(_) => {
                        format!("put the value in double quotes: `\"{other}\"`")
                    }
                    _ => "write a string in double quotes".into(),
                };
                self.push(Error::WrongType {
                    what: what.to_string(),
                    expected: "a string".into(),
                    found: describe(other).into(),
                    span: entry.span(),
                    help,
                });
                None
            }
        }
    }

    /// How an argument is named in messages: "a path for `workdir`".
    fn arg_what(&self, what: &str) -> String {
        format!("{what} for `{}`", self.node_name())
    }

    fn missing(&self, what: &str, example: &str) {
        self.push(Error::MissingValue {
            node: self.node_name().to_string(),
            what: what.to_string(),
            span: self.name_span(),
            help: format!("write it like this: `{example}`"),
        });
    }

    /// Required string argument `index`.
    pub fn arg(&mut self, index: usize, what: &str, example: &str) -> Option<Text> {
        self.args_read = self.args_read.max(index + 1);
        match self.args.get(index) {
            Some(entry) => self.text_of(entry, &self.arg_what(what), false),
            None => {
                self.missing(what, example);
                None
            }
        }
    }

    /// Optional string argument `index`.
    pub fn opt_arg(&mut self, index: usize, what: &str) -> Option<Text> {
        self.args_read = self.args_read.max(index + 1);
        let entry = self.args.get(index)?;
        self.text_of(entry, &self.arg_what(what), false)
    }

    /// All arguments from `index` on, as strings (integers allowed when `allow_numbers`).
    pub fn rest(&mut self, index: usize, what: &str, allow_numbers: bool) -> Vec<Text> {
        self.args_read = self.args.len().max(index);
        let what = self.arg_what(what);
        self.args
            .iter()
            .skip(index)
            .filter_map(|e| self.text_of(e, &what, allow_numbers))
            .collect()
    }

    /// Like [`Reader::rest`], but at least one value is required.
    pub fn rest_required(&mut self, index: usize, what: &str, example: &str) -> Vec<Text> {
        if self.args.len() <= index {
            self.args_read = self.args_read.max(index + 1);
            self.missing(what, example);
            return Vec::new();
        }
        self.rest(index, what, false)
    }

    /// The argument count, for nodes whose shape depends on it.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    fn prop_entry(&self, key: &str) -> Option<&'a KdlEntry> {
        self.props
            .iter()
            .copied()
            .find(|e| e.name().map(|n| n.value()) == Some(key))
            .or_else(|| {
                self.guesses
                    .iter()
                    .find(|(meant, _)| meant == key)
                    .map(|(_, e)| *e)
            })
    }

    /// True when the node itself gives property `key` (a guessed typo does not count).
    pub fn has_prop(&self, key: &str) -> bool {
        self.props
            .iter()
            .any(|e| e.name().map(|n| n.value()) == Some(key))
    }

    /// All properties, in order, as `(name, value)` texts; for nodes whose keys are free.
    pub fn free_props(&self) -> Vec<(Text, Text)> {
        self.node
            .entries()
            .iter()
            .filter_map(|e| {
                let key = e.name()?;
                let value = self.text_of(e, &format!("`{}`", key.value()), true)?;
                Some((Spanned::new(key.value().to_string(), key.span()), value))
            })
            .collect()
    }

    pub fn prop(&self, key: &str) -> Option<Text> {
        let entry = self.prop_entry(key)?;
        self.text_of(entry, &format!("`{key}`"), false)
    }

    pub fn prop_required(&self, key: &str, example: &str) -> Option<Text> {
        if self.prop_entry(key).is_none() {
            self.missing(&format!("`{key}=`"), example);
            return None;
        }
        self.prop(key)
    }

    pub fn prop_bool(&self, key: &str) -> Option<Spanned<bool>> {
        let entry = self.prop_entry(key)?;
        match entry.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, entry.span())),
            other => {
                self.push(Error::WrongType {
                    what: format!("`{key}`"),
                    expected: "a boolean".into(),
                    found: describe(other).into(),
                    span: entry.span(),
                    help: format!("write `{key}=#true` or `{key}=#false`"),
                });
                None
            }
        }
    }

    pub fn prop_u32(&self, key: &str) -> Option<Spanned<u32>> {
        let entry = self.prop_entry(key)?;
        match entry.value() {
            KdlValue::Integer(i) if (0..=u32::MAX as i128).contains(i) => {
                Some(Spanned::new(*i as u32, entry.span()))
            }
            other => {
                self.push(Error::WrongType {
                    what: format!("`{key}`"),
                    expected: "a whole number".into(),
                    found: match other {
                        KdlValue::Integer(_) => "a number out of range",
                        other => describe(other),
                    }
                    .into(),
                    span: entry.span(),
                    help: format!("write it without quotes, e.g. `{key}=3`"),
                });
                None
            }
        }
    }

    /// A property that is a whole number or a string (e.g. `count=2` or `count="all"`).
    pub fn prop_raw(&self, key: &str) -> Option<(&'a KdlValue, SourceSpan)> {
        self.prop_entry(key).map(|e| (e.value(), e.span()))
    }

    /// A property holding a list of names: `variants="cpu gpu"` or `variants=cpu,gpu`.
    /// Each item gets its own span where the source allows it.
    pub fn prop_list(&self, key: &str) -> Option<Vec<Text>> {
        let entry = self.prop_entry(key)?;
        let text = self.text_of(entry, &format!("`{key}`"), false)?;
        Some(split_list(self.src, entry, &text.value))
    }

    /// `variants="a b"`; an empty list is reported, since it would leave the node out of
    /// every variant (`consequence` says how) rather than mean "all variants".
    pub fn prop_variants(&self, consequence: &str, help: &str) -> Option<Vec<Text>> {
        let list = self.prop_list("variants")?;
        if list.is_empty() {
            let span = self
                .prop_entry("variants")
                .map_or(self.span(), |e| e.span());
            self.push(Error::NoVariants {
                span,
                consequence: consequence.into(),
                help: help.into(),
            });
        }
        Some(list)
    }

    /// The child nodes; a node whose children are never asked for rejects a block.
    pub fn children(&mut self) -> &'a [KdlNode] {
        self.children_read = true;
        self.node.children().map(|d| d.nodes()).unwrap_or(&[])
    }

    /// Reports every annotation the decoder did not accept: an unknown one, and
    /// `(expand)` on a value nothing expands.
    fn annotations(&self) {
        let expandable = self.expandable.borrow();
        let node = self.node_name();
        if let Some(ty) = self.node.ty() {
            self.push(unknown_annotation(ty.value(), ty.span(), node));
        }
        for entry in self.node.entries() {
            let Some(ty) = entry.ty() else { continue };
            let name = ty.value();
            if name != EXPAND {
                self.push(unknown_annotation(name, ty.span(), node));
            } else if !expandable.contains(&entry.span().offset()) {
                let what = match entry.name() {
                    Some(key) => format!("`{}=` of `{node}`", key.value()),
                    None => format!("an argument of `{node}`"),
                };
                let help = self.no_expand.unwrap_or(
                    "nothing expands `$VAR` in this value, so `(expand)` would change nothing; remove it (the table in docs/language.md lists where it applies)",
                );
                self.push(Error::MisplacedExpand {
                    what,
                    span: ty.span(),
                    help: help.into(),
                });
            }
        }
    }

    /// Reports arguments nobody read, an unexpected children block and annotations.
    pub fn finish(self, takes: &str) {
        self.finish_with(
            takes,
            "remove it, or write it as a property `name=value` if that was meant",
        );
    }

    /// [`Reader::finish`], with `help` for an argument too many.
    pub fn finish_with(self, takes: &str, help: &str) {
        self.annotations();
        for entry in self.args.iter().skip(self.args_read) {
            self.push(Error::UnexpectedArgument {
                node: self.node_name().to_string(),
                expected: takes.to_string(),
                span: entry.span(),
                help: help.into(),
            });
        }
        if !self.children_read
            && let Some(children) = self.node.children()
        {
            self.push(Error::UnexpectedChildren {
                node: self.node_name().to_string(),
                span: block_span(self.src, children.span()),
            });
        }
    }
}

/// An annotation the language does not know: `(expnad)"..."`, `(foo)node`.
fn unknown_annotation(name: &str, span: SourceSpan, node: &str) -> Error {
    let help = match closest(name, [EXPAND]) {
        Some(meant) => format!("did you mean `({meant})`?"),
        None => format!(
            "specc knows one annotation, `(expand)` (see docs/language.md); remove `({name})`"
        ),
    };
    Error::UnknownAnnotation {
        name: name.to_string(),
        node: node.to_string(),
        span,
        help,
    }
}

/// The span of a children block from `{` to `}`, given the span of its contents.
fn block_span(src: &str, inner: SourceSpan) -> SourceSpan {
    let start = inner.offset().min(src.len());
    let end = (start + inner.len()).min(src.len());
    let open = src[..start].rfind('{');
    let close = src[end..].find('}').map(|i| end + i + 1);
    match (open, close) {
        (Some(open), Some(close)) => SourceSpan::from((open, close - open)),
        _ => inner,
    }
}

/// Splits a list value on spaces and commas, giving each item the span of its own text
/// when the value is written plainly (bare, or quoted without escapes).
fn split_list(src: &str, entry: &KdlEntry, value: &str) -> Vec<Text> {
    let span = entry.span();
    let raw = src
        .get(span.offset()..span.offset() + span.len())
        .unwrap_or("");
    // Where `value` starts inside the source, if its characters are there verbatim.
    let value_start = raw.find('=').and_then(|eq| {
        let after = &raw[eq + 1..];
        let trimmed = after.trim_start();
        let skip = eq + 1 + (after.len() - trimmed.len());
        if trimmed.starts_with('"') && !trimmed.starts_with("\"\"\"") {
            let inner = &trimmed[1..];
            (inner.starts_with(value) && !inner[..value.len()].contains('\\'))
                .then_some(span.offset() + skip + 1)
        } else if trimmed.starts_with(value) {
            Some(span.offset() + skip)
        } else {
            None
        }
    });
    let mut items = Vec::new();
    let mut start = None;
    for (i, c) in value
        .char_indices()
        .chain(std::iter::once((value.len(), ' ')))
    {
        let separator = c.is_whitespace() || c == ',';
        match (separator, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                let item_span = match value_start {
                    Some(base) => SourceSpan::from((base + s, i - s)),
                    None => span,
                };
                items.push(Spanned::new(value[s..i].to_string(), item_span));
                start = None;
            }
            _ => {}
        }
    }
    items
}
