"""docs/architecture.md stays true: every file it names exists, every
function it names is defined in the tree (or, for a library's function such as
libmicrohttpd's or libuv's, called by it), and every source file of cli/,
server/ and lib/ has its line in the layout. No server needed: the document is
read against the sources."""

import glob
import os
import re

import pytest

import helpers

DOC = os.path.join(helpers.ROOT, "docs", "architecture.md")
LAYERS = ("cli", "server", "lib")
# Functions of the libraries the server is built on: they are not defined in
# the tree, so the document may name them only where the tree calls them.
EXTERNAL = re.compile(r"^(MHD_|uv_|pthread_|openblas_|cblas_|malloc_trim$)")

# Inside backticks: a path with a folder, ending in a file extension (the
# layout's lines) ...
PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+\.[a-z]+)`")
# ... also bare, in the diagram: any path into the tree's own folders ...
BARE_PATH = re.compile(r"(?<![\w/.])((?:cli|server|lib|tests|scripts|docs|bench|web)"
                       r"(?:/[A-Za-z0-9_.-]+)+\.[a-z]+)\b")
# ... and a C function name followed by ().
FUNC = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(\)")


def doc_text():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def sources():
    """Every C file and header of the three layers, as repository paths."""
    out = []
    for layer in LAYERS:
        for ext in ("c", "h"):
            out += glob.glob(os.path.join(helpers.ROOT, layer, "**", "*." + ext), recursive=True)
    return sorted(os.path.relpath(p, helpers.ROOT) for p in out)


def source_texts():
    texts = {}
    for rel in sources():
        with open(os.path.join(helpers.ROOT, rel), encoding="utf-8", errors="replace") as f:
            texts[rel] = f.read()
    return texts


def defined(name, texts):
    """A definition in the tree's style: the return type and the name start a
    line, the body's brace follows the parameter list (on its line or the next)."""
    pat = re.compile(r"^[A-Za-z_][\w \t\*]*\b" + re.escape(name) + r"\([^;{]*\)\s*\{", re.M)
    return any(pat.search(t) for t in texts.values())


def called(name, texts):
    pat = re.compile(r"\b" + re.escape(name) + r"\s*\(")
    return any(pat.search(t) for t in texts.values())


def test_every_cited_file_exists():
    text = doc_text()
    cited = sorted(set(PATH.findall(text)) | set(BARE_PATH.findall(text)))
    assert cited, "docs/architecture.md cites no file"
    missing = [p for p in cited if not os.path.exists(os.path.join(helpers.ROOT, p))]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_cited_function_exists():
    texts = source_texts()
    names = sorted(set(FUNC.findall(doc_text())))
    assert names, "docs/architecture.md cites no function"
    missing = []
    for n in names:
        ok = called(n, texts) if EXTERNAL.match(n) else defined(n, texts)
        if not ok:
            missing.append(n)
    assert not missing, (
        f"docs/architecture.md names functions the tree does not define: {missing}")


def test_every_source_file_has_its_line():
    cited = set(PATH.findall(doc_text()))
    unlisted = [p for p in sources() if p not in cited]
    assert not unlisted, (
        "docs/architecture.md's layout does not list these files; add a line saying "
        f"each one's job: {unlisted}")


@pytest.mark.parametrize("bad", ["server/nonexistent.c", "no_such_function_xyz"])
def test_the_checks_catch_a_stale_name(bad):
    """The patterns really find what a stale document would hold."""
    text = f"see `{bad}`" if "/" in bad else f"calls `{bad}()`"
    if "/" in bad:
        assert PATH.findall(text) == [bad] and BARE_PATH.findall(text) == [bad]
        assert not os.path.exists(os.path.join(helpers.ROOT, bad))
    else:
        assert FUNC.findall(text) == [bad]
        assert not defined(bad, source_texts())
