"""Finding and reading episode bags (rosbag2 MCAP or sqlite3, ours or third-party) via rosbags.

Only camera frames that the fixed-rate timeline actually uses are decoded: a first pass reads
every stamp (image stamps straight from the CDR header, without copying the pixels), a second
pass decodes the chosen frames.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader

from dp_core.time_units import NS_PER_S, stamp_to_ns
from dp_recorder.recovery import find_mcap, is_finalized, salvage_mcap

LOG = logging.getLogger(__name__)
STORAGE_SUFFIXES = (".mcap", ".db3")


class BagError(RuntimeError):
    """A bag cannot be converted; the message names the bag and the reason."""


def _is_bag_dir(path: Path) -> bool:
    return path.is_dir() and (is_finalized(path) or any(path.glob("*.mcap")) or any(path.glob("*.db3")))


def resolve_bag_paths(paths: Iterable[Path]) -> list[Path]:
    """Expand arguments: bag directories, storage files, or folders holding bag directories."""
    out: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"bag path {path} does not exist")
        if (path.is_file() and path.suffix in STORAGE_SUFFIXES) or _is_bag_dir(path):
            out.append(path)
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if _is_bag_dir(p) and not p.name.endswith(".partial"))
            if not children:
                raise FileNotFoundError(f"{path} is neither a bag nor a folder of bags")
            out.extend(children)
        else:
            raise ValueError(f"{path}: not a bag (expected a rosbag2 directory, .mcap or .db3 file)")
    return out


def readable_bag(path: Path, recover: bool, scratch: Path) -> tuple[Path, str]:
    """A path AnyReader can open, salvaging a damaged/unfinished MCAP into ``scratch`` if allowed.

    Returns (path, note); note is non-empty when the bag was salvaged.
    """
    mcap_file = path if path.suffix == ".mcap" else (find_mcap(path) if path.is_dir() else None)
    if path.is_dir() and not is_finalized(path):
        if not recover or mcap_file is None:
            raise BagError("bag was never finalized (recorder killed?): run dp-recover on it or pass --recover")
        reason = "unfinished"
    else:
        try:
            with AnyReader([path]):
                return path, ""
        except Exception as err:
            hint = "; pass --recover to salvage its complete chunks" if mcap_file is not None else ""
            if not recover or mcap_file is None:
                raise BagError(f"cannot read ({type(err).__name__}: {err}){hint}") from err
            reason = str(err)
    report = salvage_mcap(mcap_file, scratch / "salvaged")
    if report.message_count == 0:
        raise BagError(f"no readable messages ({report.error or 'empty'})")
    return scratch / "salvaged", f"salvaged {report.message_count} messages ({reason}; {report.error or 'complete'})"


def header_stamp_ns(msg: Any) -> int:
    """std_msgs/Header stamp of a deserialized message, in ns."""
    return stamp_to_ns(msg.header.stamp)


def _cdr_header_stamp(raw: bytes | memoryview) -> int:
    """Stamp of a CDR message whose first field is std_msgs/Header (no full deserialization)."""
    little = raw[1] == 1
    sec, nanosec = struct.unpack_from("<iI" if little else ">iI", raw, 4)
    return sec * NS_PER_S + nanosec


def _starts_with_header(reader: AnyReader, msgtype: str) -> bool:
    fields = reader.typestore.fielddefs[msgtype][1]
    return bool(fields) and fields[0][0] == "header" and fields[0][1][1] == "std_msgs/msg/Header"


@dataclass
class TopicData:
    """Samples of one topic: stamps (record order) and values or message ordinals."""

    stamps_ns: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)


def read_topics(
    reader: AnyReader,
    extract: dict[str, Callable[[Any], Any]],
    lazy: set[str],
    stamp_header: dict[str, bool],
) -> dict[str, TopicData]:
    """Pass 1: per topic, stamps and extracted values (``lazy`` topics store message ordinals)."""
    missing = sorted(set(extract) - {c.topic for c in reader.connections})
    if missing:
        have = sorted({c.topic for c in reader.connections})
        raise BagError(f"topics {missing} are not in the bag (it has {have})")
    conns = [c for c in reader.connections if c.topic in extract]
    data = {topic: TopicData() for topic in extract}
    fast = {c.topic: stamp_header[c.topic] and _starts_with_header(reader, c.msgtype) for c in conns if c.topic in lazy}
    for conn, t_ns, raw in reader.messages(connections=conns):
        item = data[conn.topic]
        if conn.topic in lazy:
            if stamp_header[conn.topic] and not fast[conn.topic]:
                raise BagError(f"{conn.topic} ({conn.msgtype}) has no header; use stamp: receive")
            item.stamps_ns.append(_cdr_header_stamp(raw) if fast[conn.topic] else int(t_ns))
            item.values.append(len(item.values))
            continue
        msg = reader.deserialize(raw, conn.msgtype)
        item.stamps_ns.append(header_stamp_ns(msg) if stamp_header[conn.topic] else int(t_ns))
        item.values.append(extract[conn.topic](msg))
    for topic, item in data.items():
        if not item.stamps_ns:
            raise BagError(f"topic {topic} has no messages")
        if stamp_header[topic] and min(item.stamps_ns) <= 0:
            raise BagError(f"topic {topic} has zero header stamps; set 'stamp: receive' for it in the config")
    return data


def read_chosen(
    reader: AnyReader, topic: str, ordinals: np.ndarray, convert: Callable[[Any], np.ndarray]
) -> dict[int, np.ndarray]:
    """Pass 2: convert only the messages of ``topic`` whose ordinal is in ``ordinals``."""
    wanted = set(int(i) for i in ordinals)
    out: dict[int, np.ndarray] = {}
    conns = [c for c in reader.connections if c.topic == topic]
    for ordinal, (conn, _t, raw) in enumerate(reader.messages(connections=conns)):
        if ordinal in wanted:
            out[ordinal] = convert(reader.deserialize(raw, conn.msgtype))
    if len(out) != len(wanted):
        raise BagError(f"{topic}: {len(wanted) - len(out)} chosen frames vanished between passes")
    return out
