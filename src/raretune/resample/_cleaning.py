"""Exact Tomek-link and edited-nearest-neighbour cleaning, faster than imbalanced-learn's.

imbalanced-learn finds the nearest neighbours of every row (Tomek links) or of every row of
every cleaned class (ENN) by brute force: ``n**2`` distances. Almost all of them only confirm
what is obvious: a row deep inside its own class is not in a Tomek link and is not edited
away. The samplers here prove that cheaply and search exactly only for the rest:

* every Tomek link has an endpoint outside the largest class, so only those rows, and the
  largest-class rows they point at, need a nearest-neighbour query;
* a row whose ``k`` nearest rows of its own class are (by a safe margin) closer than any row
  of another class keeps all-same-class neighbours, so it is neither in a Tomek link
  (``k=1``) nor edited away by ENN. An upper bound on the first distance comes from a
  random-projection partition (the ``k``-th nearest row in the same leaf); a lower bound on
  the second from the leaves of the other classes (distance to the leaf centre minus its
  radius). The margin covers the rounding of the distances, ours and scikit-learn's.

Rows that the bounds do not settle are queried with the very routine imbalanced-learn uses
(scikit-learn's ``NearestNeighbors`` fitted on all rows, with the same parallel strategy
that imbalanced-learn's single large query would get), so the kept rows, their order and
the handling of exact distance ties are identical to imbalanced-learn's.
"""

from __future__ import annotations

import numbers

import numpy as np
from imblearn.combine import SMOTEENN as _ImbSMOTEENN
from imblearn.combine import SMOTETomek as _ImbSMOTETomek
from imblearn.over_sampling import SMOTE as _ImbSMOTE
from imblearn.utils import check_target_type
from sklearn.utils import check_X_y
from imblearn.under_sampling import EditedNearestNeighbours as _ImbEditedNearestNeighbours
from imblearn.under_sampling import TomekLinks as _ImbTomekLinks
from scipy import sparse
from scipy.stats import mode
from sklearn import get_config
from sklearn.metrics._pairwise_distances_reduction import ArgKmin
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import threadpool_limits

__all__ = ["TomekLinks", "EditedNearestNeighbours", "SMOTETomek", "SMOTEENN"]

# Below this many rows to query, a plain exact query is cheaper than building bounds.
_MIN_ROWS_FOR_BOUNDS = 2048
_LEAF_SIZE = 256
_N_PARTITIONS = 4
_QUERY_CHUNK = 4096

_TIES_NOTE = """
    Exact ties. Rows are kept or removed exactly as by imbalanced-learn, including when
    distances tie exactly (duplicate rows, lattice data). Such rows are settled by
    scikit-learn's own neighbour search, called with the parallel strategy that
    imbalanced-learn's single query would use. That search, not a rule of the method,
    decides which of several equidistant rows is "the" neighbour: among duplicates the
    row itself is not always column 0 (for brute force, scikit-learn's heap tends to put
    the later of two equal rows first). Hence a row duplicated with two labels may or may
    not form a Tomek link depending on the row order and, for brute-force search, on the
    number of OpenMP threads (scikit-learn switches its parallel strategy at
    ``4 * 256 * n_threads`` queried rows). The result here follows the same rule, so it
    changes with those factors exactly when imbalanced-learn's does.
"""


def _fast_path_usable(X) -> bool:
    """Dense, C-ordered float rows: the layout for which the exact reproduction is proven."""
    return (
        not sparse.issparse(X)
        and isinstance(X, np.ndarray)
        and X.dtype in (np.float32, np.float64)
        and X.flags.c_contiguous
        and X.ndim == 2
        and np.isfinite(X).all()
    )


