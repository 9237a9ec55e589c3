"""`specc lsp` driven by a real LSP client (pytest-lsp) over stdio.

SPECC_BIN names the specc binary under test. Positions are LSP's: 0-based lines, columns
in UTF-16 code units, computed here from the text so that lines with non-ASCII text
before the cursor test the server's conversion.
"""

import os

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SPECC = os.environ.get("SPECC_BIN", "specc")
URI = "file:///tmp/specc-lsp-test/specc.kdl"

SPEC = """\
project shop version="1.0.0"

registry hub host="docker.io" namespace="shop"

variant cpu default=#true
variant gpu

stage build from="alpine:3.20" {
    run "echo built > /out"
}

stage runtime from="alpine:3.20" {
    copy "/out" from=build to="/app"
    cmd "cat" "/app"
}

image shop description="Café ☕ 😀 shop" stage=runtime variants="cpu gpu" registries=hub

service web image=shop variant=gpu {
    restart "always"
}
"""

BROKEN = SPEC.replace("stage=runtime", "stage=runtme").replace("variant=gpu", "variant=gpx")


def position(text: str, line: int, needle: str, offset: int = 0) -> types.Position:
    """The LSP position of `needle` (plus `offset` characters) on line `line` of `text`."""
    content = text.split("\n")[line]
    index = content.index(needle) + offset
    return types.Position(line=line, character=len(content[:index].encode("utf-16-le")) // 2)


def span(text: str, line: int, needle: str) -> types.Range:
    """The range of `needle` on line `line` of `text`."""
    return types.Range(
        start=position(text, line, needle), end=position(text, line, needle, len(needle))
    )


def line_of(text: str, start: str) -> int:
    return next(i for i, l in enumerate(text.split("\n")) if l.startswith(start))


IMAGE = line_of(SPEC, "image shop")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[SPECC, "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities())
    )
    yield
    await lsp_client.shutdown_session()


async def open_spec(client: LanguageClient, text: str):
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=URI, language_id="kdl", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return client.diagnostics[URI]


def doc():
    return types.TextDocumentIdentifier(uri=URI)


async def test_errors_then_fixed(client: LanguageClient):
    diagnostics = await open_spec(client, BROKEN)
    found = [(d.code, d.message, d.range, d.severity) for d in diagnostics]
    line = line_of(BROKEN, "image shop")
    service = line_of(BROKEN, "service web")
    error = types.DiagnosticSeverity.Error
    code = "specc::check::unknown_reference"
    assert found == [
        (code, "unknown stage `runtme`", span(BROKEN, line, "stage=runtme"), error),
        (code, "unknown variant `gpx`", span(BROKEN, service, "variant=gpx"), error),
    ]
    helps = [r.message for r in diagnostics[0].related_information]
    assert helps == ["no stage is named `runtme`", "help: did you mean `runtime`?"]

    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=SPEC)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[URI]) == []


async def test_a_spec_that_does_not_parse_still_gets_diagnostics(client: LanguageClient):
    diagnostics = await open_spec(client, SPEC.replace('"echo built > /out"', '"echo built'))
    assert [d.code for d in diagnostics][:1] == ["specc::syntax"]


async def test_hover_on_a_property_after_non_ascii_text(client: LanguageClient):
    await open_spec(client, SPEC)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc(), position=position(SPEC, IMAGE, "stage=", 2))
    )
    assert "the final stage" in hover.contents.value
    assert hover.range == types.Range(
        start=position(SPEC, IMAGE, "stage="), end=position(SPEC, IMAGE, "stage=", 5)
    )


async def test_hover_on_a_node(client: LanguageClient):
    await open_spec(client, SPEC)
    line = line_of(SPEC, "    restart")
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc(), position=position(SPEC, line, "restart", 1))
    )
    assert '`"unless-stopped"`' in hover.contents.value


