"""raretune's own TFDS builders generate their data on first use and do not claim a download."""

from __future__ import annotations

import logging

from raretune.datasets import load_data


def test_first_use_generates_without_a_download_line(tmp_path, capfd, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    data = load_data("tfds:synthetic_digits", data_dir=tmp_path)
    out, err = capfd.readouterr()
    assert data.n_rows == 1673 and any(tmp_path.iterdir())  # generated here, on first use
    assert "Downloading" not in out + err and "downloaded" not in out + err
    assert "Generating dataset synthetic_digits locally" in caplog.text  # TFDS's log says what happened