class _ExactNeighbours:
    """Neighbour rows identical to those of one big ``kneighbors`` call, for any subset.

    ``nn`` is fitted on ``X``. imbalanced-learn queries ``n_queries_full`` rows in one call;
    scikit-learn's brute-force search picks its parallel strategy from that number, and the
    strategy changes the order of exactly tied neighbours, so we call the same routine with
    the strategy the full query would have used. Tree searches answer each row on its own.
    """

    def __init__(self, nn: NearestNeighbors, X: np.ndarray, n_queries_full: int):
        self._nn = nn
        self._X = X
        self._strategy = None
        if nn._fit_method == "brute" and ArgKmin.is_usable_for(X, nn._fit_X, nn.effective_metric_):
            chunk = get_config()["pairwise_dist_chunk_size"]
            threads = _openmp_effective_n_threads()
            if nn.n_samples_fit_ < n_queries_full or 4 * chunk * threads < n_queries_full:
                self._strategy = "parallel_on_X"
            else:
                self._strategy = "parallel_on_Y"

    def query(self, rows: np.ndarray) -> np.ndarray:
        k = self._nn.n_neighbors
        if len(rows) == 0:
            return np.empty((0, k), dtype=np.intp)
        X_query = self._X[rows]
        if self._strategy is None:
            return self._nn.kneighbors(X_query, return_distance=False)
        return ArgKmin.compute(
            X=X_query,
            Y=self._nn._fit_X,
            k=k,
            metric=self._nn.effective_metric_,
            metric_kwargs=self._nn.effective_metric_params_,
            strategy=self._strategy,
            return_distance=False,
        )


def _split_into_leaves(
    X: np.ndarray, sqnorm: np.ndarray, rows: np.ndarray, leaf_size: int, seed: int
) -> list[np.ndarray]:
    """Partition ``rows`` by recursive median splits along an approximate diameter."""
    rng = np.random.default_rng(seed)  # only the speed depends on it, never the result
    leaves = []
    stack = [rows]
    while stack:
        node = stack.pop()
        if len(node) <= leaf_size:
            leaves.append(node)
            continue
        points = X[node]
        sq = sqnorm[node]
        start = points[rng.integers(len(node))]
        a = points[np.argmax(sq - 2.0 * (points @ start))]
        b = points[np.argmax(sq - 2.0 * (points @ a))]
        projection = points @ (b - a)
        half = len(node) // 2
        order = np.argpartition(projection, half)
        stack.append(node[order[:half]])
        stack.append(node[order[half:]])
    return leaves