async def test_definition_from_a_reference_after_non_ascii_text(client: LanguageClient):
    await open_spec(client, SPEC)
    found = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=doc(), position=position(SPEC, IMAGE, "=runtime", 3)
        )
    )
    stage = line_of(SPEC, "stage runtime")
    assert found == [types.Location(uri=URI, range=span(SPEC, stage, "runtime"))]


async def test_references_of_a_variant(client: LanguageClient):
    await open_spec(client, SPEC)
    line = line_of(SPEC, "variant gpu")
    found = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc(),
            position=position(SPEC, line, "gpu"),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    service = line_of(SPEC, "service web")
    want = [
        (line, position(SPEC, line, "gpu")),
        (IMAGE, position(SPEC, IMAGE, "gpu\"")),
        (service, position(SPEC, service, "gpu")),
    ]
    assert [(l.range.start.line, l.range.start) for l in found] == want
    assert all(l.range.end.character - l.range.start.character == 3 for l in found)


async def test_completion(client: LanguageClient):
    text = SPEC.replace("stage=runtime", "stage=ru")
    await open_spec(client, text)
    line = line_of(text, "image shop")
    items = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(), position=position(text, line, "stage=ru", 8))
    )
    assert [i.label for i in items] == ["runtime"]

    restart = line_of(text, "    restart")
    items = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=doc(), position=position(text, restart, '"always"', 1)
        )
    )
    assert [i.label for i in items] == ["no", "always", "unless-stopped", "on-failure", "on-failure:N"]


async def test_completion_of_a_half_typed_property(client: LanguageClient):
    text = SPEC.replace("registries=hub", "registries=")
    await open_spec(client, text)
    line = line_of(text, "image shop")
    items = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=doc(), position=position(text, line, "registries=", 11)
        )
    )
    assert [i.label for i in items] == ["hub"]


async def test_document_symbols(client: LanguageClient):
    await open_spec(client, SPEC)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc())
    )
    assert [(s.name, s.detail) for s in symbols] == [
        ("shop", "project"),
        ("hub", "registry"),
        ("cpu", "variant"),
        ("gpu", "variant"),
        ("build", "stage"),
        ("runtime", "stage"),
        ("shop", "image"),
        ("web", "service"),
    ]
    assert [c.name for c in symbols[5].children] == ["copy /out", "cmd cat"]


async def test_rename_a_stage(client: LanguageClient):
    await open_spec(client, SPEC)
    line = line_of(SPEC, "stage build")
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=doc(), position=position(SPEC, line, "build"), new_name="compile"
        )
    )
    copy = line_of(SPEC, "    copy")
    edits = sorted((e.range.start.line, e.range.start.character, e.new_text) for e in edit.changes[URI])
    assert edits == [
        (line, position(SPEC, line, "build").character, "compile"),
        (copy, position(SPEC, copy, "=build", 1).character, "compile"),
    ]


async def test_rename_after_non_ascii_text(client: LanguageClient):
    await open_spec(client, SPEC)
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=doc(), position=position(SPEC, IMAGE, "=hub", 1), new_name="docker"
        )
    )
    registry = line_of(SPEC, "registry hub")
    ordered = sorted(edit.changes[URI], key=lambda e: e.range.start.line)
    edits = [(e.range.start, e.range.end) for e in ordered]
    assert edits == [
        (position(SPEC, registry, "hub"), position(SPEC, registry, "hub", 3)),
        (position(SPEC, IMAGE, "=hub", 1), position(SPEC, IMAGE, "=hub", 4)),
    ]


async def test_preview_shows_the_dockerfile_of_an_image(client: LanguageClient):
    await open_spec(client, SPEC)
    files = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="specc.preview",
            arguments=[{"textDocument": {"uri": URI}, "position": {"line": IMAGE, "character": 2}}],
        )
    )
    assert [f["path"] for f in files] == ["docker/shop.Dockerfile"]
    assert "FROM alpine:3.20 AS runtime" in files[0]["contents"]
