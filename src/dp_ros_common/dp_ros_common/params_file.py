"""Robot profiles with YAML anchors/aliases, made loadable by rcl.

Why: a profile defines the robot's joint list once (``&fr3_joints``) and every node block refers
to it (``*fr3_joints``), so blocks cannot disagree. rcl's params-file parser refuses aliases
("Will not support aliasing": rcl_yaml_param_parser ``parse.c``, checked by
``test_params_file.py``), so every path we hand to a node as ``--params-file`` goes through
:func:`resolve`: a file without aliases is returned unchanged; otherwise PyYAML expands the aliases
into an alias-free copy (same blocks and values, comments dropped) in a per-user cache directory,
named by the content hash, written atomically (parallel launches share it safely).

By hand: ``--params-file "$(python -m dp_ros_common.params_file config/robots/fr3_realsense.yaml)"``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import yaml

CACHE_DIR = Path(os.environ.get("DP_PARAMS_CACHE") or Path(tempfile.gettempdir()) / f"dp_ros2_params_{os.getuid()}")


def has_aliases(text: str) -> bool:
    """Whether a YAML document refers to an anchor (``*name``)."""
    return any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))


def resolve(path: str | os.PathLike[str], cache_dir: Path = CACHE_DIR) -> str:
    """``path`` itself when it has no aliases, else an alias-free copy of it that rcl can load.

    Raises:
        ValueError: the file is not a YAML mapping (a parameter file has one block per node).
    """
    source = Path(path)
    text = source.read_text()
    if not has_aliases(text):
        return str(path)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a parameter file is a mapping of node blocks, got {type(data).__name__}")
    # no anchors in the output: equal lists must be written out, not aliased again
    out = yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=None, width=1 << 16)
    header = f"# Generated from {source.resolve()} by dp_ros_common.params_file (aliases expanded); edit that file.\n"
    digest = hashlib.sha256((header + out).encode()).hexdigest()[:16]
    _private_dir(cache_dir)
    target = cache_dir / f"{source.stem}-{digest}.yaml"
    # never trust an existing copy: its content must be exactly what this profile expands to
    if not target.is_file() or target.read_text() != header + out:
        with tempfile.NamedTemporaryFile("w", dir=cache_dir, suffix=".tmp", delete=False) as tmp:
            tmp.write(header + out)
        os.replace(tmp.name, target)
    return str(target)


def _private_dir(path: Path) -> None:
    """Create ``path`` as this user's own directory (mode 0700) or refuse one another user could write:
    a robot's joint limits are read from it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise PermissionError(
            f"{path} belongs to another user or is group/world-writable; remove it or set DP_PARAMS_CACHE"
        )


class _NoAliasDumper(yaml.SafeDumper):
    """Writes equal lists out (no anchors) and quotes every string: rcl reads YAML 1.1 scalars, so
    an unquoted ``y`` or ``on`` would come back as a boolean (and ``"0001"`` as a number)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


_NoAliasDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
)


def main(argv: list[str] | None = None) -> int:
    """``python -m dp_ros_common.params_file FILE``: print the path to give ``--params-file``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m dp_ros_common.params_file PARAMS_FILE", file=sys.stderr)
        return 2
    print(resolve(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
