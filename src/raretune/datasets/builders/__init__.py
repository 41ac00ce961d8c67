"""TFDS datasets generated locally by raretune; importing this package registers them.

Importing it imports ``tensorflow_datasets`` (and so TensorFlow). ``raretune/__init__.py``
imports it for you as soon as ``tensorflow_datasets`` is imported, so after ``import raretune``
the names below work with ``tfds.load``/``tfds.builder``:

``synthetic_fraud``
    Card transactions, ~0.3% fraud; configs ``default`` (200k rows), ``small`` (20k),
    ``large`` (5M) or any :class:`SyntheticFraudConfig`.
``synthetic_digits``
    scikit-learn's 8x8 digits upscaled to 16x16, digit 8 kept rare (~3%).
"""

from .synthetic_digits import Builder as SyntheticDigits
from .synthetic_fraud import Builder as SyntheticFraud
from .synthetic_fraud import SyntheticFraudConfig

__all__ = ["SyntheticDigits", "SyntheticFraud", "SyntheticFraudConfig"]
