"""Onset-detection evaluation: F-measure, precision and recall, as mir_eval computes them.

An estimated onset is correct if it can be paired with a reference onset at
most ``window_s`` away; pairs are one-to-one and as many as possible (a
maximum bipartite matching, :func:`scipy.sparse.csgraph.maximum_bipartite_matching`,
the same optimum as ``mir_eval.util.match_events``). Then, with ``m`` pairs,
``precision = m / len(est)``, ``recall = m / len(ref)`` and
``F = 2 P R / (P + R)`` (0 when P + R is 0); either list empty gives all three
0, as mir_eval does. The window test is mir_eval's own
(``est − window <= ref <= est + window`` in floating point), so results agree
to the last bit at the window's edge too.

Reference: Raffel et al. (2014), "mir_eval: A transparent implementation of
common MIR metrics", ISMIR; ``mir_eval.onset.f_measure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_bipartite_matching

from engine.scoring.times import as_times

__all__ = ["f_measure", "match_count"]


def match_count(ref_s: Sequence[float], est_s: Sequence[float], window_s: float = 0.05) -> int:
    """Largest number of one-to-one (reference, estimate) pairs within ±``window_s``."""
    ref = as_times(ref_s, "ref_s")
    est = as_times(est_s, "est_s")
    if not (np.isfinite(window_s) and window_s > 0):
        raise ValueError("window_s must be a positive number of seconds")
    if ref.size == 0 or est.size == 0:
        return 0
    hit = (ref[:, None] >= est[None, :] - window_s) & (ref[:, None] <= est[None, :] + window_s)
    if not hit.any():
        return 0
    pairs = maximum_bipartite_matching(csr_array(hit.astype(np.int8)), perm_type="column")
    return int(np.count_nonzero(pairs >= 0))


def f_measure(ref_s: Sequence[float], est_s: Sequence[float], window_s: float = 0.05) -> tuple[float, float, float]:
    """F-measure, precision and recall of estimated onsets against reference onsets.

    Parameters
    ----------
    ref_s, est_s : sequence of float
        Reference and estimated onset times, seconds, any order.
    window_s : float
        Tolerance, seconds (default 0.05, mir_eval's default).

    Returns
    -------
    (f_measure, precision, recall) : tuple of float
        Each in 0–1.

    Examples
    --------
    >>> f_measure([1.0, 2.0], [1.03, 2.2, 3.0])
    (0.4, 0.3333333333333333, 0.5)
    """
    ref = as_times(ref_s, "ref_s")
    est = as_times(est_s, "est_s")
    if ref.size == 0 or est.size == 0:
        return 0.0, 0.0, 0.0
    m = match_count(ref, est, window_s)
    precision = m / est.size
    recall = m / ref.size
    f = 0.0 if precision + recall == 0 else 2.0 * precision * recall / (precision + recall)
    return f, precision, recall
