"""The ``synthetic_fraud`` TFDS dataset (importing this package registers it)."""

from .synthetic_fraud_dataset_builder import Builder, SyntheticFraudConfig

__all__ = ["Builder", "SyntheticFraudConfig"]
