"""Kernel matrices and weighted, grouped dependence statistics of a minibatch."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._marginals import MAX_EXACT_MARGINAL_VALUES

__all__ = ["attribute_is_discrete", "delta_kernel", "gaussian_kernel", "weighted_hsic"]


def attribute_is_discrete(c: Tensor) -> bool:
    """Whether an encoded attribute has few distinct rows (the exact marginal's limit)."""
    return len(torch.unique(c, dim=0)) <= MAX_EXACT_MARGINAL_VALUES


def gaussian_kernel(x: Tensor) -> Tensor:
    """Gaussian kernel matrix of the rows of ``x``, bandwidth by the median heuristic.

    The squared bandwidth is the median of the pairwise squared distances of
    the rows, so the kernel does not change when ``x`` is rescaled; the
    median is part of the graph, so neither does anything a gradient can
    follow (the gradient is orthogonal to ``x``'s scale). Rows that are all
    equal give a kernel of ones, whose centred statistics are 0.

    Parameters
    ----------
    x : Tensor of shape (n, d)

    Returns
    -------
    Tensor of shape (n, n)
    """
    squares = x.square().sum(1)
    distances = (squares.unsqueeze(1) + squares.unsqueeze(0) - 2 * x @ x.T).clamp_min(0)
    n = len(x)
    # the (lower) median of the n (n - 1) off-diagonal entries, as the k-th smallest entry once
    # the diagonal ranks first: the same value as indexing them out and taking the median,
    # without a boolean mask (whose indexing, and its backward, cost more than the kernel)
    diagonal = torch.eye(n, dtype=torch.bool, device=x.device)
    ranked = distances.masked_fill(diagonal, -math.inf).flatten()
    median = ranked.kthvalue(n + (n * (n - 1) - 1) // 2 + 1).values
    bandwidth = median.clamp_min(torch.finfo(x.dtype).eps)
    return torch.exp(distances / (-2 * bandwidth))


def delta_kernel(c: Tensor) -> Tensor:
    """Return the kernel ``1[c_i == c_j]`` of a discrete attribute's rows, shape (n, n)."""
    return (c.unsqueeze(1) == c.unsqueeze(0)).all(dim=2).to(c.dtype)


def weighted_hsic(k: Tensor, m: Tensor, weights: Tensor) -> Tensor:
    """Biased (V-statistic) HSIC of two symmetric kernel matrices under row weights, per group.

    With weights ``p`` summing to 1, HSIC is ``sum_ij p_i p_j K~_ij L~_ij``
    where ``K~`` is ``K`` centred under ``p`` (``L`` is ``m``); with equal
    weights it is ``trace(K H L H) / n**2``. Centring one of the two is
    enough, so it is computed as ``sum_ij p_i p_j K_ij L~_ij``: ``m``, which
    the callers give without gradient, is centred, and the part of the graph
    that the gradient of ``k`` follows is a single product.

    Parameters
    ----------
    k, m : Tensor of shape (n, n)
        Symmetric kernel matrices of the same rows.
    weights : Tensor of shape (g, n)
        Row weights of each group, each row summing to 1 (or all 0).

    Returns
    -------
    Tensor of shape (g,)
    """
    m_rows = weights @ m  # (g, n): sum_j p_j L_ij
    m_mean = (weights * m_rows).sum(1)  # (g,): sum_ij p_i p_j L_ij
    centred = m - m_rows.unsqueeze(2) - m_rows.unsqueeze(1) + m_mean[:, None, None]
    pairs = weights.unsqueeze(2) * weights.unsqueeze(1) * centred  # (g, n, n)
    return pairs.flatten(1) @ k.flatten()
