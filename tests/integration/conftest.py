"""Fixtures: a model repository of random models (plus models/iris) and the
real reluserve binary serving it on an ephemeral loopback port."""

import os
import shutil

import pytest

import helpers

MAX_BODY = 1 << 20
MAX_ROWS = 1000


def pytest_configure(config):
    if not os.access(helpers.binary(), os.X_OK):
        raise pytest.UsageError(f"{helpers.binary()} is not built (make, or set RELUSERVE_BIN)")


@pytest.fixture(scope="session")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    models = helpers.make_repo(str(root))
    return root, models


@pytest.fixture(scope="session")
def models(repo):
    return repo[1]


@pytest.fixture(scope="module")
def busy_repo(repo, tmp_path_factory):
    """make_repo's tiny and a busy 64-1024-1024-10 model (a batch of thousands
    of rows keeps a pool thread computing for seconds)."""
    root = tmp_path_factory.mktemp("busy-repo")
    shutil.copytree(os.path.join(repo[0], "tiny"), root / "tiny")
    os.makedirs(root / "busy" / "1")
    helpers.write_big_json_model(str(root / "busy" / "1" / "model.json"), [64, 1024, 1024, 10], 5)
    return root


@pytest.fixture(scope="session")
def server(repo, tmp_path_factory):
    """The shared server; stopped at the end with SIGTERM, exit code 0 and no
    sanitizer report asserted."""
    logs = tmp_path_factory.mktemp("logs")
    with helpers.serving(repo[0], ["--max-body", str(MAX_BODY), "--max-rows", str(MAX_ROWS),
                                   "--threads", "2"], log_dir=str(logs)) as s:
        yield s


@pytest.fixture
def port(server):
    assert server.proc.poll() is None, f"server died:\n{server.stderr()[-4000:]}"
    return server.port
