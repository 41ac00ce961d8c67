"""``synthetic_fraud``: a card-transaction table with rare, learnable but overlapping fraud.

Version 1.0.0 (the default) holds independent rows; version 2.0.0
(``tfds.load("synthetic_fraud/small:2.0.0")``) is six months of transactions with customers,
devices, fraud rings, drift and a label delay (:mod:`.transaction_stream`).
Generated locally with NumPy, nothing is downloaded. The generative process is documented in
this folder's ``README.md`` (which is also the dataset's TFDS description); the constants
below are the single source of its numbers.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import file_adapters
from tensorflow_datasets.core.utils.lazy_imports_utils import tensorflow as tf

from raretune._validation import check_number
from raretune.datasets.builders._local import GeneratedLocally

from . import transaction_stream as stream

__all__ = ["Builder", "SyntheticFraudConfig", "generate_chunks", "FEATURE_NAMES", "LABEL"]

LABEL = "is_fraud"
NUMERIC_FEATURES = ("amount", "hour", "account_age_days", *(f"v{k}" for k in range(1, 11)))
CATEGORICAL_FEATURES = ("merchant_category", "channel", "country")
FEATURE_NAMES = NUMERIC_FEATURES + CATEGORICAL_FEATURES

# Rows are generated in chunks of this size; chunk ``i`` draws from its own generator
# ``SeedSequence(seed, spawn_key=(i,))``, so memory stays flat for any ``n_rows`` and a
# smaller table with the same seed is a prefix of a larger one.
CHUNK_ROWS = 100_000
SHARD_ROWS = 500_000  # rows per file written (a multiple of CHUNK_ROWS), about 170 MB

# merchant category: (share of transactions, median amount in dollars, fraud log-odds weight)
MERCHANT_CATEGORIES = {
    "grocery": (0.22, 35.0, -0.6),
    "restaurant": (0.15, 28.0, -0.4),
    "gas_station": (0.10, 40.0, 0.1),
    "retail": (0.18, 60.0, 0.0),
    "pharmacy": (0.06, 25.0, -0.5),
    "entertainment": (0.07, 45.0, 0.2),
    "travel": (0.05, 350.0, 0.6),
    "electronics": (0.07, 180.0, 0.9),
    "jewelry": (0.02, 400.0, 1.1),
    "digital_goods": (0.05, 15.0, 1.0),
    "money_transfer": (0.03, 200.0, 1.3),
}
AMOUNT_LOG_SD = 0.9  # sd of log(amount) around the category's median

# channel: (share, fraud log-odds weight)
CHANNELS = {
    "chip": (0.38, -0.5),
    "contactless": (0.27, -0.3),
    "swipe": (0.07, 0.6),
    "online": (0.28, 0.8),
}

# country: share; the cardholders are domestic ("US"), any other country is cross-border.
COUNTRIES = {
    "US": 0.82,
    "CA": 0.04,
    "GB": 0.03,
    "DE": 0.02,
    "FR": 0.02,
    "MX": 0.02,
    "BR": 0.015,
    "IN": 0.015,
    "CN": 0.01,
    "NG": 0.005,
    "RO": 0.005,
}
HOME_COUNTRY = "US"

# Hour of day: a daytime bump (wrapped normal) mixed with uniform background activity.
HOUR_MEAN, HOUR_SD, HOUR_UNIFORM_SHARE = 14.0, 4.0, 0.10
# Account age: log-normal days, clipped to [0, 20 years], floored to whole days.
ACCOUNT_AGE_MEDIAN_DAYS, ACCOUNT_AGE_LOG_SD, ACCOUNT_AGE_MAX_DAYS = 700.0, 1.1, 7300.0
# PCA-like components: independent centred normals with decreasing standard deviations.
COMPONENT_SD = np.array([2.4, 1.9, 1.6, 1.4, 1.2, 1.05, 0.95, 0.85, 0.75, 0.65])
# Fraud shifts some components (in units of their sd) and widens one.
COMPONENT_SHIFT = {2: 2.2, 4: -2.0, 7: 1.6}  # component number -> shift in sd
COMPONENT_FRAUD_SCALE = {9: 2.0}  # component number -> sd multiplier for fraud

# Latent fraud log-odds: intercept + weights below + category/channel weights above.
RISK = {
    "intercept": -7.31,
    "night": 2.0,  # times a Gaussian bump around 03:00, sd 2 h (circular)
    "night_centre": 3.0,
    "night_sd": 2.0,
    "new_account": 2.0,  # times exp(-age / 45 days)
    "new_account_scale_days": 45.0,
    "online_new_account": 0.7,  # extra for online x exp(-age / 45 days)
    "amount": 0.9,  # times the amount's z-score within its category
    "cross_border": 1.0,
    "hidden_sd": 0.8,  # unobserved risk (e.g. card compromised), limits separability
}
# Label noise on the observed ``is_fraud``: frauds never reported, false chargebacks.
FRAUD_UNREPORTED_RATE = 0.08
LEGIT_CHARGEBACK_RATE = 0.0002


@dataclasses.dataclass(eq=False)
class SyntheticFraudConfig(tfds.core.BuilderConfig):
    """Configuration of ``synthetic_fraud``: how many rows, from which seed.

    Parameters
    ----------
    name : str, default=""
        Config name; it names the folder the data is written to, so use one name per
        ``(n_rows, seed)``. Empty: ``"n{n_rows}"`` (plus ``"_seed{seed}"`` when ``seed`` is
        not the default).
    n_rows : int, default=200_000
        Number of transactions in the ``train`` split.
    seed : int, default=0
        Seed of the generator; the same ``(n_rows, seed)`` always gives the same rows.
    **kwargs
        Other :class:`tfds.core.BuilderConfig` fields (``description``, ...).

    Examples
    --------
    >>> import tensorflow_datasets as tfds
    >>> from raretune.datasets.builders import SyntheticFraudConfig
    >>> config = SyntheticFraudConfig(n_rows=50_000)
    >>> config.name
    'n50000'
    >>> builder = tfds.builder("synthetic_fraud", config=config)  # doctest: +SKIP
    """

    name: str = ""
    n_rows: int = 200_000
    seed: int = 0

    def __post_init__(self) -> None:
        check_number(self.n_rows, "n_rows", "SyntheticFraudConfig", kind=int, low=1)
        check_number(self.seed, "seed", "SyntheticFraudConfig", kind=int, low=0)
        if not self.name:
            self.name = f"n{self.n_rows}" + (f"_seed{self.seed}" if self.seed != 0 else "")
        if self.description is None:
            self.description = f"{self.n_rows:,} transactions, seed {self.seed}."


def _draw_chunk(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``n`` transactions; see the README for the process these lines implement."""
    cat_names = np.array(list(MERCHANT_CATEGORIES))
    cat_share, cat_median, cat_risk = (np.array(c) for c in zip(*MERCHANT_CATEGORIES.values()))
    chan_names = np.array(list(CHANNELS))
    chan_share, chan_risk = (np.array(c) for c in zip(*CHANNELS.values()))
    country_names = np.array(list(COUNTRIES))
    country_share = np.array(list(COUNTRIES.values()))

    cat = rng.choice(len(cat_names), size=n, p=cat_share)
    chan = rng.choice(len(chan_names), size=n, p=chan_share)
    country = rng.choice(len(country_names), size=n, p=country_share)

    amount_z = rng.standard_normal(n)
    amount = np.round(cat_median[cat] * np.exp(AMOUNT_LOG_SD * amount_z), 2)
    amount = np.maximum(amount, 0.01)

    daytime = np.mod(rng.normal(HOUR_MEAN, HOUR_SD, n), 24.0)
    background = rng.uniform(0.0, 24.0, n)
    hour = np.where(rng.random(n) < HOUR_UNIFORM_SHARE, background, daytime)

    age = ACCOUNT_AGE_MEDIAN_DAYS * np.exp(ACCOUNT_AGE_LOG_SD * rng.standard_normal(n))
    age = np.floor(np.minimum(age, ACCOUNT_AGE_MAX_DAYS))

    # Latent fraud log-odds from observed features plus an unobserved part.
    dist_to_night = np.abs(np.mod(hour - RISK["night_centre"] + 12.0, 24.0) - 12.0)
    night = np.exp(-0.5 * (dist_to_night / RISK["night_sd"]) ** 2)
    newness = np.exp(-age / RISK["new_account_scale_days"])
    online = chan_names[chan] == "online"
    logit = (
        RISK["intercept"]
        + cat_risk[cat]
        + chan_risk[chan]
        + RISK["night"] * night
        + RISK["new_account"] * newness
        + RISK["online_new_account"] * online * newness
        + RISK["amount"] * amount_z
        + RISK["cross_border"] * (country_names[country] != HOME_COUNTRY)
        + RISK["hidden_sd"] * rng.standard_normal(n)
    )
    fraud = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))

    components = rng.standard_normal((n, COMPONENT_SD.size))
    for number, scale in COMPONENT_FRAUD_SCALE.items():
        components[fraud, number - 1] *= scale
    for number, shift in COMPONENT_SHIFT.items():
        components[fraud, number - 1] += shift
    components *= COMPONENT_SD

    # Observed label: some frauds are never reported, some legit rows are charged back.
    flip = rng.random(n)
    observed = np.where(fraud, flip >= FRAUD_UNREPORTED_RATE, flip < LEGIT_CHARGEBACK_RATE)

    columns = {
        "amount": amount.astype(np.float32),
        # 23.99999999 rounds to 24.0 in float32: that is 0:00.
        "hour": np.where(hour.astype(np.float32) < 24.0, hour, 0.0).astype(np.float32),
        "account_age_days": age.astype(np.float32),
    }
    for k in range(COMPONENT_SD.size):
        columns[f"v{k + 1}"] = components[:, k].astype(np.float32)
    columns["merchant_category"] = cat_names[cat]
    columns["channel"] = chan_names[chan]
    columns["country"] = country_names[country]
    columns[LABEL] = observed.astype(np.int64)
    return columns


