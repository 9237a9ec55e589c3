//! The requests about a document: hover, definition, references, rename, outline,
//! completion, code actions and the preview command.

use std::collections::HashMap;

use lsp_server::ErrorCode;
use lsp_types::{
    CodeActionOrCommand, CodeActionParams, Command, CompletionItem, CompletionItemKind,
    CompletionParams, CompletionResponse, DocumentSymbol, DocumentSymbolParams,
    DocumentSymbolResponse, ExecuteCommandParams, GotoDefinitionParams, Hover, HoverContents,
    HoverParams, Location, MarkupContent, MarkupKind, Position, ReferenceParams, RenameParams,
    SymbolKind, TextDocumentPositionParams, TextEdit, Uri, WorkspaceEdit,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::index::{Index, Name, Outline, Part, Spot, reference_kind, spot};
use super::{Document, Failure, PREVIEW, Server, docs};

/// Answers request `method`.
pub(super) fn request(server: &mut Server, method: &str, params: Value) -> Result<Value, Failure> {
    let answer = match method {
        "textDocument/hover" => {
            let p: HoverParams = parse(params)?;
            json(at(server, &p.text_document_position_params, hover))
        }
        "textDocument/definition" => {
            let p: GotoDefinitionParams = parse(params)?;
            json(at(server, &p.text_document_position_params, definition))
        }
        "textDocument/references" => {
            let p: ReferenceParams = parse(params)?;
            let with = p.context.include_declaration;
            json(at(server, &p.text_document_position, |d, u, o| {
                references(d, u, o, with)
            }))
        }
        "textDocument/rename" => {
            let p: RenameParams = parse(params)?;
            let name = p.new_name;
            match at(server, &p.text_document_position, |d, u, o| {
                rename(d, u, o, &name)
            }) {
                Some(Err(message)) => return Err((ErrorCode::InvalidParams, message)),
                other => json(other.and_then(Result::ok)),
            }
        }
        "textDocument/documentSymbol" => {
            let p: DocumentSymbolParams = parse(params)?;
            let doc = server.document(&p.text_document.uri);
            json(doc.map(symbols))
        }
        "textDocument/completion" => {
            let p: CompletionParams = parse(params)?;
            json(at(server, &p.text_document_position, |d, _, o| {
                complete(d, o)
            }))
        }
        "textDocument/codeAction" => {
            let p: CodeActionParams = parse(params)?;
            json(code_actions(&p.text_document.uri, p.range.start))
        }
        "workspace/executeCommand" => {
            let p: ExecuteCommandParams = parse(params)?;
            if p.command != PREVIEW {
                return Err((
                    ErrorCode::InvalidParams,
                    format!("unknown command `{}`", p.command),
                ));
            }
            let target: TextDocumentPositionParams = p
                .arguments
                .into_iter()
                .next()
                .and_then(|a| serde_json::from_value(a).ok())
                .ok_or((
                    ErrorCode::InvalidParams,
                    format!("`{PREVIEW}` takes one argument: {{textDocument, position}}"),
                ))?;
            json(at(server, &target, |d, _, o| preview(d, o)))
        }
        _ => {
            return Err((
                ErrorCode::MethodNotFound,
                format!("`{method}` is not supported"),
            ));
        }
    };
    Ok(answer)
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, Failure> {
    serde_json::from_value(params).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Runs `f` on the document and byte offset of a position; `None` for a document that
/// is not open.
fn at<T>(
    server: &mut Server,
    p: &TextDocumentPositionParams,
    f: impl FnOnce(&mut Document, &Uri, usize) -> Option<T>,
) -> Option<T> {
    let doc = server.document(&p.text_document.uri)?;
    let offset = doc.lines.offset(&doc.text, p.position);
    f(doc, &p.text_document.uri, offset)
}

fn hover(doc: &mut Document, _: &Uri, offset: usize) -> Option<Hover> {
    let text = doc.text.clone();
    let (parsed, _) = doc.parsed()?;
    let spot = spot(parsed, &text, offset);
    let path: Vec<&str> = spot.path.iter().map(String::as_str).collect();
    let markdown = match spot.part.as_ref()? {
        Part::Node | Part::Argument(_) => docs::node(&path)?,
        Part::Key(key) | Part::Value(key) => docs::property(&path, key)?,
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: markdown,
        }),
        range: Some(doc.lines.range(&text, spot.span)),
    })
}

/// The declared name or reference at `offset`: its kind and name.
fn target(index: &Index, offset: usize) -> Option<(&'static str, String)> {
    let inside = |n: &&Name| n.span.offset() <= offset && offset <= n.span.offset() + n.span.len();
    index
        .references
        .iter()
        .chain(&index.declarations)
        .find(inside)
        .map(|n| (n.kind, n.name.clone()))
}

