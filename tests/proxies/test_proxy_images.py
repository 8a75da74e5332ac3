"""``--data images.npy``: real images for the proxies that read data, read bounded and checked."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from zenbench.cli import app
from zenbench.errors import SettingError
from zenbench.proxies.images import MAX_PROXY_IMAGES, load_proxy_images

STRUCTURE = "SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,2,8,1)SuperConvK1BNRELU(16,32,1,1)"


def test_images_in_either_layout_are_resized_standardised_and_bounded(tmp_path) -> None:
    rng = np.random.default_rng(0)
    nhwc = tmp_path / "nhwc.npy"
    np.save(nhwc, rng.integers(0, 256, size=(MAX_PROXY_IMAGES + 40, 8, 8, 3), dtype=np.uint8))
    images = load_proxy_images(nhwc, 16)
    assert tuple(images.shape) == (MAX_PROXY_IMAGES, 3, 16, 16)
    assert images.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (images.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-3
    nchw = tmp_path / "nchw.npy"
    np.save(nchw, rng.standard_normal((5, 3, 16, 16)).astype(np.float32) * 40 + 7)
    assert tuple(load_proxy_images(nchw, 16).shape) == (5, 3, 16, 16)


@pytest.mark.parametrize("array, says", [
    (np.zeros((4, 16, 16)), "shape"),
    (np.zeros((4, 5, 16, 16)), "shape"),
    (np.array([[[[1 + 1j] * 3]]]), "dtype"),
    (np.full((2, 3, 4, 4), np.nan, dtype=np.float32), "NaN"),
])
def test_a_file_that_is_not_images_is_refused_by_name(tmp_path, array, says) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(SettingError, match=says) as raised:
        load_proxy_images(path, 16)
    assert "--data" in str(raised.value)
    text = tmp_path / "text.npy"
    text.write_text("not an array")
    with pytest.raises(SettingError, match=r"not a readable \.npy"):
        load_proxy_images(text, 16)


def test_score_reads_the_images_for_a_proxy_that_takes_data(tmp_path) -> None:
    images = tmp_path / "images.npy"
    np.save(images, (np.random.default_rng(1).random((32, 3, 32, 32)) > 0.5).astype(np.float32))
    common = ["score", STRUCTURE, "--proxy", "zico", "--resolution", "32", "--batch-size", "4", "--json"]
    noise = CliRunner().invoke(app, common)
    real = CliRunner().invoke(app, [*common, "--data", str(images)])
    assert noise.exit_code == 0 and real.exit_code == 0, real.output
    assert json.loads(noise.stdout)[0]["mean"] != json.loads(real.stdout)[0]["mean"]
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 16, 16)))
    refused = CliRunner().invoke(app, [*common, "--data", str(bad)])
    assert refused.exit_code == 2 and "--data" in refused.output and "Traceback" not in refused.output


def test_proxies_says_which_need_labels_and_which_a_search_ranks_over_a_set() -> None:
    result = CliRunner().invoke(app, ["proxies", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert "labels" in rows["zico"]["needs"] and "labels" not in rows["zen"]["needs"]
    assert rows["az_nas"]["ranked_over_set"] == ["expressivity", "progressivity", "trainability", "complexity"]
    assert rows["zen"]["ranked_over_set"] == []


def test_images_too_large_to_copy_are_refused_before_any_copy(tmp_path) -> None:
    huge = tmp_path / "huge.npy"
    np.lib.format.open_memmap(huge, mode="w+", dtype=np.uint8, shape=(2, 3, 16384, 16384)).flush()  # sparse on disk
    with pytest.raises(SettingError, match="MiB"):
        load_proxy_images(huge, 16)
