"""Device selection with an error that says what to change (the node turns it into a FAILURE)."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """ "auto" → cuda when a CUDA device is visible, else cpu; "cpu", "cuda" or "cuda:N" as given.

    Raises:
        ValueError: CUDA requested but this torch has no CUDA build or sees no device, or the
            index N is past the visible devices.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device {str(device)!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from error
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {str(device)!r} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA device is visible"
            raise ValueError(
                f"device {str(device)!r} requested but CUDA is not available ({why}; torch "
                f"{torch.__version__}); use device 'cpu' or 'auto', or install a CUDA build of torch"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"device {str(device)!r} requested but only {count} CUDA device(s) are visible "
                f"(cuda:0..cuda:{count - 1}); check CUDA_VISIBLE_DEVICES"
            )
    return device