/// Every declaration and (with `references`) reference of the name at `offset`.
fn occurrences(doc: &mut Document, offset: usize, references: bool) -> Option<Vec<Name>> {
    let (_, index) = doc.parsed()?;
    let (kind, name) = target(index, offset)?;
    let same = |n: &&Name| n.kind == kind && n.name == name;
    let mut found: Vec<Name> = index.declarations.iter().filter(same).cloned().collect();
    if references {
        found.extend(index.references.iter().filter(same).cloned());
    }
    Some(found)
}

fn location(doc: &Document, uri: &Uri, name: &Name) -> Location {
    Location::new(uri.clone(), doc.lines.range(&doc.text, name.span))
}

fn definition(doc: &mut Document, uri: &Uri, offset: usize) -> Option<Vec<Location>> {
    let found = occurrences(doc, offset, false)?;
    Some(found.iter().map(|n| location(doc, uri, n)).collect())
}

fn references(doc: &mut Document, uri: &Uri, offset: usize, with: bool) -> Option<Vec<Location>> {
    let (_, index) = doc.parsed()?;
    let (kind, name) = target(index, offset)?;
    let mut found: Vec<&Name> = index
        .references
        .iter()
        .filter(|n| n.kind == kind && n.name == name)
        .collect();
    if with {
        found.extend(
            index
                .declarations
                .iter()
                .filter(|n| n.kind == kind && n.name == name),
        );
    }
    found.sort_by_key(|n| n.span.offset());
    let found: Vec<Name> = found.into_iter().cloned().collect();
    Some(found.iter().map(|n| location(doc, uri, n)).collect())
}

fn rename(
    doc: &mut Document,
    uri: &Uri,
    offset: usize,
    new_name: &str,
) -> Option<Result<WorkspaceEdit, String>> {
    let found = occurrences(doc, offset, true)?;
    if let Err(reason) = crate::value::check_name(new_name) {
        return Some(Err(format!("`{new_name}` is not a name: {reason}")));
    }
    if let Some(n) = found.iter().find(|n| !n.exact) {
        return Some(Err(format!(
            "`{}` is written with escapes or as a raw string at {}; write it plainly to rename it",
            n.name,
            doc.lines.position(&doc.text, n.span.offset()).line + 1
        )));
    }
    let edits = found
        .iter()
        .map(|n| TextEdit::new(doc.lines.range(&doc.text, n.span), new_name.to_string()))
        .collect();
    Some(Ok(WorkspaceEdit {
        changes: Some(HashMap::from([(uri.clone(), edits)])),
        ..WorkspaceEdit::default()
    }))
}

fn symbols(doc: &mut Document) -> DocumentSymbolResponse {
    let text = doc.text.clone();
    let Some((_, index)) = doc.parsed() else {
        return DocumentSymbolResponse::Nested(Vec::new());
    };
    let outline = index.outline.clone();
    DocumentSymbolResponse::Nested(
        outline
            .iter()
            .map(|o| symbol(doc, &text, o, true))
            .collect(),
    )
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be set, though deprecated.
fn symbol(doc: &Document, text: &str, o: &Outline, top: bool) -> DocumentSymbol {
    let kind = match o.node.as_str() {
        "project" => SymbolKind::MODULE,
        "registry" => SymbolKind::NAMESPACE,
        "variant" => SymbolKind::ENUM_MEMBER,
        "stage" => SymbolKind::CLASS,
        "image" => SymbolKind::OBJECT,
        "service" => SymbolKind::FUNCTION,
        "workflow" => SymbolKind::EVENT,
        "chart" => SymbolKind::PACKAGE,
        _ if top => SymbolKind::PROPERTY,
        _ => SymbolKind::FIELD,
    };
    let name = match &o.label {
        Some(label) if top && !label.is_empty() => label.clone(),
        Some(label) if !label.is_empty() => format!("{} {label}", o.node),
        _ => o.node.clone(),
    };
    DocumentSymbol {
        name,
        detail: top.then(|| o.node.clone()),
        kind,
        tags: None,
        deprecated: None,
        range: doc.lines.range(text, o.span),
        selection_range: doc.lines.range(text, o.name_span),
        children: Some(
            o.children
                .iter()
                .map(|c| symbol(doc, text, c, false))
                .collect(),
        ),
    }
}

/// What is typed at the cursor stands for a word still being written: the text with a
/// placeholder there parses where the half-typed text may not (`stage=` without value).
const CURSOR: &str = "specc_cursor_";

fn complete(doc: &mut Document, offset: usize) -> Option<CompletionResponse> {
    let mut text = doc.text.clone();
    text.insert_str(offset, CURSOR);
    let parsed = crate::syntax::parse(&text).ok()?;
    let spot = spot(&parsed, &text, offset + CURSOR.len());
    // Names declared so far: in the text with the placeholder, whose names are the same.
    let index = Index::of(&parsed, &text);
    let items = candidates(&spot, &index);
    let typed = spot
        .typed
        .trim_end_matches(CURSOR)
        .trim_start_matches('"')
        .to_string();
    let items = items
        .into_iter()
        .filter(|i| i.label.starts_with(&typed) && !i.label.contains(CURSOR))
        .collect();
    Some(CompletionResponse::Array(items))
}

fn item(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        ..CompletionItem::default()
    }
}

