"""Salvage MCAP files that were never finalized (recorder killed, power loss) or that lack
rosbag2 metadata (written by a third-party MCAP writer).

The MCAP file is streamed record by record with the ``mcap`` package; every message up to the
first damaged record is copied, bytes unchanged, into a new finalized rosbag2 directory.
"""

from __future__ import annotations

import logging
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

from mcap.exceptions import McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader
from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

from dp_recorder.episode_metadata import read_metadata, write_metadata

LOG = logging.getLogger(__name__)
_STREAM_ERRORS = (McapError, struct.error, EOFError, ValueError, OSError)


@dataclass
class SalvageReport:
    """What was copied out of a damaged or bare MCAP file."""

    source: Path
    destination: Path
    message_count: int = 0
    topics: dict[str, int] = field(default_factory=dict)
    complete: bool = True  # False when the stream ended in a damaged/truncated record
    error: str = ""


def is_finalized(bag_dir: Path) -> bool:
    """A rosbag2 directory whose writer closed it (metadata.yaml is written last)."""
    return (Path(bag_dir) / "metadata.yaml").is_file()


def find_mcap(bag_dir: Path) -> Path | None:
    """The MCAP storage file of a bag directory, if any."""
    files = sorted(Path(bag_dir).glob("*.mcap"))
    return files[0] if files else None


def _rihs01(schema: Schema) -> str:
    """RIHS01 hash of a schema's type (rosbag2 connections need one)."""
    typestore = get_typestore(Stores.EMPTY)
    text = schema.data.decode()
    if schema.encoding == "ros2idl":
        typestore.register(get_types_from_idl(text))
    else:
        typestore.register(get_types_from_msg(text, schema.name))
    return typestore.hash_rihs01(schema.name)


def salvage_mcap(source: Path, destination: Path) -> SalvageReport:
    """Copy every readable message of ``source`` (.mcap) into a new rosbag2 at ``destination``."""
    report = SalvageReport(Path(source), Path(destination))
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    connections: dict[int, Connection] = {}
    with open(source, "rb") as f, Writer(destination, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        try:
            for record in StreamReader(f, skip_magic=False).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Message):
                    conn = connections.get(record.channel_id)
                    if conn is None:
                        conn = _add_connection(writer, channels[record.channel_id], schemas)
                        connections[record.channel_id] = conn
                    writer.write(conn, record.log_time, record.data)
                    topic = channels[record.channel_id].topic
                    report.topics[topic] = report.topics.get(topic, 0) + 1
                    report.message_count += 1
        except _STREAM_ERRORS as err:  # a killed writer leaves a partial record at the end
            report.complete = False
            report.error = f"{type(err).__name__}: {err}".strip()
    return report


def _add_connection(writer: Writer, channel: Channel, schemas: dict[int, Schema]) -> Connection:
    schema = schemas.get(channel.schema_id)
    if schema is None or schema.encoding not in ("ros2msg", "ros2idl"):
        raise McapError(f"channel {channel.topic} has no ros2msg/ros2idl schema; not a ROS 2 MCAP file")
    return writer.add_connection(
        channel.topic,
        schema.name,
        msgdef=schema.data.decode(),
        rihs01=_rihs01(schema),
        serialization_format=channel.message_encoding or "cdr",
    )


def recover_episode(bag_dir: Path) -> SalvageReport:
    """Finalize an episode bag in place after a crash; the episode metadata says ``recovered``.

    The original directory is renamed to ``<name>.partial`` first and removed only after the
    new bag is complete, so an interrupted recovery can simply be run again.
    """
    bag_dir = Path(bag_dir)
    partial = bag_dir.with_name(bag_dir.name + ".partial")
    if is_finalized(bag_dir):
        raise ValueError(f"{bag_dir} is already finalized (has metadata.yaml); nothing to recover")
    if not partial.exists():
        if find_mcap(bag_dir) is None:
            raise ValueError(f"{bag_dir} holds no .mcap file; nothing to recover")
        bag_dir.rename(partial)
    elif bag_dir.exists():
        shutil.rmtree(bag_dir)  # leftover of an interrupted recovery
    mcap_file = find_mcap(partial)
    if mcap_file is None:
        raise ValueError(f"{partial} holds no .mcap file; nothing to recover")
    report = salvage_mcap(mcap_file, bag_dir)
    meta = read_metadata(partial)
    if meta is not None:
        meta.status = "recovered"
        meta.message_counts = dict(report.topics)
        meta.note = (meta.note + " " if meta.note else "") + f"[recovered {report.message_count} messages]"
        write_metadata(bag_dir, meta)
    shutil.rmtree(partial)
    LOG.info("recovered %s: %d messages (%s)", bag_dir, report.message_count, report.error or "complete")
    return report


def recover_unfinished(output_dir: Path) -> list[SalvageReport]:
    """Recover every unfinished episode bag directly under ``output_dir``."""
    reports = []
    for path in sorted(Path(output_dir).iterdir()) if Path(output_dir).is_dir() else []:
        if path.is_dir() and path.name.endswith(".partial"):
            path = path.with_name(path.name[: -len(".partial")])
        elif not path.is_dir() or is_finalized(path) or find_mcap(path) is None:
            continue
        if not is_finalized(path):
            reports.append(recover_episode(path))
    return reports
