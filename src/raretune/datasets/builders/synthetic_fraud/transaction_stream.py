"""Version 2 of ``synthetic_fraud``: six months of transactions as a fraud team sees them.

Customers make transactions over time from their own devices; fraud rings take over
customers' accounts from a few devices of their own; the pattern of the other fraud drifts
from card-present skimming (swipe, night, large amounts) to online card testing (small
amounts, digital goods); and a fraud's label arrives with its chargeback, weeks later.
Generated locally with NumPy, nothing is downloaded. The README of this folder documents the
process; the constants below are the single source of its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from raretune._validation import check_number

__all__ = ["FEATURE_NAMES", "INT_COLUMNS", "LABEL", "TEXT_COLUMNS", "FLOAT_COLUMNS", "generate_stream",
           "START", "N_DAYS"]

LABEL = "is_fraud"
#: int64 columns: times are whole seconds since 1970 (UTC); ids are whole numbers.
INT_COLUMNS = ("timestamp", "customer_id", "device_id", "label_available_at")
FLOAT_COLUMNS = ("amount", "hour", "account_age_days", "device_customers_30d")
TEXT_COLUMNS = ("merchant_category", "channel", "country")
#: What a model may use: known when the transaction is scored (no ids, no label time).
FEATURE_NAMES = FLOAT_COLUMNS + TEXT_COLUMNS

START = 1_767_225_600  # 2026-01-01T00:00:00Z
N_DAYS = 181  # January to June 2026
DAY = 86_400

# merchant category: (share of transactions, median amount in dollars)
MERCHANT_CATEGORIES = {
    "grocery": (0.22, 35.0),
    "restaurant": (0.15, 28.0),
    "gas_station": (0.10, 40.0),
    "retail": (0.18, 60.0),
    "pharmacy": (0.06, 25.0),
    "entertainment": (0.07, 45.0),
    "travel": (0.05, 350.0),
    "electronics": (0.07, 180.0),
    "jewelry": (0.02, 400.0),
    "digital_goods": (0.05, 15.0),
    "money_transfer": (0.03, 200.0),
}
AMOUNT_LOG_SD = 0.9
CHANNELS = {"chip": 0.38, "contactless": 0.27, "swipe": 0.07, "online": 0.28}
COUNTRIES = {"US": 0.82, "CA": 0.04, "GB": 0.03, "DE": 0.02, "FR": 0.02, "MX": 0.02, "BR": 0.015, "IN": 0.015,
             "CN": 0.01, "NG": 0.005, "RO": 0.005}
HOME_COUNTRY = "US"
HOUR_MEAN, HOUR_SD, HOUR_UNIFORM_SHARE = 14.0, 4.0, 0.10

# Customers: one for every this many rows; activity log-normal; account age at START log-normal,
# and this share of customers opens an account during the six months.
ROWS_PER_CUSTOMER = 25
ACTIVITY_LOG_SD = 1.0
ACCOUNT_AGE_MEDIAN_DAYS, ACCOUNT_AGE_LOG_SD, ACCOUNT_AGE_MAX_DAYS = 600.0, 1.2, 7300.0
NEW_CUSTOMER_SHARE = 0.08
# Devices: every customer has one, this share a second; a legit transaction comes from one of
# the customer's own devices except this share, from a shared device (one per 50 customers).
SECOND_DEVICE_SHARE = 0.30
SHARED_DEVICE_SHARE = 0.03
CUSTOMERS_PER_SHARED_DEVICE = 50

# The drifting (non-ring) fraud: log-odds weights at the start (t = 0) and at the end (t = 1)
# of the six months, interpolated linearly in t = day / N_DAYS.
DRIFT_EARLY = {
    "intercept": -7.6,
    "night": 2.5,
    "amount": 1.5,  # times the amount's z-score within its category
    "new_account": 2.0,  # times exp(-age / 45 days)
    "cross_border": 1.0,
    "channel": {"chip": -0.6, "contactless": -0.4, "swipe": 2.2, "online": -0.3},
    "category": {"grocery": -0.6, "restaurant": -0.4, "gas_station": 1.0, "retail": 0.0, "pharmacy": -0.5,
                 "entertainment": 0.2, "travel": 0.6, "electronics": 1.5, "jewelry": 1.8, "digital_goods": -0.8,
                 "money_transfer": 0.0},
}
DRIFT_LATE = {
    "intercept": -7.9,
    "night": 0.0,
    "amount": -1.5,
    "new_account": 2.0,
    "cross_border": 1.0,
    "channel": {"chip": -1.2, "contactless": -1.0, "swipe": -0.5, "online": 2.0},
    "category": {"grocery": -0.6, "restaurant": -0.4, "gas_station": -0.5, "retail": 0.0, "pharmacy": -0.5,
                 "entertainment": 0.8, "travel": -0.5, "electronics": -0.5, "jewelry": -0.8, "digital_goods": 2.2,
                 "money_transfer": 1.5},
}
NIGHT_CENTRE, NIGHT_SD = 3.0, 2.0
DEVICE_WINDOW_DAYS = 30  # device_customers_30d counts customers over this many days
NEW_ACCOUNT_SCALE_DAYS = 45.0
HIDDEN_SD = 0.6  # unobserved risk: limits what any model can learn

# Fraud rings: one ring for every this many rows (at least 2); each uses 2 to 4 devices of its own
# for 14 to 45 days, on accounts it has taken over, online, in two categories, at amounts near its own
# median. Ring transactions are this share of all rows.
ROWS_PER_RING = 25_000
RING_DEVICES = (2, 4)
RING_DAYS = (14, 45)
RING_SHARE = 0.0015
RING_AMOUNT_MEDIAN, RING_AMOUNT_LOG_SD, RING_AMOUNT_SPREAD = 150.0, 0.6, 0.3
RING_CATEGORIES = ("electronics", "jewelry", "digital_goods", "money_transfer", "travel")

# Label noise (as in version 1) and label delay: a reported fraud's label arrives with its
# chargeback, log-normal days after the transaction (median 14, capped at 90); every other
# row's label is final when the 90-day chargeback window closes.
FRAUD_UNREPORTED_RATE = 0.08
LEGIT_CHARGEBACK_RATE = 0.0002
CHARGEBACK_MEDIAN_DAYS, CHARGEBACK_LOG_SD, CHARGEBACK_WINDOW_DAYS = 14.0, 0.7, 90.0


def generate_stream(n_rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Generate version 2 of the ``synthetic_fraud`` table, in time order, without TFDS.

    Parameters
    ----------
    n_rows : int
        Number of transactions.
    seed : int, default=0
        Seed; the same ``(n_rows, seed)`` always gives the same rows. Unlike version 1, a
        shorter table is not a prefix of a longer one (customers and rings scale with ``n_rows``).

    Returns
    -------
    columns : dict of str to numpy.ndarray
        :data:`INT_COLUMNS` as int64, :data:`FLOAT_COLUMNS` as float32, :data:`TEXT_COLUMNS`
        as numpy unicode arrays and ``"is_fraud"`` (int64, 0/1); rows sorted by ``timestamp``.

    Examples
    --------
    >>> table = generate_stream(2_000, seed=0)
    >>> table["timestamp"].dtype, bool((table["timestamp"][1:] >= table["timestamp"][:-1]).all())
    (dtype('int64'), True)
    """
    check_number(n_rows, "n_rows", "generate_stream", kind=int, low=1)
    check_number(seed, "seed", "generate_stream", kind=int, low=0)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))  # 2: version 2's stream
    n_ring = int(round(n_rows * RING_SHARE))
    n_legit = n_rows - n_ring
    customers = _customers(max(n_rows // ROWS_PER_CUSTOMER, 10), rng)

    rows = _customer_rows(n_legit, customers, rng)
    fraud = _drifting_fraud(rows, customers, rng)
    ring = _ring_rows(n_ring, max(n_rows // ROWS_PER_RING, 2), customers, rng)
    rows = {k: np.concatenate([rows[k], ring[k]]) for k in rows}
    fraud = np.concatenate([fraud, np.ones(n_ring, bool)])

    order = np.argsort(rows["seconds"], kind="stable")
    rows = {k: v[order] for k, v in rows.items()}
    fraud = fraud[order]
    flip = rng.random(n_rows)
    observed = np.where(fraud, flip >= FRAUD_UNREPORTED_RATE, flip < LEGIT_CHARGEBACK_RATE)
    delay_days = np.minimum(CHARGEBACK_MEDIAN_DAYS * np.exp(CHARGEBACK_LOG_SD * rng.standard_normal(n_rows)),
                            CHARGEBACK_WINDOW_DAYS)
    delay_days = np.where(observed, delay_days, CHARGEBACK_WINDOW_DAYS)

    timestamp = START + np.floor(rows["seconds"]).astype(np.int64)
    customer = rows["customer"]
    opened = customers["opened_day"][customer]
    age = np.maximum(np.floor(rows["seconds"] / DAY - opened), 0.0)
    return {
        "timestamp": timestamp,
        "customer_id": customer.astype(np.int64),
        "device_id": rows["device"].astype(np.int64),
        "label_available_at": timestamp + np.round(delay_days * DAY).astype(np.int64),
        "amount": rows["amount"].astype(np.float32),
        "hour": _hour_of(rows["seconds"]),
        "account_age_days": np.minimum(age, ACCOUNT_AGE_MAX_DAYS).astype(np.float32),
        "device_customers_30d": _device_customers(rows["device"], customer, rows["seconds"]).astype(np.float32),
        "merchant_category": np.array(list(MERCHANT_CATEGORIES))[rows["category"]],
        "channel": np.array(list(CHANNELS))[rows["channel"]],
        "country": np.array(list(COUNTRIES))[rows["country"]],
        LABEL: observed.astype(np.int64),
    }


def _customers(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each customer's activity weight, opening day (negative: before START) and devices."""
    activity = np.exp(ACTIVITY_LOG_SD * rng.standard_normal(n))
    age_at_start = np.minimum(ACCOUNT_AGE_MEDIAN_DAYS * np.exp(ACCOUNT_AGE_LOG_SD * rng.standard_normal(n)),
                              ACCOUNT_AGE_MAX_DAYS)
    opened = np.where(rng.random(n) < NEW_CUSTOMER_SHARE, rng.uniform(0, N_DAYS - 7, n), -np.floor(age_at_start))
    # device ids: customer k owns device k and, for some, device n + k; shared devices follow
    second = np.where(rng.random(n) < SECOND_DEVICE_SHARE, n + np.arange(n), -1)
    n_shared = max(n // CUSTOMERS_PER_SHARED_DEVICE, 1)
    return {"activity": activity / activity.sum(), "opened_day": opened, "second_device": second,
            "shared_devices": 2 * n + np.arange(n_shared), "next_device": 2 * n + n_shared}


def _customer_rows(n: int, customers: Mapping, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Transactions of customers from their own devices (and sometimes a shared one)."""
    n_customers = customers["activity"].size
    customer = rng.choice(n_customers, size=n, p=customers["activity"])
    first_day = np.maximum(customers["opened_day"][customer], 0.0)
    day = np.floor(first_day + rng.random(n) * (N_DAYS - first_day))
    daytime = np.mod(rng.normal(HOUR_MEAN, HOUR_SD, n), 24.0)
    hour = np.where(rng.random(n) < HOUR_UNIFORM_SHARE, rng.uniform(0.0, 24.0, n), daytime)
    seconds = np.maximum(day * DAY + hour * 3600.0, first_day * DAY)

    second = customers["second_device"][customer]
    device = np.where((second >= 0) & (rng.random(n) < 0.5), second, customer)
    shared = rng.random(n) < SHARED_DEVICE_SHARE
    device = np.where(shared, rng.choice(customers["shared_devices"], size=n), device)

    cat_share, cat_median = (np.array(c) for c in zip(*MERCHANT_CATEGORIES.values()))
    category = rng.choice(cat_share.size, size=n, p=cat_share)
    amount_z = rng.standard_normal(n)
    return {
        "seconds": seconds,
        "customer": customer,
        "device": device,
        "category": category,
        "channel": rng.choice(len(CHANNELS), size=n, p=list(CHANNELS.values())),
        "country": rng.choice(len(COUNTRIES), size=n, p=list(COUNTRIES.values())),
        "amount_z": amount_z,
        "amount": np.maximum(np.round(cat_median[category] * np.exp(AMOUNT_LOG_SD * amount_z), 2), 0.01),
    }


def _drifting_fraud(rows: Mapping, customers: Mapping, rng: np.random.Generator) -> np.ndarray:
    """Which customer transactions are fraud, with weights moving from early to late."""
    n = rows["seconds"].size
    t = np.clip(rows["seconds"] / (N_DAYS * DAY), 0.0, 1.0)

    def weight(key, index=None, names=None):
        early, late = DRIFT_EARLY[key], DRIFT_LATE[key]
        if names is not None:
            early, late = (np.array([w[name] for name in names])[index] for w in (early, late))
        return (1.0 - t) * early + t * late

    hour = _hour_of(rows["seconds"]).astype(np.float64)
    distance = np.abs(np.mod(hour - NIGHT_CENTRE + 12.0, 24.0) - 12.0)
    night = np.exp(-0.5 * (distance / NIGHT_SD) ** 2)
    age = rows["seconds"] / DAY - customers["opened_day"][rows["customer"]]
    logit = (weight("intercept")
             + weight("category", rows["category"], list(MERCHANT_CATEGORIES))
             + weight("channel", rows["channel"], list(CHANNELS))
             + weight("night") * night
             + weight("amount") * rows["amount_z"]
             + weight("new_account") * np.exp(-np.maximum(age, 0.0) / NEW_ACCOUNT_SCALE_DAYS)
             + weight("cross_border") * (np.array(list(COUNTRIES))[rows["country"]] != HOME_COUNTRY)
             + HIDDEN_SD * rng.standard_normal(n))
    return rng.random(n) < 1.0 / (1.0 + np.exp(-logit))


def _ring_rows(n: int, n_rings: int, customers: Mapping, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ring fraud: taken-over accounts used from the ring's own few devices while it is active."""
    n_devices = rng.integers(RING_DEVICES[0], RING_DEVICES[1] + 1, n_rings)
    first_device = customers["next_device"] + np.concatenate([[0], np.cumsum(n_devices)[:-1]])
    length = rng.integers(RING_DAYS[0], RING_DAYS[1] + 1, n_rings)
    start = rng.uniform(0, N_DAYS - length)
    categories = np.array([rng.choice([list(MERCHANT_CATEGORIES).index(c) for c in RING_CATEGORIES], 2,
                                      replace=False) for _ in range(n_rings)]).reshape(n_rings, 2)
    median = RING_AMOUNT_MEDIAN * np.exp(RING_AMOUNT_LOG_SD * rng.standard_normal(n_rings))

    ring = rng.integers(0, n_rings, n)
    # rings take over accounts that existed before the six months began
    weights = np.where(customers["opened_day"] <= 0, customers["activity"], 0.0)
    customer = rng.choice(weights.size, size=n, p=weights / weights.sum())
    seconds = (start[ring] + rng.random(n) * length[ring]) * DAY
    amount_z = rng.standard_normal(n)
    return {
        "seconds": seconds,
        "customer": customer,
        "device": first_device[ring] + rng.integers(0, n_devices[ring]),
        "category": categories[ring, rng.integers(0, 2, n)],
        "channel": np.full(n, list(CHANNELS).index("online")),
        "country": rng.choice(len(COUNTRIES), size=n, p=list(COUNTRIES.values())),
        "amount_z": amount_z,
        "amount": np.maximum(np.round(median[ring] * np.exp(RING_AMOUNT_SPREAD * amount_z), 2), 0.01),
    }


def _hour_of(seconds: np.ndarray) -> np.ndarray:
    """Hour of day in [0, 24) of ``seconds`` after START (a midnight), as float32."""
    hour = (np.mod(np.floor(seconds), DAY) / 3600.0).astype(np.float32)
    return np.where(hour < 24.0, hour, 0.0).astype(np.float32)


def _device_customers(device: np.ndarray, customer: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """For each row, how many customers used its device in the 30 days up to it, itself included.

    A customer counts at time t when one of its rows on the device lies in [t - 30 days, t]. A
    customer's rows on a device, 30 days apart or less, make one run; the customer counts from
    the run's first row to 30 days after its last. Counting the runs open at t, device by device,
    is two binary searches in the sorted run starts and ends.
    """
    window = DEVICE_WINDOW_DAYS * DAY
    t = np.floor(seconds).astype(np.int64)
    pair = device.astype(np.int64) * (int(customer.max()) + 1) + customer
    order = np.lexsort((t, pair))
    pair_sorted, t_sorted = pair[order], t[order]
    new_run = np.r_[True, (pair_sorted[1:] != pair_sorted[:-1]) | (np.diff(t_sorted) > window)]
    last_of_run = np.r_[new_run[1:], True]
    # keys order rows by device, then time; one device's keys stay below the next device's
    span = int(t.max()) + window + 1
    dev_sorted = device.astype(np.int64)[order]
    starts = np.sort(dev_sorted[new_run] * span + t_sorted[new_run])
    ends = np.sort(dev_sorted[last_of_run] * span + t_sorted[last_of_run] + window)
    keys = device.astype(np.int64) * span + t
    # runs of earlier devices have started and ended: they cancel
    return np.searchsorted(starts, keys, side="right") - np.searchsorted(ends, keys, side="left")
