"""The regressor's target, standardised without overflow or underflow.

``MIUnbiasedRegressor`` learns ``(y - mean) / std``. Computed directly, the
squares of a target around 1e200 overflow (the scale becomes inf and every
prediction inf or NaN) and those of a target around 1e-200 underflow (the
scale becomes 0, the target a constant); both happened without an error.
Here the moments of such a target are taken of ``y`` divided by its largest
magnitude first; a target of ordinary size is standardised as it always was,
to the last bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["standardise_target"]

#: a target whose largest magnitude lies outside this range is divided by it first
_ORDINARY_MAGNITUDES = (1e-100, 1e100)


def standardise_target(y: np.ndarray, weight: np.ndarray | None) -> tuple[float, float, np.ndarray]:
    """Return the weighted mean and standard deviation of ``y``, and ``y`` standardised.

    Parameters
    ----------
    y : ndarray of shape (n_samples,), float64
        A finite target.
    weight : ndarray of shape (n_samples,) or None
        Sample weights (some positive), or None.

    Returns
    -------
    mean : float
    scale : float
        The standard deviation, 1 for a constant target.
    standard : ndarray of shape (n_samples,), float64
        ``(y - mean) / scale``.

    Examples
    --------
    >>> import numpy as np
    >>> mean, scale, standard = standardise_target(np.array([1e200, 3e200]), None)
    >>> f"{mean:.3g}", f"{scale:.3g}", standard.round(12).tolist()
    ('2e+200', '1e+200', [-1.0, 1.0])
    """
    magnitude = float(np.max(np.abs(y))) if len(y) else 0.0
    low, high = _ORDINARY_MAGNITUDES
    unit = magnitude if magnitude > high or 0 < magnitude < low else 1.0
    relative = y / unit  # at most 1 in magnitude when divided: no square overflows
    mean = float(np.average(relative, weights=weight))
    spread = float(np.sqrt(np.average((relative - mean) ** 2, weights=weight)))
    spread = spread if spread > 0 else 1.0 / unit
    return mean * unit, spread * unit, (relative - mean) / spread
