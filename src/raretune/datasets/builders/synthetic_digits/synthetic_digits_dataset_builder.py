"""``synthetic_digits``: scikit-learn's 8x8 digits as a small imbalanced image set.

Built from the digits that ship inside scikit-learn (``sklearn.datasets.load_digits``), so
nothing is downloaded. See this folder's ``README.md`` (also the TFDS description).
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from raretune.datasets.builders._local import GeneratedLocally

__all__ = ["Builder", "make_digits", "RARE_DIGIT", "RARE_SHARE", "IMAGE_SIZE"]

RARE_DIGIT = 8
RARE_SHARE = 0.03  # share of the rare digit among the rows kept
IMAGE_SIZE = 16  # the 8x8 originals are upscaled 2x (bilinear)
SEED = 0  # chooses which images of the rare digit are kept


def make_digits(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build the ``synthetic_digits`` rows in memory, without TFDS.

    Parameters
    ----------
    seed : int, default=0
        Seed that chooses which images of :data:`RARE_DIGIT` are kept.

    Returns
    -------
    index : numpy.ndarray of shape (n,), int64
        Row number in ``sklearn.datasets.load_digits()`` of each image kept, ascending.
    images : numpy.ndarray of shape (n, 16, 16, 1), uint8
        Images scaled to 0-255 and upscaled 2x with bilinear interpolation.
    labels : numpy.ndarray of shape (n,), int64
        The digit, 0-9.

    Examples
    --------
    >>> index, images, labels = make_digits()
    >>> images.shape, int((labels == 8).sum())
    ((1673, 16, 16, 1), 50)
    """
    from scipy import ndimage
    from sklearn.datasets import load_digits

    digits = load_digits()
    labels = digits.target.astype(np.int64)
    is_rare = labels == RARE_DIGIT
    n_common = int((~is_rare).sum())
    # Keep n_rare so that n_rare / (n_common + n_rare) is RARE_SHARE.
    n_rare = round(RARE_SHARE / (1.0 - RARE_SHARE) * n_common)
    rng = np.random.default_rng(seed)
    kept_rare = rng.choice(np.flatnonzero(is_rare), size=n_rare, replace=False)
    index = np.sort(np.concatenate([np.flatnonzero(~is_rare), kept_rare])).astype(np.int64)

    scaled = digits.images[index] * (255.0 / 16.0)  # pixel values 0-16 -> 0-255
    factor = IMAGE_SIZE / scaled.shape[1]
    upscaled = ndimage.zoom(scaled, (1, factor, factor), order=1, grid_mode=True, mode="nearest")
    images = np.clip(np.round(upscaled), 0, 255).astype(np.uint8)[..., np.newaxis]
    return index, images, labels[index]


class Builder(GeneratedLocally, tfds.core.GeneratorBasedBuilder):
    """scikit-learn's digits at 16x16, digit 8 kept rare (~3%); generated locally."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="default", description="16x16, digit 8 at ~3% of rows.")
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=(IMAGE_SIZE, IMAGE_SIZE, 1),
                        dtype=np.uint8,
                        doc="Grey-level digit, 0 = background, 255 = ink.",
                    ),
                    "label": tfds.features.ClassLabel(
                        names=[str(d) for d in range(10)], doc="The digit."
                    ),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing to download
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        index, images, labels = make_digits()
        for key, image, label in zip(index.tolist(), images, labels.tolist()):
            yield key, {"image": image, "label": label}
