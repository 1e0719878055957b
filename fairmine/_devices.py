"""Torch device helpers shared by the estimator and the MI package."""

from __future__ import annotations

import torch

__all__ = ["cuda_devices"]


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