fn candidates(spot: &Spot, index: &Index) -> Vec<CompletionItem> {
    let path: Vec<&str> = spot.path.iter().map(String::as_str).collect();
    let declared = |kind: &str| -> Vec<CompletionItem> {
        let mut seen: Vec<CompletionItem> = Vec::new();
        for d in index.declarations.iter().filter(|d| d.kind == kind) {
            if !seen.iter().any(|s| s.label == d.name) {
                seen.push(item(&d.name, CompletionItemKind::REFERENCE, kind));
            }
        }
        seen
    };
    let choices = |key: Option<&str>| -> Vec<CompletionItem> {
        docs::choices(&path, key)
            .iter()
            .map(|c| item(c, CompletionItemKind::ENUM_MEMBER, "choice"))
            .collect()
    };
    match &spot.part {
        Some(Part::Node) => {
            let parent = &path[..path.len().saturating_sub(1)];
            docs::children(parent)
                .iter()
                .map(|c| item(c, CompletionItemKind::KEYWORD, "node"))
                .collect()
        }
        Some(Part::Value(key)) => match reference_kind(&path, Some(key), None) {
            Some(kind) => declared(kind),
            None => choices(Some(key)),
        },
        Some(Part::Argument(i)) => {
            let mut items = match reference_kind(&path, None, Some(*i)) {
                Some(kind) => declared(kind),
                None if *i == 0 => choices(None),
                None => Vec::new(),
            };
            items.extend(docs::properties(&path).iter().map(|p| {
                let mut it = item(p, CompletionItemKind::PROPERTY, "property");
                it.insert_text = Some(format!("{p}="));
                it
            }));
            items
        }
        Some(Part::Key(_)) => docs::properties(&path)
            .iter()
            .map(|p| item(p, CompletionItemKind::PROPERTY, "property"))
            .collect(),
        None => Vec::new(),
    }
}

fn code_actions(uri: &Uri, position: Position) -> Vec<CodeActionOrCommand> {
    let argument = TextDocumentPositionParams {
        text_document: lsp_types::TextDocumentIdentifier { uri: uri.clone() },
        position,
    };
    vec![CodeActionOrCommand::Command(Command {
        title: "specc: preview the generated output of this node".into(),
        command: PREVIEW.into(),
        arguments: Some(vec![json(argument)]),
    })]
}

/// A generated file, for the preview.
#[derive(serde::Serialize)]
struct Preview {
    path: String,
    contents: String,
}

/// The files `specc generate` would write for the top-level node under the cursor (all
/// of them for a node that has no file of its own); none while the spec has errors.
fn preview(doc: &mut Document, offset: usize) -> Option<Vec<Preview>> {
    let checked = crate::compile(&doc.name, &doc.text).ok()?;
    let plan = crate::plan::plan(&checked, &crate::PlanOptions::default());
    let spec_name = std::path::Path::new(&doc.name)
        .file_name()
        .map_or(doc.name.clone(), |f| f.to_string_lossy().into_owned());
    let options = crate::render::RenderOptions {
        regenerate: format!("specc generate {spec_name}"),
        check: format!("specc check {spec_name}"),
        spec_name,
    };
    let files = crate::render::render(&checked, &plan, &options).ok()?;
    let text = doc.text.clone();
    let (parsed, _) = doc.parsed()?;
    let spot = spot(parsed, &text, offset);
    let top = parsed
        .nodes()
        .iter()
        .find(|n| Some(n.name().value()) == spot.path.first().map(String::as_str));
    let label = top
        .and_then(|n| n.entries().iter().find(|e| e.name().is_none()))
        .and_then(|e| e.value().as_string())
        .unwrap_or_default()
        .to_string();
    let out = &checked.spec.output;
    let images: Vec<&str> = match spot.path.first().map(String::as_str) {
        Some("image") => vec![label.as_str()],
        Some("stage") => plan
            .targets
            .iter()
            .filter(|t| t.stages.contains(&label))
            .map(|t| t.image.as_str())
            .collect(),
        _ => Vec::new(),
    };
    let wanted = |path: &str| match spot.path.first().map(String::as_str) {
        Some("image" | "stage") => images.iter().any(|i| {
            let stem = format!("{}/{i}.", out.dockerfiles.value);
            path.starts_with(&stem) && path.ends_with(".Dockerfile")
        }),
        Some("service") => path == out.compose.value,
        Some("workflow") => path == format!("{}/{label}.yml", out.workflows.value),
        Some("chart") => path.contains(&format!("/{label}/")),
        _ => true,
    };
    let chosen: Vec<Preview> = files
        .iter()
        .filter(|f| wanted(&f.path))
        .map(|f| Preview {
            path: f.path.clone(),
            contents: f.contents.clone(),
        })
        .collect();
    Some(chosen)
}
