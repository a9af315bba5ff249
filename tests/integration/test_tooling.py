"""The gates run wherever the tests run: the style gate fails (never skips)
without clang-format, and scripts/install-deps --test installs every tool a
gate needs, showing apt's own progress instead of minutes of silence."""

import os
import re
import subprocess

import helpers

CHECK_FORMAT = os.path.join(helpers.ROOT, "scripts", "check-format")
INSTALL_DEPS = os.path.join(helpers.ROOT, "scripts", "install-deps")


def test_format_gate_fails_when_clang_format_is_missing():
    env = dict(os.environ, CLANG_FORMAT="/nonexistent/clang-format")
    p = subprocess.run([CHECK_FORMAT], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, "the style gate passed without clang-format"
    assert "scripts/install-deps --test installs clang-format" in p.stderr, p.stderr


def test_format_gate_passes_on_the_tree():
    p = subprocess.run([CHECK_FORMAT], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]


def test_run_tests_never_skips_the_format_gate():
    with open(os.path.join(helpers.ROOT, "scripts", "run-tests")) as f:
        text = f.read()
    gate = text[text.index("# Style gate"):]
    condition = gate[gate.index("\nif ") + 1:].split("\n", 1)[0]
    assert condition == 'if [ -z "$san" ]; then', f"the format gate is conditional: {condition}"


def test_install_deps_installs_every_gate_tool_and_shows_apt():
    with open(INSTALL_DEPS) as f:
        text = f.read()
    test_pkgs = re.search(r'^TEST="([^"]*)"', text, re.M).group(1).split()
    for pkg in ("clang-format", "clang", "libclang-rt-dev", "nodejs", "npm", "chromium",
                "python3-torch", "python3-pytest"):
        assert pkg in test_pkgs, f"install-deps --test does not install {pkg}"
    apt_lines = [line for line in text.splitlines()
                 if "apt-get" in line and not line.lstrip().startswith(("#", "echo", "if "))]
    assert apt_lines, "install-deps runs no apt-get"
    for line in apt_lines:
        assert "-qq" not in line and "/dev/null" not in line, f"apt is silenced: {line.strip()}"


def test_install_deps_says_what_it_checked():
    p = subprocess.run([INSTALL_DEPS, "--test"], capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert p.stdout.startswith("install-deps: "), p.stdout[:500]


def test_float_pow10_table_is_what_its_generator_writes():
    """lib/float_pow10.h is generated, and the generator checks every constant
    float_text.c relies on with exact integers: both hold for the committed file."""
    gen = os.path.join(helpers.ROOT, "scripts", "gen-float-pow10")
    p = subprocess.run(["/usr/bin/python3", gen, "--check"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
