"""Torch device helpers shared by the estimator and the MI package."""

from __future__ import annotations

import torch

__all__ = ["check_device", "cuda_devices"]


def cuda_devices(device: str | torch.device) -> list[int]:
    """Return the CUDA device indices whose random state a fit on ``device`` uses.

    Parameters
    ----------
    device : str or torch.device
        The device a model or critic trains on.

    Returns
    -------
    list of int
        Empty for a CPU device; the one CUDA index otherwise (for
        ``torch.random.fork_rng(devices=...)``).
    """
    device = torch.device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def check_device(device: str | torch.device, name: str = "device") -> torch.device:
    """Return ``device`` as a ``torch.device``, refusing one this machine does not have.

    Parameters
    ----------
    device : str or torch.device
        The device asked for, such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.
    name : str, default="device"
        The argument's name, for the error message.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        When ``device`` is not a torch device, or names a CUDA or MPS device
        that is not available here.
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{name}={device!r} is not a torch device ({error}).") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"{name}={device!r}, but torch finds no CUDA GPU on this machine "
                "(torch.cuda.is_available() is False). Use device='cpu', or install a CUDA "
                "build of torch on a machine with a GPU."
            )
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"{name}={device!r}, but this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}."
            )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={device!r}, but the MPS backend is not available here.")
    return parsed
