"""``dp-recover BAG_DIR... | OUTPUT_DIR``: finalize episode bags left open by a killed recorder."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dp_recorder.recovery import find_mcap, is_finalized, recover_episode, recover_unfinished


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="dp-recover", description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path, help="unfinished episode bag dirs, or a recorder output dir")
    args = parser.parse_args(argv)
    status = 0
    for path in args.paths:
        try:
            if path.is_dir() and not is_finalized(path) and find_mcap(path) is not None:
                reports = [recover_episode(path)]
            else:
                reports = recover_unfinished(path)
        except (OSError, ValueError) as err:
            print(f"dp-recover: {path}: {err}", file=sys.stderr)
            status = 1
            continue
        for r in reports:
            print(f"{r.destination}: {r.message_count} messages {r.topics} ({r.error or 'complete'})")
        if not reports:
            print(f"{path}: nothing to recover")
    return status


if __name__ == "__main__":
    sys.exit(main())
