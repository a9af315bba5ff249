"""The README's curl examples work when pasted: every code block marked
`<!-- readme-example: NAME -->` runs in bash against a server serving the
bundled models/ (port 8080 in the text is swapped for the test's free port).

Each curl must answer 2xx, unless the block shows the answer it expects in a
comment (`# {"error":"..."}`): then the output must be exactly those bytes."""

import os
import re
import subprocess

import pytest

import helpers

README = os.path.join(helpers.ROOT, "README.md")
MARKED = re.compile(r"<!--\s*readme-example:\s*([\w.-]+)\s*-->\s*\n```[a-z]*\n(.*?)```", re.S)


def examples():
    if not os.path.exists(README):
        return []
    with open(README) as f:
        return MARKED.findall(f.read())


@pytest.fixture(scope="module")
def models_server(tmp_path_factory):
    with helpers.serving(os.path.join(helpers.ROOT, "models"), [],
                         log_dir=str(tmp_path_factory.mktemp("readme"))) as s:
        yield s


def test_readme_has_curl_examples():
    assert any("curl " in code for _, code in examples()), \
        "README.md has no curl example marked <!-- readme-example: NAME -->"


@pytest.mark.parametrize("name,code", examples() or [("none", "")],
                         ids=[n for n, _ in examples()] or ["none"])
def test_readme_example(models_server, name, code):
    if "curl " not in code:
        pytest.skip(f"example {name} has no curl command")
    port = str(models_server.port)
    script = re.sub(r"(localhost|127\.0\.0\.1|0\.0\.0\.0):8080", "127.0.0.1:" + port, code)
    # every curl also prints its status on a line of its own
    wrapper = "curl() { command curl \"$@\" -w '\\n__STATUS__%{http_code}\\n'; }\n"
    p = subprocess.run(["bash", "-c", wrapper + script], capture_output=True, text=True,
                       timeout=30 * helpers.SLOW, cwd=helpers.ROOT)
    assert p.returncode == 0, f"{name}: exit {p.returncode}: {p.stderr}\n{code}"
    statuses = re.findall(r"__STATUS__(\d+)", p.stdout)
    # (a curl piped into grep loses its status line, so at least one, not each)
    assert statuses, f"{name}: no curl answered: {p.stdout}"
    expected_error = re.search(r"^#\s*(\{\"error\".*\})\s*$", code, re.M)
    if expected_error:
        body = p.stdout.split("\n__STATUS__")[0]
        # the very bytes the README shows, then the newline every JSON answer ends with
        assert body == expected_error.group(1) + "\n", f"{name}: {body!r}"
        assert all(s.startswith("4") for s in statuses), f"{name}: statuses {statuses}"
    else:
        assert all(s.startswith("2") for s in statuses), f"{name}: statuses {statuses}\n{p.stdout[:600]}"
        assert p.stdout.strip(), f"{name}: no output"