def generate_chunks(
    n_rows: int, seed: int = 0, chunk_rows: int = CHUNK_ROWS
) -> Iterator[dict[str, np.ndarray]]:
    """Generate the ``synthetic_fraud`` table as column chunks, without TFDS.

    Parameters
    ----------
    n_rows : int
        Total number of rows.
    seed : int, default=0
        Seed; chunk ``i`` uses ``np.random.default_rng(SeedSequence(seed, spawn_key=(i,)))``.
    chunk_rows : int, default=CHUNK_ROWS
        Rows per chunk (the last one may be shorter). Changing it changes the rows drawn.

    Yields
    ------
    columns : dict of str to numpy.ndarray
        One array per feature in :data:`FEATURE_NAMES` plus ``"is_fraud"`` (int64, 0/1);
        numeric columns are float32, categorical ones are numpy unicode arrays.

    Examples
    --------
    >>> chunk = next(generate_chunks(1_000, seed=0))
    >>> chunk["amount"].shape, chunk["is_fraud"].dtype
    ((1000,), dtype('int64'))
    """
    # Checked here, not at the first next(): a bad argument fails where it is passed.
    check_number(n_rows, "n_rows", "generate_chunks", kind=int, low=1)
    check_number(seed, "seed", "generate_chunks", kind=int, low=0)
    check_number(chunk_rows, "chunk_rows", "generate_chunks", kind=int, low=1)
    return _iter_chunks(n_rows, seed, chunk_rows)


