//! `specc lsp`: a Language Server for specc specs over standard input and output.
//!
//! Diagnostics come from the pipeline itself ([`crate::compile`], as `specc check
//! --spec-only`); navigation, outline and rename read the KDL document that
//! [`crate::syntax::parse`] gives ([`index`]); hover and completion read the language
//! reference ([`docs`]); the preview renders outputs as `specc generate` would, in
//! memory. [`Server::handle`] is the whole server, one message in, the messages to send
//! out; [`serve`] connects it to stdio.

mod diagnostics;
pub mod docs;
mod features;
pub mod index;
pub mod position;

use std::collections::HashMap;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::Notification as _;
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, ExecuteCommandOptions,
    HoverProviderCapability, InitializeResult, OneOf, PublishDiagnosticsParams, ServerCapabilities,
    ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde_json::Value;

use position::LineIndex;

/// The command that returns the generated output of the node under the cursor.
pub const PREVIEW: &str = "specc.preview";

/// One open document.
pub struct Document {
    pub name: String,
    pub text: String,
    pub lines: LineIndex,
    version: i32,
    /// The text's KDL document and index, made when a feature first needs them.
    parsed: Option<Option<(kdl::KdlDocument, index::Index)>>,
}

impl Document {
    fn new(uri: &Uri, text: String, version: i32) -> Document {
        Document {
            name: name_of(uri),
            lines: LineIndex::new(&text),
            text,
            version,
            parsed: None,
        }
    }

    /// The document and its index, or `None` when the text is not KDL.
    pub fn parsed(&mut self) -> Option<&(kdl::KdlDocument, index::Index)> {
        if self.parsed.is_none() {
            self.parsed = Some(crate::syntax::parse(&self.text).ok().map(|doc| {
                let index = index::Index::of(&doc, &self.text);
                (doc, index)
            }));
        }
        self.parsed.as_ref().and_then(Option::as_ref)
    }
}

/// The name diagnostics give a document: its path for a `file:` URI, else the URI.
fn name_of(uri: &Uri) -> String {
    let text = uri.as_str();
    match text.strip_prefix("file://") {
        Some(path) => percent_decode(path),
        None => text.to_string(),
    }
}

/// `%20` and friends decoded (a path with spaces or non-ASCII letters).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The server's state: the open documents.
#[derive(Default)]
pub struct Server {
    documents: HashMap<String, Document>,
    shutdown: bool,
}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    /// Handles one message from the client; returns the messages to send back (a
    /// response to a request, diagnostics after a change).
    pub fn handle(&mut self, message: Message) -> Vec<Message> {
        match message {
            Message::Request(request) => vec![Message::Response(self.request(request))],
            Message::Notification(n) => self.notification(n).into_iter().collect(),
            Message::Response(_) => Vec::new(),
        }
    }

    /// True once the client asked the server to shut down.
    pub fn is_shut_down(&self) -> bool {
        self.shutdown
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            "initialize" => Ok(serde_json::to_value(initialize_result()).unwrap_or(Value::Null)),
            "shutdown" => {
                self.shutdown = true;
                Ok(Value::Null)
            }
            method => features::request(self, method, request.params),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn notification(&mut self, n: Notification) -> Option<Message> {
        use lsp_types::notification::{
            DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
        };
        let uri = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams = from(n.params)?;
                let doc = Document::new(
                    &p.text_document.uri,
                    p.text_document.text,
                    p.text_document.version,
                );
                self.documents
                    .insert(p.text_document.uri.as_str().to_string(), doc);
                p.text_document.uri
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams = from(n.params)?;
                let uri = p.text_document.uri;
                let doc = self.documents.get(uri.as_str())?;
                // Full sync: the last change is the whole text.
                let text = match p.content_changes.into_iter().last() {
                    Some(change) if change.range.is_none() => change.text,
                    _ => doc.text.clone(),
                };
                let doc = Document::new(&uri, text, p.text_document.version);
                self.documents.insert(uri.as_str().to_string(), doc);
                uri
            }
            DidSaveTextDocument::METHOD => {
                let p: lsp_types::DidSaveTextDocumentParams = from(n.params)?;
                if let Some(text) = p.text {
                    let version = self.documents.get(p.text_document.uri.as_str())?.version;
                    let doc = Document::new(&p.text_document.uri, text, version);
                    self.documents
                        .insert(p.text_document.uri.as_str().to_string(), doc);
                }
                p.text_document.uri
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams = from(n.params)?;
                self.documents.remove(p.text_document.uri.as_str());
                return Some(publish(p.text_document.uri, Vec::new(), None));
            }
            _ => return None,
        };
        let doc = self.documents.get(uri.as_str())?;
        let found = diagnostics::of(&uri, &doc.name, &doc.text, &doc.lines);
        Some(publish(uri, found, Some(doc.version)))
    }

    pub(crate) fn document(&mut self, uri: &Uri) -> Option<&mut Document> {
        self.documents.get_mut(uri.as_str())
    }
}

fn from<T: serde::de::DeserializeOwned>(params: Value) -> Option<T> {
    serde_json::from_value(params).ok()
}

fn publish(uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) -> Message {
    let params = PublishDiagnosticsParams {
        uri,
        diagnostics,
        version,
    };
    Message::Notification(Notification::new(
        lsp_types::notification::PublishDiagnostics::METHOD.to_string(),
        params,
    ))
}

fn initialize_result() -> InitializeResult {
    InitializeResult {
        capabilities: ServerCapabilities {
            text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            definition_provider: Some(OneOf::Left(true)),
            references_provider: Some(OneOf::Left(true)),
            document_symbol_provider: Some(OneOf::Left(true)),
            rename_provider: Some(OneOf::Left(true)),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(vec!["=".into(), "\"".into(), " ".into()]),
                ..CompletionOptions::default()
            }),
            code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: vec![PREVIEW.into()],
                ..ExecuteCommandOptions::default()
            }),
            ..ServerCapabilities::default()
        },
        server_info: Some(ServerInfo {
            name: "specc".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    }
}

/// An error answer to a request.
pub(crate) type Failure = (ErrorCode, String);

/// Serves LSP over standard input and output until the client says `exit`; the exit
/// code (0 after a `shutdown` request, 1 otherwise, as the protocol asks).
pub fn serve() -> i32 {
    let (connection, io_threads) = Connection::stdio();
    let mut server = Server::new();
    for message in &connection.receiver {
        if let Message::Notification(n) = &message
            && n.method == "exit"
        {
            break;
        }
        for out in server.handle(message) {
            if connection.sender.send(out).is_err() {
                return 1;
            }
        }
    }
    drop(connection);
    let _ = io_threads.join();
    if server.is_shut_down() { 0 } else { 1 }
}
