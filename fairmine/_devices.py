"""Torch device helpers shared by the estimator and the MI package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["check_device", "cuda_devices", "torch_threads"]


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


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads, then restore the count.

    Parameters
    ----------
    threads : int or None
        Threads for the block; None leaves the process's count as it is (a
        worker of loky, Dask or Ray starts with its share of the cores, see
        the scaling guide).

    Examples
    --------
    >>> import torch
    >>> from fairmine._devices import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