def _iter_chunks(n_rows: int, seed: int, chunk_rows: int) -> Iterator[dict[str, np.ndarray]]:
    for index, start in enumerate(range(0, n_rows, chunk_rows)):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
        # Always draw a full chunk, so that a shorter table is a prefix of a longer one.
        chunk = _draw_chunk(chunk_rows, rng)
        stop = min(chunk_rows, n_rows - start)
        yield {name: values[:stop] for name, values in chunk.items()}


def _features() -> tfds.features.FeaturesDict:
    docs = {
        "amount": "Transaction amount in dollars (log-normal around a per-category median).",
        "hour": "Local hour of day in [0, 24), fractional.",
        "account_age_days": "Whole days since the account was opened.",
        "merchant_category": f"One of {', '.join(MERCHANT_CATEGORIES)}.",
        "channel": f"One of {', '.join(CHANNELS)}.",
        "country": f"ISO code of the merchant's country; {HOME_COUNTRY} is domestic.",
    }
    spec: dict[str, tfds.features.FeatureConnector] = {}
    for name in NUMERIC_FEATURES:
        doc = docs.get(name, "PCA-like component (centred, decreasing variance).")
        spec[name] = tfds.features.Scalar(np.float32, doc=doc)
    for name in CATEGORICAL_FEATURES:
        spec[name] = tfds.features.Text(doc=docs[name])
    spec[LABEL] = tfds.features.Scalar(np.int64, doc="1 = fraud (positive class), 0 = legit.")
    return tfds.features.FeaturesDict(spec)


