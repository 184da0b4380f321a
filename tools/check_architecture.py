"""Fail when docs/architecture.md and the source tree disagree (run by tools/lint.sh).

Why: architecture.md promises that a reader finds every concept in the one file named after it;
a module nobody lists, or a listed file that was renamed away, breaks that promise silently.

Checks (stdlib only, no import of the packages):
- every package module under ``src/<pkg>/`` (not tests, ``__init__.py``, ``setup.py`` or launch
  files) is named in a backticked span of docs/architecture.md (dp_sim's may instead be named in
  src/dp_sim/README.md): its stem (``chunk_program`` or ``chunk_program.py``) as a whole word, and for
  a module in a subpackage with the subpackage (``policy/chunk_program.py``), since stems such as
  ``cli`` or ``images`` recur in several places, and a top-level module whose stem another
  package's top level also has with its package (``dp_ros_common/images.py``);
- every backticked ``name.py`` (or glob such as ``launch/*.launch.py``) in those documents exists
  somewhere in the repository.
"""

import fnmatch
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: Packages whose own README may list their modules instead of architecture.md.
PACKAGE_READMES = {"dp_sim": ROOT / "src" / "dp_sim" / "README.md"}
#: Directories that are not the project's source (build outputs, environments, caches).
SKIP_DIRS = {"build", "install", "log", "outputs", "runs", "__pycache__", "node_modules"}
EXCLUDED_NAMES = {"__init__.py", "setup.py"}


def package_modules(src: Path) -> list[Path]:
    """The modules the document must name: as ``find src -path '*/test' -prune`` finds them."""
    modules = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in {"test", "launch", "__pycache__"})
        modules += [Path(dirpath, f) for f in sorted(filenames) if f.endswith(".py") and f not in EXCLUDED_NAMES]
    return modules


def backticked(text: str) -> list[str]:
    """Inline code spans (fenced code blocks are examples, not mentions)."""
    return re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))


def mention(module: Path, src: Path, shared: set[str]) -> tuple[str, re.Pattern[str]]:
    """How a module must be written (``stem``, ``sub/stem``, or ``pkg/stem`` when another package has a
    top-level module of that stem) and the pattern that finds it (``pkg.stem`` also counts)."""
    parts = module.relative_to(src).with_suffix("").parts  # (pkg, pkg, [sub, ...], stem)
    inner = parts[2:] if len(parts) > 2 and parts[1] == parts[0] else parts[1:]
    if len(inner) == 1 and inner[0] in shared:
        name = f"{parts[0]}/{inner[0]}"
        return name, re.compile(rf"(?<![\w/.]){re.escape(parts[0])}[/.]{re.escape(inner[0])}(?!\w)")
    name = "/".join(inner[-2:])
    return name, re.compile(rf"(?<![\w/]){re.escape(name)}(?!\w)")


def shared_top_level_stems(modules: list[Path], src: Path) -> set[str]:
    """Stems of package top-level modules that exist in more than one package (e.g. two ``images.py``)."""
    seen: dict[str, set[str]] = {}
    for module in modules:
        parts = module.relative_to(src).parts
        if len(parts) == 3 and parts[0] == parts[1]:  # src/<pkg>/<pkg>/<stem>.py
            seen.setdefault(Path(parts[2]).stem, set()).add(parts[0])
    return {stem for stem, packages in seen.items() if len(packages) > 1}


def unnamed_modules(src: Path, docs: dict[str, list[str]]) -> list[str]:
    """Problems for modules that no document names."""
    problems = []
    modules = package_modules(src)
    shared = shared_top_level_stems(modules, src)
    for module in modules:
        package = module.relative_to(src).parts[0]
        name, pattern = mention(module, src, shared)
        places = [ARCHITECTURE] + ([PACKAGE_READMES[package]] if package in PACKAGE_READMES else [])
        if not any(pattern.search(span) for place in places for span in docs[str(place)]):
            where = " or ".join(str(p.relative_to(ROOT)) for p in places)
            problems.append(f"{module.relative_to(ROOT)}: not named in {where} (write `{name}.py` in its table)")
    return problems


def repository_files(root: Path) -> list[str]:
    """Every file's path relative to the root, without hidden, build and cache directories."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS]
        rel = Path(dirpath).relative_to(root)
        files += [(rel / f).as_posix() for f in filenames]
    return files


def missing_files(docs: dict[str, list[str]], files: list[str]) -> list[str]:
    """Problems for backticked ``*.py`` names that match no file of the repository."""
    problems = []
    for doc, spans in docs.items():
        names = sorted({n for span in spans for n in re.findall(r"(?<![\w./*-])[\w./*-]+\.py(?!\w)", span)})
        for name in names:
            if not any(fnmatch.fnmatch(f, name) or fnmatch.fnmatch(f, f"*/{name}") for f in files):
                problems.append(f"{Path(doc).relative_to(ROOT)}: `{name}` names no file in the repository")
    return problems


def main() -> int:
    src = ROOT / "src"
    docs = {str(p): backticked(p.read_text(encoding="utf-8")) for p in [ARCHITECTURE, *PACKAGE_READMES.values()]}
    problems = unnamed_modules(src, docs) + missing_files(docs, repository_files(ROOT))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check_architecture: {len(problems)} problem(s); see docs/architecture.md", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
