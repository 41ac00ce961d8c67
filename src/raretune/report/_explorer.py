"""The report's threshold explorer: move the decision threshold over the validation scores.

The page embeds the validation labels and scores (out-of-fold predictions when the run was
cross-fitted) compactly: the distinct scores, rounded to 6 significant digits, in ascending
order, with the number of negatives and positives at each. A few lines of inline JavaScript
then give, for any threshold ``t`` (a row is flagged when ``score >= t``), the confusion
matrix and the rates derived from it, without a network or a framework. Rounding is monotone,
so counts are exact except at thresholds within a millionth (relative) of a score.

With a weight column (``validation_sample_weight`` in ``scores.npz``) the confusion counts,
precision, recall and F1 are sums of weights, as in ``metrics.json``; the alert rate still
counts rows. With a cost or weight column (``validation_cost``) each distinct score also
carries the money its positives lose when missed and its negatives when flagged
(:func:`raretune.metrics.row_costs`), so the money at a threshold is the one formula of
``metrics.json``'s ``validation.cost``.

Elements a test or a reader can rely on: ``#threshold-explorer`` (``data-threshold`` is the
current threshold, ``data-deployed`` the deployed one, ``data-scale`` ``log`` or ``quantile``),
the slider ``#explorer-slider``, the number box ``#explorer-threshold``, the button
``#explorer-reset`` and one element per quantity, ``#explorer-tp`` ... ``#explorer-cost``
(``#explorer-deployed-tp`` ... for the deployed threshold), each with ``data-value`` holding the
unformatted number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape

import numpy as np

from ..metrics import row_costs

__all__ = ["compact_scores", "explorer_html", "validation_row_values"]

#: Quantities shown for the chosen and the deployed threshold: (id suffix, label).
QUANTITIES = (
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("alert-rate", "alert rate (share of rows flagged)"),
    ("per10k", "flagged rows per 10,000"),
    ("cost", "expected cost (total on these rows)"),
    ("cost-per-row", "expected cost per row"),
)

_CSS = """
#threshold-explorer .controls { display:flex; flex-wrap:wrap; gap:10px 22px; align-items:center;
  margin:8px 0 4px; }
#threshold-explorer .track { position:relative; flex:1 1 520px; min-width:320px; padding-bottom:18px; }
#threshold-explorer input[type=range] { width:100%; margin:0; }
#explorer-deployed-mark { position:absolute; top:20px; transform:translateX(-50%); font-size:11px;
  color:var(--accent); white-space:nowrap; pointer-events:none; }
#threshold-explorer .ends { display:flex; justify-content:space-between; font-size:12px;
  color:var(--muted); }
#explorer-threshold { width:9.5em; font:inherit; padding:2px 6px; }
#explorer-reset { font:inherit; padding:3px 12px; border:1px solid var(--accent); border-radius:5px;
  background:#fff; color:var(--accent); cursor:pointer; }