class _FlatExampleSerializer:
    """Serialise flat rows of scalars into ``tf.train.Example`` records, a chunk at a time.

    TFDS encodes and serialises one example at a time (about 0.3 ms a row here, so 60 s for
    the default config and half an hour for ``large``). Every feature of this dataset is a
    scalar, so a record is the concatenation of one serialised ``Features`` message per
    feature (protobuf merges repeated map entries): a float is a constant prefix followed by
    its 4 little-endian bytes, and a text or label value is one of a few constant blobs.
    The records parse to the same ``tf.train.Example`` as TFDS's own serializer gives (the
    tests check it).

    Parameters
    ----------
    float_names : sequence of str
        Float32 scalar features.
    lookup_values : mapping of str to sequence of str or int
        Text (``str`` values) or int64 (``int`` values) features and every value they take.
    int_names : sequence of str, default=()
        Non-negative int64 scalar features taking any value (ids, times in seconds); a value is
        a varint, so these are encoded row by row, from prefixes that depend on its length only.
    """

    def __init__(self, float_names: Sequence[str], lookup_values: Mapping[str, list],
                 int_names: Sequence[str] = ()):
        self._float_prefixes = []
        for name in float_names:
            blob = self._entry(name, tf.train.Feature(float_list=tf.train.FloatList(value=[1.5])))
            if not blob.endswith(np.float32(1.5).astype("<f4").tobytes()):
                raise RuntimeError(f"Unexpected serialisation of float feature {name!r}.")
            self._float_prefixes.append((name, np.frombuffer(blob[:-4], np.uint8)))
        self._width = sum(prefix.size + 4 for _, prefix in self._float_prefixes)
        self._lookups = {}
        for name, values in lookup_values.items():
            entries = {}
            for value in values:
                if isinstance(value, str):
                    kind = tf.train.BytesList(value=[value.encode()])
                    entries[value] = self._entry(name, tf.train.Feature(bytes_list=kind))
                else:
                    kind = tf.train.Int64List(value=[int(value)])
                    entries[value] = self._entry(name, tf.train.Feature(int64_list=kind))
            self._lookups[name] = entries
        # Features{name: Int64List[v]}: every length field before v's varint depends only on
        # len(varint(v)), so one prefix per length (1 to 9 bytes for v < 2**63) serves every value.
        self._int_prefixes = {}
        for name in int_names:
            prefixes = {}
            for length in range(1, 10):
                value = 1 << (7 * (length - 1))
                blob = self._entry(name, tf.train.Feature(int64_list=tf.train.Int64List(value=[value])))
                if not blob.endswith(_varint(value)) or len(_varint(value)) != length:
                    raise RuntimeError(f"Unexpected serialisation of int64 feature {name!r}.")
                prefixes[length] = blob[: -length]
            self._int_prefixes[name] = prefixes

    @staticmethod
    def _entry(name: str, feature) -> bytes:
        return tf.train.Features(feature={name: feature}).SerializeToString()

    def serialize(self, columns: Mapping[str, np.ndarray]) -> list[bytes]:
        """Return one serialised ``tf.train.Example`` per row of ``columns``."""
        n = len(next(iter(columns.values())))
        block = np.empty((n, self._width), np.uint8)
        offset = 0
        for name, prefix in self._float_prefixes:
            block[:, offset : offset + prefix.size] = prefix
            offset += prefix.size
            values = np.ascontiguousarray(columns[name], dtype="<f4")
            block[:, offset : offset + 4] = values.view(np.uint8).reshape(n, 4)
            offset += 4
        blob, width = block.tobytes(), self._width
        parts = [[blob[i * width : (i + 1) * width] for i in range(n)]]
        for name, entries in self._lookups.items():
            parts.append([entries[value] for value in columns[name].tolist()])
        for name, prefixes in self._int_prefixes.items():
            values = np.asarray(columns[name])
            if values.size and values.min() < 0:
                raise ValueError(f"int64 feature {name!r} holds a negative value.")
            encoded = map(_varint, values.tolist())
            parts.append([prefixes[len(code)] + code for code in encoded])
        payloads = [b"".join(row) for row in zip(*parts)]
        # Example = field 1 (Features), length-delimited.
        return [b"\n" + _varint(len(payload)) + payload for payload in payloads]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Builder(GeneratedLocally, tfds.core.GeneratorBasedBuilder):
    """Synthetic card transactions with ~0.3% fraud, generated locally (no download).

    Version 1.0.0, the default, holds independent rows. Version 2.0.0 (ask for it:
    ``"synthetic_fraud/small:2.0.0"``) holds six months of transactions in time order with
    customer and device ids, fraud rings, a drifting fraud pattern and ``label_available_at``;
    the same configs give its size and seed.
    """

    VERSION = tfds.core.Version("1.0.0")
    # Not the default: the default run's data stays version 1.0.0.
    SUPPORTED_VERSIONS = [tfds.core.Version("2.0.0")]
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "2.0.0": "Six months of transactions: customer, device and time columns, fraud rings that reuse "
        "devices, a drifting fraud pattern and label_available_at (not the default version).",
    }
    BUILDER_CONFIGS = [
        SyntheticFraudConfig(
            name="default", n_rows=200_000, seed=0, description="200,000 transactions."
        ),
        SyntheticFraudConfig(
            name="small", n_rows=20_000, seed=1, description="20,000 transactions, for smoke tests."
        ),
        SyntheticFraudConfig(
            name="large", n_rows=5_000_000, seed=2, description="5,000,000 transactions."
        ),
    ]
    DEFAULT_CONFIG_NAME = "default"

    @property
    def _is_stream(self) -> bool:
        """Whether this is version 2 (the transaction stream)."""
        return self.version.major == 2

    def _info(self) -> tfds.core.DatasetInfo:
        if self._is_stream:
            return self.dataset_info_from_configs(
                features=_stream_features(),
                supervised_keys=({name: name for name in stream.FEATURE_NAMES}, LABEL),
                # Rows are in time order; keeping it makes reads deterministic and time-ordered.
                disable_shuffling=True,
            )
        return self.dataset_info_from_configs(
            features=_features(),
            # as_supervised=True gives (dict of all features, is_fraud), like titanic.
            supervised_keys=({name: name for name in FEATURE_NAMES}, LABEL),
            # Rows are i.i.d.; keeping generation order makes reads deterministic.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing to download
        config = self.builder_config
        return {"train": self._generate_examples(n_rows=config.n_rows, seed=config.seed)}

    def _generate_examples(self, n_rows: int, seed: int):
        """Yield ``(row number, example)``: the reference, one-example-at-a-time path.

        :meth:`_generate_splits` writes the same rows in bulk; this generator defines what
        they are (and the tests compare the two).
        """
        key = 0
        chunks = [stream.generate_stream(n_rows, seed)] if self._is_stream else generate_chunks(n_rows, seed)
        for chunk in chunks:
            columns = {name: values.tolist() for name, values in chunk.items()}
            for row in zip(*columns.values()):
                yield key, dict(zip(columns, row))
                key += 1

    def _generate_splits(
        self,
        dl_manager: tfds.download.DownloadManager,
        download_config: tfds.download.DownloadConfig,
    ) -> list[tfds.core.SplitInfo]:
        """Write the ``train`` split chunk by chunk, serialised in bulk (see README)."""
        del dl_manager  # nothing to download
        config = self.builder_config
        n_rows = config.n_rows
        if download_config.max_examples_per_split is not None:
            n_rows = min(n_rows, download_config.max_examples_per_split)
        serializer = _serializer(self._is_stream)
        adapter = file_adapters.ADAPTER_FOR_FORMAT[self.info.file_format]
        template = self._get_filename_template(split_name="train")
        if self._is_stream:
            table = stream.generate_stream(n_rows, config.seed)
            chunks = ({k: v[i : i + CHUNK_ROWS] for k, v in table.items()} for i in range(0, n_rows, CHUNK_ROWS))
        else:
            chunks = generate_chunks(n_rows, config.seed, chunk_rows=CHUNK_ROWS)
        num_shards = -(-n_rows // SHARD_ROWS)
        shard_lengths, num_bytes = [], 0
        for shard_index in range(num_shards):
            path = template.sharded_filepath(shard_index=shard_index, num_shards=num_shards)
            shard_chunks = itertools.islice(chunks, SHARD_ROWS // CHUNK_ROWS)
            records = itertools.chain.from_iterable(map(serializer.serialize, shard_chunks))
            adapter.write_examples(path, enumerate(records))
            shard_lengths.append(min(SHARD_ROWS, n_rows - shard_index * SHARD_ROWS))
            num_bytes += path.stat().length
        return [
            tfds.core.SplitInfo(
                name="train",
                shard_lengths=shard_lengths,
                num_bytes=num_bytes,
                filename_template=template,
            )
        ]


def _serializer(is_stream: bool) -> _FlatExampleSerializer:
    """The bulk serializer of version 2 (``is_stream``) or version 1 rows."""
    names = ((stream.MERCHANT_CATEGORIES, stream.CHANNELS, stream.COUNTRIES) if is_stream
             else (MERCHANT_CATEGORIES, CHANNELS, COUNTRIES))
    lookups = {"merchant_category": list(names[0]), "channel": list(names[1]), "country": list(names[2]),
               LABEL: [0, 1]}
    if is_stream:
        return _FlatExampleSerializer(stream.FLOAT_COLUMNS, lookups, int_names=stream.INT_COLUMNS)
    return _FlatExampleSerializer(NUMERIC_FEATURES, lookups)


def _stream_features() -> tfds.features.FeaturesDict:
    """Version 2's features: the README of this folder says what each column is."""
    docs = {
        "timestamp": "When the transaction happened: whole seconds since 1970-01-01 UTC (January to June 2026).",
        "customer_id": "Whose account it is (an integer id); many rows per customer.",
        "device_id": "Which device made it (an integer id); fraud rings reuse a few devices across accounts.",
        "label_available_at": "When the label became known, seconds since 1970: the chargeback for a "
        "reported fraud, else the end of the 90-day chargeback window. Never a feature: it gives the label away.",
        "amount": "Transaction amount in dollars.",
        "hour": "Hour of day in [0, 24) of the timestamp, fractional.",
        "account_age_days": "Whole days since the account was opened.",
        "device_customers_30d": "How many customers used this device in the 30 days up to this row, its own included.",
        "merchant_category": f"One of {', '.join(stream.MERCHANT_CATEGORIES)}.",
        "channel": f"One of {', '.join(stream.CHANNELS)}.",
        "country": f"ISO code of the merchant's country; {stream.HOME_COUNTRY} is domestic.",
    }
    spec: dict[str, tfds.features.FeatureConnector] = {}
    for name in stream.INT_COLUMNS:
        spec[name] = tfds.features.Scalar(np.int64, doc=docs[name])
    for name in stream.FLOAT_COLUMNS:
        spec[name] = tfds.features.Scalar(np.float32, doc=docs[name])
    for name in stream.TEXT_COLUMNS:
        spec[name] = tfds.features.Text(doc=docs[name])
    spec[LABEL] = tfds.features.Scalar(np.int64, doc="1 = fraud (positive class), 0 = legit.")
    return tfds.features.FeaturesDict(spec)