class _LeafBounds:
    """Cheap proofs that a row's nearest neighbours all belong to its own class.

    ``segments`` optionally maps a class code to ``(endpoints, pairs)``: every row of that
    class lies on a segment ``X[endpoints[p]]``--``X[endpoints[q]]`` for a pair ``(p, q)``
    (what SMOTE's output satisfies). Distances to such a class are then bounded from
    below by distances to its few segments instead of its many rows.
    """

    def __init__(self, X: np.ndarray, codes: np.ndarray, n_classes: int, segments=None):
        self._X = np.asarray(X, dtype=np.float64)
        self._codes = codes
        self._n_classes = n_classes
        self._segments = segments or {}
        self._sqnorm = np.einsum("ij,ij->i", self._X, self._X)
        # Bound on the rounding of a squared distance computed as |x|^2 - 2 x.y + |y|^2,
        # generous enough for both our arithmetic and scikit-learn's (float32 input is
        # given float32's epsilon although scikit-learn upcasts).
        eps = np.finfo(X.dtype).eps
        self._scale = (X.shape[1] + 8) * 8 * eps
        self._max_sqnorm = float(self._sqnorm.max()) if len(self._sqnorm) else 0.0

    def _slack(self, rows: np.ndarray) -> np.ndarray:
        return self._scale * (self._sqnorm[rows] + self._max_sqnorm)

    def _upper_kth(self, rows: np.ndarray, k: int, seed: int) -> np.ndarray:
        """Upper bound of the squared distance from each of ``rows`` to its k-th nearest
        row of the same class: the k-th nearest within its leaf of one random partition."""
        code = self._codes[rows[0]]
        wanted = np.zeros(len(self._codes), dtype=bool)
        wanted[rows] = True
        upper = np.full(len(self._codes), np.inf)
        class_rows = np.flatnonzero(self._codes == code)
        with threadpool_limits(1, user_api="blas"):  # many small products: threads only cost
            return self._upper_kth_leaves(rows, class_rows, wanted, upper, k, seed)

    def _upper_kth_leaves(self, rows, class_rows, wanted, upper, k, seed):
        for leaf in _split_into_leaves(self._X, self._sqnorm, class_rows, _LEAF_SIZE, seed):
            is_query = wanted[leaf]
            if len(leaf) <= k or not is_query.any():
                continue
            points = self._X[leaf]
            d2 = (points[is_query] @ points.T) * -2.0
            d2 += self._sqnorm[leaf]
            d2 += self._sqnorm[leaf][is_query][:, None]
            d2[np.arange(len(d2)), np.flatnonzero(is_query)] = np.inf  # not the row itself
            upper[leaf[is_query]] = np.partition(d2, k - 1, axis=1)[:, k - 1]
        return np.maximum(upper[rows], 0.0)

    def _exact_lower(self, rows: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Lower bound (within rounding) of the distance from each row to the nearest other."""
        lower = np.full(len(rows), np.inf)
        if len(others) == 0:
            return lower
        Y = self._X[others]
        y_sq = self._sqnorm[others]
        chunk_rows = max(1, (1 << 22) // len(others))
        for start in range(0, len(rows), chunk_rows):
            chunk = rows[start : start + chunk_rows]
            d2 = (self._X[chunk] @ Y.T) * -2.0
            d2 += y_sq
            best = d2.min(axis=1) + self._sqnorm[chunk]
            best -= self._scale * (self._sqnorm[chunk] + y_sq.max())
            lower[start : start + len(chunk)] = np.sqrt(np.maximum(best, 0.0))
        return lower

    def _segment_lower(self, rows: np.ndarray, code: int, enough) -> np.ndarray:
        """Lower bound of the distance from each row to the segments holding class ``code``.

        Bounds at least ``enough`` (scalar or per row) may be loose: first each row gets
        ``min over endpoints p of (|x - p| - longest segment at p)``, and only rows where
        that is below ``enough`` get their exact distance to every segment.
        """
        endpoints, pairs = self._segments[code]
        E = self._X[endpoints]
        e_sq = self._sqnorm[endpoints]
        p, q = pairs[:, 0], pairs[:, 1]
        gram_pq = np.einsum("ij,ij->i", E[p], E[q])
        length2 = np.maximum(e_sq[p] + e_sq[q] - 2.0 * gram_pq, 0.0)
        inv_length2 = np.divide(1.0, length2, out=np.zeros_like(length2), where=length2 > 0)
        longest = np.zeros(len(endpoints))
        np.maximum.at(longest, p, np.sqrt(length2))
        np.maximum.at(longest, q, np.sqrt(length2))
        longest = longest * (1 + 1e-9) + np.sqrt(self._scale * 4 * e_sq.max())
        bound_sq = e_sq.max()
        enough = np.broadcast_to(np.asarray(enough, dtype=float), (len(rows),))

        lower = np.empty(len(rows))
        chunk_rows = max(1, (1 << 22) // len(endpoints))
        for start in range(0, len(rows), chunk_rows):
            chunk = rows[start : start + chunk_rows]
            d2 = self._sqnorm[chunk][:, None] - 2.0 * (self._X[chunk] @ E.T) + e_sq
            d2 -= self._scale * (self._sqnorm[chunk][:, None] + bound_sq)
            lower[start : start + len(chunk)] = np.maximum(
                (np.sqrt(np.maximum(d2, 0.0)) - longest).min(axis=1), 0.0
            )
        refine = np.flatnonzero(lower < enough)
        if len(refine) == 0:
            return lower
        with threadpool_limits(1, user_api="blas"):  # the element-wise work dominates
            self._refine_segment_lower(rows, refine, lower, E, e_sq, p, q, length2, inv_length2)
        return lower

    def _refine_segment_lower(self, rows, refine, lower, E, e_sq, p, q, length2, inv_length2):
        bound_sq = e_sq.max()
        starts = E[p]
        directions = E[q] - starts
        start_sq = e_sq[p]
        start_dot_direction = np.einsum("ij,ij->i", starts, directions)
        chunk_rows = max(1, (1 << 20) // len(p))
        for begin in range(0, len(refine), chunk_rows):
            at = refine[begin : begin + chunk_rows]
            points = self._X[rows[at]]
            x_sq = np.einsum("ij,ij->i", points, points)[:, None]
            d2 = points @ starts.T  # becomes |x - a|^2
            d2 *= -2.0
            d2 += x_sq
            d2 += start_sq
            along = points @ directions.T  # becomes (x - a).(b - a)
            along -= start_dot_direction
            t = np.clip(along * inv_length2, 0.0, 1.0)
            # |x - a - t (b - a)|^2 = |x - a|^2 - t (2 (x - a).(b - a) - t |b - a|^2)
            along *= 2.0
            along -= t * length2
            along *= t
            d2 -= along
            best = d2.min(axis=1) - 4.0 * self._scale * (x_sq[:, 0] + bound_sq)
            lower[at] = np.sqrt(np.maximum(best, 0.0))
        return lower

    def _lower_other_classes(self, rows: np.ndarray, upper: np.ndarray, code: int) -> np.ndarray:
        """Lower bound of the distance from each row to the nearest row of another class."""
        lower = np.full(len(rows), np.inf)
        for other in range(self._n_classes):
            if other == code:
                continue
            other_rows = np.flatnonzero(self._codes == other)
            if other in self._segments:
                enough = np.sqrt(upper + 4.0 * self._slack(rows))
                bound = self._segment_lower(rows, other, enough)
            elif code in self._segments:
                # Our rows lie on segments: only other rows near the segments can be
                # nearer to one of them than its k-th neighbour; the far ones are bounded
                # by their distance to the segments.
                finite = np.isfinite(upper)
                reach = np.quantile(np.sqrt(upper[finite]), 0.99) if finite.any() else 0.0
                to_segments = self._segment_lower(other_rows, code, reach * 1.01)
                near = to_segments <= reach
                far_bound = to_segments[~near].min() if (~near).any() else np.inf
                bound = np.minimum(self._exact_lower(rows, other_rows[near]), far_bound)
            else:
                bound = self._exact_lower(rows, other_rows)
            np.minimum(lower, bound, out=lower)
        return lower

    def surely_pure(self, code: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of class ``code`` whose k nearest other rows are, provably, of that class.

        Returns the class rows (ascending) and a boolean mask over them.
        """
        rows = np.flatnonzero(self._codes == code)
        pure = np.zeros(len(rows), dtype=bool)
        if len(rows) <= k:
            return rows, pure
        upper = self._upper_kth(rows, k, seed=0)
        lower = self._lower_other_classes(rows, upper, code)
        threshold = lower**2 - 4.0 * self._slack(rows)
        # Squared upper bound plus rounding of both computations stays below the squared
        # lower bound: every row at most as far as the k-th is of the same class, whatever
        # the rounding of the distances in scikit-learn. Rows left undecided get another
        # chance with another random partition (their neighbours fall in other leaves).
        for seed in range(1, _N_PARTITIONS + 1):
            pure = upper < threshold
            todo = np.flatnonzero(~pure)
            if seed == _N_PARTITIONS or len(todo) < 256:
                break
            upper[todo] = np.minimum(upper[todo], self._upper_kth(rows[todo], k, seed))
        return rows, pure


def _segments_by_code(segments, classes) -> dict:
    if not segments:
        return {}
    return {int(np.searchsorted(classes, label)): value for label, value in segments.items()}


def _smote_segments(smote, X, y) -> dict | None:
    """Segments holding every row of each class that ``smote`` over-sampled, or None.

    For class ``c`` with rows ``A``, SMOTE puts each new row on a segment from a row of ``A``
    to one of its ``k`` nearest rows of ``A``. We take every pair ``(a, b)`` with ``b`` no
    farther from ``a`` than ``a``'s ``(k+1)``-th nearest row (itself included), plus a
    rounding margin: a superset of the pairs SMOTE used, whichever way it broke ties.
    """
    if type(smote) is not _ImbSMOTE or not isinstance(smote.k_neighbors, numbers.Integral):
        return None
    if not _fast_path_usable(X):
        return None
    k = smote.k_neighbors
    X64 = np.asarray(X, dtype=np.float64)
    eps = np.finfo(X.dtype).eps
    segments = {}
    for label, n_new in smote.sampling_strategy_.items():
        endpoints = np.flatnonzero(y == label)
        if n_new == 0 or len(endpoints) <= k:
            continue
        E = X64[endpoints]
        e_sq = np.einsum("ij,ij->i", E, E)
        slack = (X.shape[1] + 8) * 16 * eps * (e_sq.max() * 2)
        pairs = []
        chunk_rows = max(1, (1 << 22) // len(endpoints))
        for start in range(0, len(endpoints), chunk_rows):
            d2 = e_sq[start : start + chunk_rows, None] - 2.0 * (E[start : start + chunk_rows] @ E.T) + e_sq
            kth = np.partition(d2, k, axis=1)[:, k]
            p, q = np.nonzero(d2 <= (kth * (1 + 1e-9) + 2 * slack)[:, None])
            pairs.append(np.column_stack([p + start, q]))
        pairs = np.sort(np.concatenate(pairs), axis=1)  # a segment is its own reverse
        pairs = np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0)
        alone = np.setdiff1d(np.arange(len(endpoints)), pairs.ravel())
        pairs = np.concatenate([pairs, np.column_stack([alone, alone])])  # points, too
        segments[label] = (endpoints, pairs)
    return segments


class TomekLinks(_ImbTomekLinks):
    """Under-sample by removing Tomek links; exact and faster than imbalanced-learn's.

    Same parameters, attributes and results as
    :class:`imblearn.under_sampling.TomekLinks` (identical ``sample_indices_``), found
    without a nearest-neighbour query for every row. A Tomek link is a pair of rows of
    different classes that are each other's nearest neighbour; the rows of the links that
    belong to a class selected by ``sampling_strategy`` are removed.

    Parameters
    ----------
    sampling_strategy : str, list or callable, default="auto"
        Classes to clean, as in imbalanced-learn: ``"auto"`` (= ``"not minority"``),
        ``"majority"``, ``"not majority"``, ``"all"``, a list of classes or a callable.
    n_jobs : int, default=None
        Passed to scikit-learn's neighbour search (tree searches only).

    Attributes
    ----------
    sampling_strategy_ : dict
        Classes cleaned (keys).
    sample_indices_ : ndarray of shape (n_new_samples,)
        Indices of the kept rows, ascending.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    Notes
    -----
    Every link has an endpoint outside the largest class. Only those rows (and the
    largest-class rows they point at) are queried, and when there are many of them (after
    SMOTE, say), rows provably nearer to their own class than to any other are skipped
    first (see the module notes). Sparse, non-C-ordered or non-float input is handed to
    imbalanced-learn's algorithm unchanged.
    """

    __doc__ += _TIES_NOTE + """
    Examples
    --------
    >>> import numpy as np
    >>> from raretune.resample import TomekLinks
    >>> X = np.array([[0.0], [1.0], [1.4], [3.0], [5.0]])
    >>> y = np.array([0, 0, 1, 0, 0])
    >>> TomekLinks().fit_resample(X, y)[1]
    array([0, 1, 0, 0])
    """

    def _fit_resample(self, X, y, *, segments=None):
        # ``segments`` (private, from SMOTETomek): {class: (endpoint rows, index pairs)}
        if not _fast_path_usable(X):
            return super()._fit_resample(X, y)
        n_samples = len(y)
        nn = NearestNeighbors(n_neighbors=2, n_jobs=self.n_jobs).fit(X)
        exact = _ExactNeighbours(nn, X, n_queries_full=n_samples)
        classes, codes = np.unique(y, return_inverse=True)
        counts = np.bincount(codes, minlength=len(classes))
        largest = int(np.argmax(counts))

        # nearest[i]: index of i's first neighbour (column 1) once known; -1 unknown;
        # -2 proven to be of i's own class (then i is in no link).
        nearest = np.full(n_samples, -1, dtype=np.intp)
        outside = np.flatnonzero(codes != largest)
        if len(outside) >= _MIN_ROWS_FOR_BOUNDS:
            bounds = _LeafBounds(X, codes, len(classes), _segments_by_code(segments, classes))
            for code in range(len(classes)):
                if code != largest:
                    rows, pure = bounds.surely_pure(code, 1)
                    nearest[rows[pure]] = -2
        todo = outside[nearest[outside] == -1]
        nearest[todo] = exact.query(todo)[:, 1]

        crossing = todo[codes[nearest[todo]] != codes[todo]]
        partners = nearest[crossing]
        unknown = np.unique(partners[nearest[partners] == -1])
        nearest[unknown] = exact.query(unknown)[:, 1]

        in_link = crossing[nearest[partners] == crossing]
        links = np.zeros(n_samples, dtype=bool)
        links[in_link] = True
        links[nearest[in_link]] = True
        cleaned = np.array([c in self.sampling_strategy_ for c in classes], dtype=bool)
        links &= cleaned[codes]

        self.sample_indices_ = np.flatnonzero(~links)
        return (
            _safe_indexing(X, self.sample_indices_),
            _safe_indexing(y, self.sample_indices_),
        )


class EditedNearestNeighbours(_ImbEditedNearestNeighbours):
    """Under-sample by edited nearest neighbours; exact and faster than imbalanced-learn's.

    Same parameters, attributes and results as
    :class:`imblearn.under_sampling.EditedNearestNeighbours` (identical
    ``sample_indices_``, in the same class-grouped order). A row of a cleaned class is
    removed when any (``kind_sel="all"``) or most (``kind_sel="mode"``) of its
    ``n_neighbors`` nearest neighbours belong to another class.

    Parameters
    ----------
    sampling_strategy : str, list or callable, default="auto"
        Classes to clean, as in imbalanced-learn.
    n_neighbors : int or estimator, default=3
        Size of the neighbourhood. An estimator with ``kneighbors`` is accepted as in
        imbalanced-learn, but is then used by imbalanced-learn's own (slower) algorithm.
    kind_sel : {"all", "mode"}, default="all"
        Remove a row when any (``"all"``) or the most common (``"mode"``) of its neighbours'
        labels differs from its own.
    n_jobs : int, default=None
        Passed to scikit-learn's neighbour search (tree searches only).

    Attributes
    ----------
    sampling_strategy_ : dict
        Classes cleaned (keys).
    nn_ : estimator
        The fitted nearest-neighbour search (``n_neighbors + 1`` neighbours).
    sample_indices_ : ndarray of shape (n_new_samples,)
        Indices of the kept rows, grouped by class in sorted class order.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` has string column names.

    Notes
    -----
    A row whose ``n_neighbors`` nearest rows of its own class are provably nearer than any
    row of another class is kept without a query, under both ``kind_sel`` rules; the others
    are queried exactly. Only rows of the classes being cleaned are examined. Sparse,
    non-C-ordered or non-float input is handed to imbalanced-learn's algorithm unchanged.
    """

    __doc__ += _TIES_NOTE + """
    Examples
    --------
    >>> import numpy as np
    >>> from raretune.resample import EditedNearestNeighbours
    >>> X = np.array([[0.0], [0.1], [0.2], [0.3], [0.35], [5.0], [5.1]])
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1])
    >>> EditedNearestNeighbours(n_neighbors=2).fit_resample(X, y)[1]
    array([0, 0, 0, 1, 1, 1])
    """

    def _fit_resample(self, X, y, *, segments=None):
        # ``segments`` (private, from SMOTEENN): {class: (endpoint rows, index pairs)}
        if not isinstance(self.n_neighbors, numbers.Integral) or not _fast_path_usable(X):
            return super()._fit_resample(X, y)
        self._validate_estimator()
        self.nn_.fit(X)
        n_neighbors = self.nn_.n_neighbors - 1
        classes, codes = np.unique(y, return_inverse=True)
        bounds = None

        kept = []
        for code, target_class in enumerate(classes):
            class_rows = np.flatnonzero(codes == code)
            if target_class not in self.sampling_strategy_.keys():
                kept.append(class_rows)
                continue
            keep = np.zeros(len(class_rows), dtype=bool)
            if len(class_rows) >= _MIN_ROWS_FOR_BOUNDS:
                if bounds is None:
                    bounds = _LeafBounds(
                        X, codes, len(classes), _segments_by_code(segments, classes)
                    )
                rows, pure = bounds.surely_pure(code, n_neighbors)
                keep[pure] = True  # rows == class_rows (both ascending)
            todo = np.flatnonzero(~keep)
            exact = _ExactNeighbours(self.nn_, X, n_queries_full=len(class_rows))
            neighbourhood = exact.query(class_rows[todo])[:, 1:]
            labels = y[neighbourhood]
            if self.kind_sel == "mode":
                labels, _ = mode(labels, axis=1, keepdims=False)
                keep[todo] = np.ravel(labels) == y[class_rows[todo]]
            else:
                keep[todo] = np.all(labels == target_class, axis=1)
            kept.append(class_rows[keep])

        self.sample_indices_ = np.concatenate(kept).astype(int, copy=False)
        return (
            _safe_indexing(X, self.sample_indices_),
            _safe_indexing(y, self.sample_indices_),
        )


def _fast_twin(sampler, fast_class):
    """The raretune version of an imbalanced-learn cleaning sampler, with its parameters."""
    if type(sampler) is fast_class.__mro__[1]:
        return fast_class(**sampler.get_params())
    return sampler


class SMOTETomek(_ImbSMOTETomek):
    """SMOTE over-sampling then Tomek-link cleaning, identical to imbalanced-learn's.

    Same parameters and output as :class:`imblearn.combine.SMOTETomek` for the same
    ``random_state``: the SMOTE step is imbalanced-learn's; the cleaning step is
    :class:`raretune.resample.TomekLinks` (``sampling_strategy="all"``), which keeps exactly
    the same rows as imbalanced-learn's, much faster on large data.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default="auto"
        Over-sampling target of the SMOTE step, as in imbalanced-learn.
    random_state : int, RandomState instance or None, default=None
        Seed of the SMOTE step; ``None`` gives fresh randomness, any int (0 included)
        repeats.
    smote : sampler, default=None
        A :class:`~imblearn.over_sampling.SMOTE` to use instead of the default one.
    tomek : TomekLinks, default=None
        The cleaning step; an imbalanced-learn ``TomekLinks`` is replaced by this module's
        one with the same parameters (same result, faster).
    n_jobs : int, default=None
        Passed to the neighbour searches.

    Attributes
    ----------
    smote_ : sampler
        The fitted SMOTE step.
    tomek_ : TomekLinks
        The fitted cleaning step.
    sampling_strategy_ : dict or str
        As in imbalanced-learn.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from raretune.resample import SMOTETomek
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> X_res, y_res = SMOTETomek(random_state=0).fit_resample(X, y)
    """

    def _validate_estimator(self):
        super()._validate_estimator()
        if self.tomek is None:
            self.tomek_ = TomekLinks(sampling_strategy="all", n_jobs=self.n_jobs)
        else:
            self.tomek_ = _fast_twin(self.tomek_, TomekLinks)

    def _fit_resample(self, X, y):
        return _smote_then_clean(self, X, y, "tomek_", TomekLinks)


class SMOTEENN(_ImbSMOTEENN):
    """SMOTE over-sampling then edited-nearest-neighbour cleaning, identical to imbalanced-learn's.

    Same parameters and output as :class:`imblearn.combine.SMOTEENN` for the same
    ``random_state``: the SMOTE step is imbalanced-learn's; the cleaning step is
    :class:`raretune.resample.EditedNearestNeighbours` (``sampling_strategy="all"``),
    which keeps exactly the same rows as imbalanced-learn's, much faster on large data.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default="auto"
        Over-sampling target of the SMOTE step, as in imbalanced-learn.
    random_state : int, RandomState instance or None, default=None
        Seed of the SMOTE step; ``None`` gives fresh randomness, any int (0 included)
        repeats.
    smote : sampler, default=None
        A :class:`~imblearn.over_sampling.SMOTE` to use instead of the default one.
    enn : EditedNearestNeighbours, default=None
        The cleaning step; an imbalanced-learn ``EditedNearestNeighbours`` is replaced by
        this module's one with the same parameters (same result, faster).
    n_jobs : int, default=None
        Passed to the neighbour searches.

    Attributes
    ----------
    smote_ : sampler
        The fitted SMOTE step.
    enn_ : EditedNearestNeighbours
        The fitted cleaning step.
    sampling_strategy_ : dict or str
        As in imbalanced-learn.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from raretune.resample import SMOTEENN
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> X_res, y_res = SMOTEENN(random_state=0).fit_resample(X, y)
    """

    def _validate_estimator(self):
        super()._validate_estimator()
        if self.enn is None:
            self.enn_ = EditedNearestNeighbours(sampling_strategy="all", n_jobs=self.n_jobs)
        else:
            self.enn_ = _fast_twin(self.enn_, EditedNearestNeighbours)

    def _fit_resample(self, X, y):
        return _smote_then_clean(self, X, y, "enn_", EditedNearestNeighbours)


def _smote_then_clean(combined, X, y, cleaner_attribute, fast_class):
    """imbalanced-learn's combined ``_fit_resample``, telling our cleaner where SMOTE's rows lie."""
    combined._validate_estimator()
    cleaner = getattr(combined, cleaner_attribute)
    y = check_target_type(y)
    X, y = check_X_y(X, y, accept_sparse=["csr", "csc"])
    combined.sampling_strategy_ = combined.sampling_strategy
    X_res, y_res = combined.smote_.fit_resample(X, y)
    if type(cleaner) is fast_class:
        segments = _smote_segments(combined.smote_, X, y)
        return cleaner.fit_resample(X_res, y_res, segments=segments)
    return cleaner.fit_resample(X_res, y_res)
