"""What raretune's TFDS builders share: their data is generated here, never downloaded."""

from __future__ import annotations

from absl import logging

__all__ = ["GeneratedLocally"]


class GeneratedLocally:
    """Mixin (listed before ``tfds.core.GeneratorBasedBuilder``) for builders that download nothing.

    TFDS prints "Downloading and preparing dataset ..." and "... downloaded and prepared" to
    stdout whatever the builder does. These builders make their rows locally on first use,
    so the lines would mislead: they go to TFDS's own (absl) log at INFO level instead,
    hidden by default. Only these two messages change; progress bars and warnings stay.
    """

    def _log_download_bytes(self) -> None:
        logging.info("Generating dataset %s locally in %s", self.name, self.data_dir)

    def _log_download_done(self) -> None:
        logging.info("Dataset %s generated in %s", self.name, self.data_dir)
