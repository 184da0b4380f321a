"""tools/bootstrap.sh's build-state step (tools/source_state.sh) works without .git.

A Docker build context excludes .git (.dockerignore) and the old step hashed ``git ls-files``
under ``pipefail``, so ``docker build`` never produced an image. The step runs here on a copy of
the build inputs without .git: it succeeds, gives the same hash as the git listing of the
checkout, and changes when a source file changes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from bringup_workspace import REPO

SCRIPT = REPO / "tools" / "source_state.sh"
INPUTS = ("src", "colcon.meta", "launch", "config/robots", "tools", "vendor")


def _state(root: Path, path: str | None = None) -> str:
    env = {**os.environ, "PATH": path if path is not None else os.environ["PATH"]}
    result = subprocess.run(
        ["bash", str(root / "tools" / "source_state.sh"), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    digest = result.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", digest), result.stdout
    return digest


@pytest.fixture()
def copy_without_git(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for rel in INPUTS:
        src = REPO / rel
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(
                src,
                dst,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache"),
            )
        else:
            shutil.copy2(src, dst)
    assert not (root / ".git").exists()
    return root


def test_bootstrap_uses_the_step_and_not_git() -> None:
    text = (REPO / "tools" / "bootstrap.sh").read_text()
    assert "tools/source_state.sh" in text
    assert "git " not in re.sub(r"#.*", "", text), "bootstrap.sh still calls git"


def test_state_without_git_succeeds_and_follows_changes(copy_without_git: Path) -> None:
    root = copy_without_git
    first = _state(root)
    assert _state(root) == first  # stable
    source = root / "src" / "dp_core" / "package.xml"
    source.write_text(source.read_text() + "\n")
    assert _state(root) != first
    (root / "src" / "dp_core" / "new_module.py").write_text("")
    assert len({first, _state(root)}) == 2
    # build outputs do not count
    (root / "src" / "dp_core" / "__pycache__").mkdir(exist_ok=True)
    before = _state(root)
    (root / "src" / "dp_core" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"0")
    assert _state(root) == before


def test_state_without_git_binary(copy_without_git: Path, tmp_path: Path) -> None:
    """A machine without git at all (PATH with only the coreutils the step needs)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "find", "sort", "xargs", "stat", "sha256sum", "cut", "dirname"):
        found = shutil.which(tool)
        assert found, tool
        (bindir / tool).symlink_to(found)
    assert _state(copy_without_git, path=str(bindir)) == _state(copy_without_git)


def test_git_and_find_listings_agree_on_a_clean_copy(copy_without_git: Path) -> None:
    """In the checkout the step lists files with git; the copy (same files, same mtimes) with find."""
    inside_git = (
        subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True
        ).stdout.strip()
        == "true"
    )
    if not inside_git:
        pytest.skip("the repository is not a git checkout here")
    ignored_in_src = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-oi", "--exclude-standard", "--", "src", "launch", "config/robots"],
        capture_output=True,
        text=True,
    ).stdout.split()
    unusual = [p for p in ignored_in_src if not re.search(r"(__pycache__|\.pyc$|\.egg-info|\.pytest_cache)", p)]
    if unusual:
        pytest.skip(f"ignored files other than build outputs in the inputs: {unusual[:3]}")
    assert _state(REPO) == _state(copy_without_git)


def test_dockerfile_installs_dependencies_before_copying_the_source() -> None:
    """The torch layer depends only on requirements/ and bootstrap: a source edit keeps it cached."""
    lines = [line.strip() for line in (REPO / "docker" / "Dockerfile").read_text().splitlines()]
    copies = [i for i, line in enumerate(lines) if line.startswith("COPY")]
    source_copy = next(i for i in copies if line_args(lines[i])[-2:] == [".", "."])
    deps_run = next(i for i, line in enumerate(lines) if line.startswith("RUN") and "bootstrap.sh --deps-only" in line)
    build_run = next(
        i for i, line in enumerate(lines) if line.startswith("RUN") and line.endswith("bash tools/bootstrap.sh")
    )
    early = [src for i in copies if i < deps_run for src in line_args(lines[i])[:-1]]
    assert early and all(src.startswith(("requirements/", "tools/")) for src in early), early
    assert deps_run < source_copy < build_run
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "build", "install"} <= set(ignored)


def line_args(line: str) -> list[str]:
    """COPY arguments without --flags (the last one is the destination)."""
    return [a for a in line.split()[1:] if not a.startswith("--")]


def _source_state_inputs() -> list[str]:
    match = re.search(r"^INPUTS=\(([^)]*)\)", SCRIPT.read_text(), re.M)
    assert match, "tools/source_state.sh has no INPUTS=(...) line"
    return match.group(1).split()


def test_docker_context_keeps_every_build_input() -> None:
    """The image's ``COPY . .`` brings every input bootstrap builds from, vendor/ included (the
    franka_msgs / control_msgs stand-ins it builds when no real package is installed)."""
    from fnmatch import fnmatch

    inputs = _source_state_inputs()
    assert "vendor" in inputs and (REPO / "vendor" / "franka_msgs" / "package.xml").is_file()
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "!"))
    ]
    # the inputs, their parents and their first files (a pattern such as **/*.xml would drop files)
    paths = {"tools", "requirements", "tools/bootstrap.sh"}
    for rel in inputs:
        parts = rel.split("/")
        paths |= {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
        root = REPO / rel
        if root.is_dir():
            paths |= {
                str(f.relative_to(REPO))
                for f in sorted(root.rglob("*"))
                if f.is_file() and "__pycache__" not in f.parts and ".egg-info" not in str(f)
            }
    excluded = sorted(
        p for p in paths for pat in patterns if fnmatch(p, pat.rstrip("/")) or fnmatch(p, pat.lstrip("/"))
    )
    assert not excluded, f".dockerignore excludes build inputs: {excluded[:5]}"
    lines = [line.strip() for line in (REPO / "docker" / "Dockerfile").read_text().splitlines()]
    assert any(line.startswith("COPY") and line_args(line)[-2:] == [".", "."] for line in lines)
