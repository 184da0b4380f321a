"""Message definitions for bag connections, without a ROS install.

A rosbag2 connection stores the full message definition and its RIHS01 hash so that any reader
(``ros2 bag``, rosbags, Foxglove) can decode the bytes. Standard types come from the rosbags
typestore for Jazzy; project types (dp_msgs, ...) are registered from the ``.msg`` files that
colcon installs under each package's share directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

LOG = logging.getLogger(__name__)


def split_type_name(msgtype: str) -> tuple[str, str, str]:
    """'pkg/msg/Name' (or 'pkg/Name') → (pkg, 'msg', Name); ValueError for anything else."""
    parts = msgtype.split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3 or not all(parts) or parts[1] != "msg":
        raise ValueError(f"message type must look like 'pkg/msg/Name', got {msgtype!r}")
    return parts[0], parts[1], parts[2]


def normalize_type_name(msgtype: str) -> str:
    """'pkg/Name' or 'pkg/msg/Name' → 'pkg/msg/Name'."""
    return "/".join(split_type_name(msgtype))


def _find_msg_file(msgtype: str) -> Path | None:
    """The installed .msg file of a type (ament index), or None when the package is unknown."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    pkg, sub, name = split_type_name(msgtype)
    try:
        share = Path(get_package_share_directory(pkg))
    except (PackageNotFoundError, ValueError):
        return None
    path = share / sub / f"{name}.msg"
    return path if path.is_file() else None


def _field_type_names(fields: list) -> set[str]:
    """Names of message types referenced by parsed rosbags fields (array elements included)."""
    names: set[str] = set()
    for _name, (kind, detail) in fields:
        if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            kind, detail = detail[0]  # (element descriptor, size)
        if kind == Nodetype.NAME:
            names.add(detail)
    return names


def ensure_type(typestore: Typestore, msgtype: str) -> None:
    """Register ``msgtype`` (and custom types it uses) from installed .msg files if missing.

    Raises:
        ValueError: the type is neither in the typestore nor installed as a .msg file.
    """
    msgtype = normalize_type_name(msgtype)
    pending = [msgtype]
    while pending:
        name = pending.pop()
        if name in typestore.types:
            continue
        path = _find_msg_file(name)
        if path is None:
            raise ValueError(
                f"unknown message type {name!r}: not a standard Jazzy type and no installed {name}.msg "
                "(build and source the package that defines it)"
            )
        parsed = get_types_from_msg(path.read_text(), name)
        typestore.register(parsed)
        LOG.debug("registered %s from %s", name, path)
        for _consts, fields in parsed.values():
            pending.extend(t for t in _field_type_names(fields) if t not in typestore.types)


def make_typestore(msgtypes: tuple[str, ...] | list[str] = ()) -> Typestore:
    """A Jazzy typestore that also knows ``msgtypes`` (project types loaded from share dirs)."""
    typestore = get_typestore(Stores.ROS2_JAZZY)
    for msgtype in msgtypes:
        ensure_type(typestore, msgtype)
    return typestore


def message_definition(typestore: Typestore, msgtype: str) -> tuple[str, str]:
    """(concatenated ros2msg definition, RIHS01 hash) of a type, registering it when needed."""
    msgtype = normalize_type_name(msgtype)
    ensure_type(typestore, msgtype)
    msgdef, _ = typestore.generate_msgdef(msgtype, ros_version=2)
    return msgdef, typestore.hash_rihs01(msgtype)