#explorer-reset:disabled { color:var(--muted); border-color:var(--line); cursor:default; }
#threshold-explorer .panes { display:flex; flex-wrap:wrap; gap:10px 36px; align-items:flex-start; }
#threshold-explorer table.cm td.num { min-width:7em; font-size:16px; }
#threshold-explorer .cm-label { font-size:11px; color:var(--muted); margin-right:6px; }
#threshold-explorer.offdeployed td.now { background:#fff6e0; }
"""

# Reads the JSON island, keeps one threshold and redraws every output from it.
_JS = r"""
(function () {
  "use strict";
  var root = document.getElementById("threshold-explorer");
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  var s = data.scores, nNeg = data.neg, nPos = data.pos, k = s.length;
  // negAbove[i], posAbove[i]: rows with score >= s[i]; index k: none
  var negAbove = new Array(k + 1), posAbove = new Array(k + 1), rowsBelow = new Array(k + 1);
  negAbove[k] = 0; posAbove[k] = 0;
  for (var i = k - 1; i >= 0; i--) { negAbove[i] = negAbove[i + 1] + nNeg[i]; posAbove[i] = posAbove[i + 1] + nPos[i]; }
  var P = posAbove[0], N = negAbove[0] + P, STEPS = 1000;
  for (var j = 0; j <= k; j++) { rowsBelow[j] = N - negAbove[j] - posAbove[j]; }
  function above(a) {  // out[i]: the sum of a over entries with score >= s[i]
    var out = new Array(k + 1); out[k] = 0;
    for (var i = k - 1; i >= 0; i--) { out[i] = out[i + 1] + a[i]; }
    return out;
  }
  // weighted counts (sums of weights) where the run had a weight column, else the row counts
  var posW = data.pos_w ? above(data.pos_w) : posAbove, negW = data.neg_w ? above(data.neg_w) : negAbove;
  var PW = posW[0], NW = negW[0] + PW;
  // money per distinct score where the run had per-row costs or weights
  var missAbove = data.miss ? above(data.miss) : null, alarmAbove = data.alarm ? above(data.alarm) : null;
  var slider = document.getElementById("explorer-slider");
  var box = document.getElementById("explorer-threshold");
  var reset = document.getElementById("explorer-reset");

  function firstAtLeast(t) {  // first index with s[i] >= t
    var lo = 0, hi = k;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (s[mid] < t) { lo = mid + 1; } else { hi = mid; } }
    return lo;
  }
  function counts(t) {
    var i = firstAtLeast(t), tp = posW[i], fp = negW[i];
    return {tp: tp, fp: fp, fn: PW - tp, tn: NW - PW - fp, rows: posAbove[i] + negAbove[i], i: i};
  }
  function quantities(c) {
    var flagged = c.tp + c.fp, q = {
      tp: c.tp, fp: c.fp, fn: c.fn, tn: c.tn,
      precision: flagged ? c.tp / flagged : null,
      recall: PW ? c.tp / PW : null,
      f1: (2 * c.tp + c.fp + c.fn) ? 2 * c.tp / (2 * c.tp + c.fp + c.fn) : null,
      "alert-rate": c.rows / N,
      per10k: 10000 * c.rows / N,
      cost: null, "cost-per-row": null
    };
    if (data.costs && missAbove) {  // missed positives below t, false alarms at or above it
      q.cost = Math.max(missAbove[0] - missAbove[c.i], 0) + alarmAbove[c.i];
      q["cost-per-row"] = q.cost / NW;
    } else if (data.costs) {
      q.cost = data.costs.fn * c.fn + data.costs.fp * c.fp;
      q["cost-per-row"] = q.cost / N;
    }
    return q;
  }
  function fmt(name, v) {
    if (v === null) { return "—"; }
    if (name === "tp" || name === "fp" || name === "fn" || name === "tn") {
      return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", {maximumFractionDigits: 2});
    }
    if (name === "per10k") { return v.toFixed(1); }
    if (name === "alert-rate") { return (100 * v).toFixed(3) + "%"; }
    if (name === "cost") { return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(2); }
    return v.toFixed(4);
  }
  function show(prefix, q) {
    for (var name in q) {
      var el = document.getElementById(prefix + name);
      if (el) { el.textContent = fmt(name, q[name]); el.setAttribute("data-value", q[name] === null ? "" : String(q[name])); }
    }
  }
  // slider position <-> threshold
  var logLo = data.log_low, logHi = data.log_high;
  function thresholdAt(pos) {
    if (data.scale === "log") { return Number(Math.pow(10, logLo + (logHi - logLo) * pos / STEPS).toPrecision(4)); }
    // quantile: the score below which a share pos/STEPS of the rows lies
    var want = Math.min(N - 1, Math.floor(pos / STEPS * N)), lo = 0, hi = k - 1;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (rowsBelow[mid + 1] <= want) { lo = mid + 1; } else { hi = mid; } }
    return s[lo];
  }
  function positionOf(t) {
    if (data.scale === "log") {
      var x = t > 0 ? (Math.log10(t) - logLo) / (logHi - logLo) : 0;
      return Math.round(Math.min(1, Math.max(0, x)) * STEPS);
    }
    return Math.round(Math.min(1, rowsBelow[firstAtLeast(t)] / N) * STEPS);
  }
  var current = data.deployed;
  function update(t, fromSlider) {
    current = t;
    root.setAttribute("data-threshold", String(t));
    if (!fromSlider) { slider.value = String(positionOf(t)); }
    if (document.activeElement !== box || fromSlider) { box.value = String(t); }
    show("explorer-", quantities(counts(t)));
    var off = t !== data.deployed;
    reset.disabled = !off;
    root.classList.toggle("offdeployed", off);
  }
  slider.addEventListener("input", function () { update(thresholdAt(Number(slider.value)), true); });
  box.addEventListener("input", function () {
    var t = Number(box.value);
    if (box.value.trim() !== "" && isFinite(t)) { update(t, false); }
  });
  box.addEventListener("change", function () { box.value = String(current); });
  reset.addEventListener("click", function () { update(data.deployed, false); box.value = String(data.deployed); });
  document.getElementById("explorer-deployed-mark").style.left =
    "calc(" + (positionOf(data.deployed) / STEPS * 100) + "% + " + (8 - 16 * positionOf(data.deployed) / STEPS) + "px)";
  document.getElementById("explorer-low").textContent = String(thresholdAt(0));
  document.getElementById("explorer-high").textContent = String(thresholdAt(STEPS));
  show("explorer-deployed-", quantities(counts(data.deployed)));
  update(data.deployed, false);
})();
"""


def _round6(values: np.ndarray) -> np.ndarray:
    """Values rounded to 6 significant digits, as the strings JSON will hold."""
    return np.char.mod("%.6g", values)


def compact_scores(y_true, score, *, sample_weight=None, money: Mapping | None = None) -> dict:
    """Distinct scores (6 significant digits, ascending) with their negative and positive counts.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels, 1 for the positive class.
    score : array-like of shape (n,)
        Finite scores of the positive class.
    sample_weight : array-like of shape (n,), optional
        Row weights: adds ``neg_w`` and ``pos_w``, the sums of the weights at each score.
    money : mapping, optional
        ``{"cost_fn", "cost_fp", "cost", "sample_weight"}`` as :func:`raretune.metrics.row_costs`
        takes them: adds ``miss`` (what the positives at each score lose if not flagged) and
        ``alarm`` (what its negatives lose if flagged).

    Returns
    -------
    dict
        ``{"scores": list of float, "neg": list of int, "pos": list of int}`` (and the lists
        above); the rows with a score at or above ``t`` are those of the entries whose score
        is at or above ``t``.

    Examples
    --------
    >>> compact_scores([0, 1, 1, 0], [0.1, 0.9, 0.1234567, 0.1])
    {'scores': [0.1, 0.123457, 0.9], 'neg': [2, 0, 0], 'pos': [0, 1, 1]}
    >>> compact_scores([0, 1, 1, 0], [0.1, 0.9, 0.2, 0.1], money={"cost": [0, 50, 20, 0], "cost_fp": 5})
    {'scores': [0.1, 0.2, 0.9], 'neg': [2, 0, 0], 'pos': [0, 1, 1], 'miss': [0.0, 20.0, 50.0], 'alarm': [10.0, 0.0, 0.0]}
    """
    y = np.asarray(y_true).astype(int)
    rounded = _round6(np.asarray(score, dtype=float)).astype(float)
    distinct, index = np.unique(rounded, return_inverse=True)
    pos = np.bincount(index, weights=y, minlength=distinct.size).astype(int)
    total = np.bincount(index, minlength=distinct.size)
    out = {"scores": distinct.tolist(), "neg": (total - pos).tolist(), "pos": pos.tolist()}
    if sample_weight is not None:
        weight = np.asarray(sample_weight, dtype=float)
        out["neg_w"] = np.bincount(index, weights=weight * (y == 0), minlength=distinct.size).tolist()
        out["pos_w"] = np.bincount(index, weights=weight * (y == 1), minlength=distinct.size).tolist()
    if money is not None:
        miss, alarm = row_costs(y, **money)
        out["miss"] = np.bincount(index, weights=miss, minlength=distinct.size).tolist()
        out["alarm"] = np.bincount(index, weights=alarm, minlength=distinct.size).tolist()
    return out


def validation_row_values(scores: Mapping, costs: Mapping | None, n: int) -> dict | None:
    """``{"cost", "sample_weight"}``: the ``n`` validation rows' arrays in ``scores.npz`` (``None`` each when absent).

    ``None`` when the run had a cost or weight column (``costs``, ``metrics.json``'s) that
    ``scores.npz`` does not hold, as in a run older than those arrays: its money cannot be
    counted again here.
    """
    found = {}
    for key in ("cost", "sample_weight"):
        values = scores.get(f"validation_{key}")
        found[key] = None if values is None or np.shape(values) != (n,) else np.asarray(values, dtype=float)
    costs = costs or {}
    if (costs.get("cost_column") and found["cost"] is None) or (costs.get("weight_column") and found["sample_weight"] is None):
        return None
    return found


def _deployed(m: Mapping) -> tuple[float | None, str]:
    refit = m.get("refit")
    if isinstance(refit, Mapping) and isinstance(refit.get("threshold"), Mapping) \
            and refit["threshold"].get("value") is not None:
        return float(refit["threshold"]["value"]), "refit"
    threshold = m.get("threshold")
    if isinstance(threshold, Mapping) and threshold.get("value") is not None:
        return float(threshold["value"]), "run"
    return None, ""


def _scale(scores: np.ndarray, counts: np.ndarray) -> tuple[str, float, float]:
    """``log`` with its decade range when most rows score below 0.05, else ``quantile``."""
    below = counts[scores < 0.05].sum()
    positive = scores[scores > 0]
    if below * 2 <= counts.sum() or positive.size == 0:
        return "quantile", 0.0, 0.0
    low = max(float(np.floor(np.log10(positive.min()))), -8.0)
    high = min(float(np.ceil(np.log10(scores.max()))), 0.0) if scores.max() > 0 else 0.0
    return "log", low, max(high, low + 1)


def _cell(key: str) -> str:
    return (f'<td class="num now"><span class="cm-label">{key.upper()}</span> '
            f'<span id="explorer-{key}"></span></td>')


def _row(label: str, key: str) -> str:
    return (f"<tr><td>{escape(label)}</td>"
            f'<td class="num now" id="explorer-{key}"></td>'
            f'<td class="num" id="explorer-deployed-{key}"></td></tr>')


def explorer_html(m: Mapping, scores: Mapping[str, np.ndarray] | None) -> str:
    """The explorer, or a note saying why there is none.

    Parameters
    ----------
    m : mapping
        The parsed ``metrics.json``.
    scores : mapping of str to ndarray or None
        The arrays of ``scores.npz``; ``validation_y`` and ``validation_score`` are used.

    Returns
    -------
    str
        HTML for the ``operating-point`` section, with its inline script when the explorer
        can be drawn.
    """
    threshold, source = _deployed(m)
    why = None
    if (m.get("task") or {}).get("type") == "multiclass":
        why = "The threshold explorer is for binary tasks; a multiclass model predicts the most probable class."
    elif threshold is None:
        why = "The run chose no threshold, so there is no operating point to explore."
    elif scores is None or "validation_y" not in scores or "validation_score" not in scores:
        why = "Validation scores (scores.npz): not recorded."
    if why is None:
        y = np.asarray(scores["validation_y"])
        score = np.asarray(scores["validation_score"], dtype=float)
        if score.ndim != 1 or y.shape != score.shape or not np.all(np.isfinite(score)):
            why = "The validation scores are not one finite score per row."
        elif np.unique(y).size < 2:
            why = "The validation rows hold one class only."
    if why is not None:
        return f'<p class="note">{escape(why)}</p>'

    costs = m.get("costs") if isinstance(m.get("costs"), Mapping) else None
    per_row = validation_row_values(scores, costs, y.size)
    no_money = per_row is None and costs is not None
    if per_row is None:
        costs, per_row = None, {"cost": None, "sample_weight": None}  # else it would count rows at a flat cost
    weight, money = per_row["sample_weight"], None
    if costs and (per_row["cost"] is not None or weight is not None):  # money row by row, as metrics.json
        money = {"cost_fn": float(costs["fn"]), "cost_fp": float(costs["fp"]), **per_row}
    data = compact_scores(y, score, sample_weight=weight, money=money)
    counts = np.add(data["neg"], data["pos"])
    scale, low, high = _scale(np.asarray(data["scores"]), counts)
    deployed = float(_round6(np.array([threshold]))[0])
    payload = {**data, "deployed": deployed, "deployed_source": source, "scale": scale,
               "log_low": low, "log_high": high,
               "costs": {"fn": float(costs["fn"]), "fp": float(costs["fp"])} if costs else None}
    folds = (m.get("data") or {}).get("folds")
    cross_fitted = isinstance(folds, int) and folds > 1
    rows_text = (f"out-of-fold predictions of the {int(y.size):,} search rows ({folds}-fold cross-fitting)"
                 if cross_fitted else f"the {int(y.size):,} validation rows")
    which = ("the refitted model's threshold (chosen on its own out-of-fold scores)"
             if source == "refit" else f"chosen by {(m.get('threshold') or {}).get('rule', 'the run')}")
    scale_text = ("log scale: most scores are below 0.05" if scale == "log"
                  else "quantile scale: each step moves about 0.1 % of the rows")
    quantities = [q for q in QUANTITIES if costs or not q[0].startswith("cost")]
    cost_note = (f" Expected cost: FN × {costs['fn']:g} + FP × {costs['fp']:g}." if costs else "")
    if money is not None:
        missed = (f"each missed positive costs its {costs['cost_column']}" if costs.get("cost_column")
                  else f"FN × {costs['fn']:g}")
        cost_note = f" Money lost: {missed}, FP × {costs['fp']:g}."
    if no_money:
        cost_note = " Money is not shown: this run's scores.npz lacks its per-row costs or weights."
    if weight is not None:
        cost_note += " Confusion counts, precision, recall and F1 are sums of the rows' weights; the alert rate counts rows."
    return (
        f"<style>{_CSS}</style>"
        + f'<div id="threshold-explorer" data-deployed="{deployed!r}" data-threshold="{deployed!r}" '
        f'data-scale="{scale}" data-n="{int(y.size)}">'
        + f'<p class="note">Flag a row when its score is at or above the threshold. Counts are on '
        f"{escape(rows_text)}, the scores the threshold was chosen on; the test set is in the next "
        f"sections. Deployed threshold: <b>{deployed:g}</b>, {escape(which)}.{escape(cost_note)}</p>"
        + '<noscript><p class="missing">The explorer needs JavaScript; the rest of the '
        "report does not.</p></noscript>"
        + '<div class="controls"><div class="track">'
        + f'<input type="range" id="explorer-slider" min="0" max="1000" step="1" '
        f'aria-label="threshold ({escape(scale)} scale)">'
        + '<span id="explorer-deployed-mark">▲ deployed</span>'
        + '<div class="ends"><span id="explorer-low"></span>'
        + f"<span>{escape(scale_text)}</span>"
        + '<span id="explorer-high"></span></div></div>'
        + '<label>threshold <input type="number" id="explorer-threshold" min="0" max="1" '
        f'step="any" value="{deployed!r}"></label>'
        + '<button type="button" id="explorer-reset" disabled>back to deployed</button></div>'
        + '<div class="panes"><div><h3>Confusion matrix at this threshold</h3>'
        + '<div class="table-wrap"><table class="cm"><thead><tr><th></th>'
        '<th class="num">flagged</th><th class="num">not flagged</th></tr></thead><tbody>'
        '<tr><th>actual positive</th>' + _cell("tp") + _cell("fn") + "</tr>"
        '<tr><th>actual negative</th>' + _cell("fp") + _cell("tn") + "</tr>"
        "</tbody></table></div>"
        '<p class="note">At the deployed threshold: '
        + ", ".join(f'{c.upper()} <span id="explorer-deployed-{c}"></span>'
                    for c in ("tp", "fn", "fp", "tn"))
        + ".</p></div>"
        + '<div><h3>Rates</h3><div class="table-wrap"><table><thead><tr><th>quantity</th>'
        '<th class="num">this threshold</th><th class="num">deployed</th></tr></thead><tbody>'
        + "".join(_row(label, key) for key, label in quantities)
        + "</tbody></table></div></div></div></div>"
        + '<script type="application/json" id="explorer-data">'
        + json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
        + f"</script><script>{_JS}</script>"
    )
