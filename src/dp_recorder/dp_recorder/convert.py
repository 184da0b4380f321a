"""Bags → ReplayBuffer: filtering, parallel conversion, atomic output, summary.

Workers build whole episodes (numpy) from bags; the parent appends them in input order to a
temporary copy of the output and renames it into place at the end, so an interrupted run never
leaves a half-written dataset. A bag that fails is reported by name and skipped.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dp_core.data.replay_buffer import ReplayBuffer
from dp_recorder.bag_reader import readable_bag, resolve_bag_paths
from dp_recorder.convert_config import ConvertConfig
from dp_recorder.episode_builder import Episode, build_episode
from dp_recorder.episode_metadata import read_metadata
from dp_recorder.lerobot_writer import LeRobotWriter

LOG = logging.getLogger(__name__)


@dataclass
class BagOutcome:
    """Result of one bag: an episode, or why it was skipped."""

    bag: str
    episode: Episode | None = None
    skipped: str = ""
    failed: str = ""


@dataclass(frozen=True)
class LeRobotOptions:
    """What a LeRobot export needs beyond the converter config."""

    task: str = ""  # task text for episodes whose metadata names none
    robot_type: str = ""
    vcodec: str = "libsvtav1"  # LeRobot's default; h264/hevc also decode there


@dataclass
class ConvertSummary:
    """What a conversion did (printed by the CLI, returned to callers)."""

    output: str
    converted: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    n_episodes_total: int = 0
    n_steps_total: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [
            f"converted {len(self.converted)} episode(s), {sum(self.lengths)} steps in {self.seconds:.1f} s -> "
            f"{self.output} ({self.n_episodes_total} episodes, {self.n_steps_total} steps in total)"
        ]
        out += [f"  salvaged {bag}: {note}" for bag, note in self.notes.items()]
        out += [f"  skipped {bag}: {why}" for bag, why in self.skipped.items()]
        out += [f"  FAILED  {bag}: {why}" for bag, why in self.failed.items()]
        return out


def convert_one(bag: Path, config: ConvertConfig, recover: bool) -> BagOutcome:
    """Filter and convert one bag; never raises for a bad bag (the outcome says what failed)."""
    outcome = BagOutcome(bag=str(bag))
    meta = read_metadata(bag) if bag.is_dir() else None
    if config.success_only and (meta is None or not meta.success):
        outcome.skipped = "not marked successful" if meta else "no episode metadata (success unknown)"
        return outcome
    try:
        with tempfile.TemporaryDirectory(prefix="dp_convert_") as scratch:
            path, note = readable_bag(bag, recover, Path(scratch))
            outcome.episode = build_episode(path, config, source=str(bag))
            outcome.episode.note = note
            outcome.episode.task = meta.task if meta is not None else ""
    except Exception as err:
        LOG.debug("bag %s failed", bag, exc_info=True)
        outcome.failed = f"{type(err).__name__}: {err}"
        return outcome
    if outcome.episode.length < config.min_length:
        outcome.skipped = f"{outcome.episode.length} steps < min_length {config.min_length}"
        outcome.episode = None
    return outcome


def _outcomes(bags: Sequence[Path], config: ConvertConfig, recover: bool, workers: int) -> Iterator[BagOutcome]:
    """Outcomes in input order; bags run in a process pool when workers > 1."""
    if workers <= 1 or len(bags) <= 1:
        for bag in bags:
            yield convert_one(bag, config, recover)
        return
    # spawn: the caller may hold DDS threads (tests, nodes); forking those is unsafe.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(bags)), mp_context=ctx) as pool:
        yield from pool.map(convert_one, bags, [config] * len(bags), [recover] * len(bags))


def _staging_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.tmp-{os.getpid()}")


def convert_bags(
    bags: Sequence[Path],
    config: ConvertConfig,
    out: Path,
    *,
    append: bool = False,
    workers: int = 1,
    recover: bool = False,
    progress: Callable[[BagOutcome], None] | None = None,
    lerobot: LeRobotOptions | None = None,
) -> ConvertSummary:
    """Convert ``bags`` into the ReplayBuffer at ``out`` (atomically; append if asked).

    With ``lerobot`` set, ``out`` becomes a LeRobot v3.0 dataset directory instead (same
    episodes, same order; no append).
    """
    started = time.monotonic()
    out = Path(out)
    if lerobot is not None and append:
        raise ValueError("--append works on zarr output only; write the LeRobot dataset in one run")
    if lerobot is None and out.suffix == ".zip":
        raise ValueError(f"{out}: write a directory store (*.zarr); zip stores are read-only here")
    if out.exists() and not append:
        raise FileExistsError(f"{out} exists: pass --append to add episodes or choose another --out")
    paths = resolve_bag_paths(bags)
    staging = _staging_path(out)
    if staging.exists():
        shutil.rmtree(staging)
    buffer: ReplayBuffer | LeRobotWriter
    if lerobot is not None:
        buffer = LeRobotWriter(
            staging, config, robot_type=lerobot.robot_type or None, default_task=lerobot.task, vcodec=lerobot.vcodec
        )
    elif out.exists():
        shutil.copytree(out, staging)  # append on a copy: the original stays valid until the rename
        buffer = ReplayBuffer.open(staging, "a")
    else:
        buffer = ReplayBuffer.create(staging)
    summary = ConvertSummary(output=str(out))
    try:
        for outcome in _outcomes(paths, config, recover, workers):
            _record(buffer, outcome, summary)
            if progress is not None:
                progress(outcome)
        summary.n_episodes_total, summary.n_steps_total = buffer.n_episodes, buffer.n_steps
        if not buffer.n_episodes and lerobot is not None:
            raise ValueError("no bag converted: nothing to write as a LeRobot dataset")
        buffer.close()
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary.seconds = time.monotonic() - started
    return summary


def _record(buffer: ReplayBuffer | LeRobotWriter, outcome: BagOutcome, summary: ConvertSummary) -> None:
    if outcome.episode is None:
        target = summary.failed if outcome.failed else summary.skipped
        target[outcome.bag] = outcome.failed or outcome.skipped
        LOG.warning("%s %s: %s", "failed" if outcome.failed else "skipped", outcome.bag, target[outcome.bag])
        return
    try:
        if isinstance(buffer, LeRobotWriter):
            buffer.add_episode(outcome.episode.data, task=outcome.episode.task)
        else:
            buffer.add_episode(outcome.episode.data)
    except ValueError as err:  # keys/shapes differ from the existing dataset
        summary.failed[outcome.bag] = f"does not fit the dataset: {err}"
        return
    summary.converted.append(outcome.bag)
    summary.lengths.append(outcome.episode.length)
    if outcome.episode.note:
        summary.notes[outcome.bag] = outcome.episode.note


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename staging → out; an existing out is moved aside first and removed after."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    staging.rename(out)
    if old.exists():
        shutil.rmtree(old)
