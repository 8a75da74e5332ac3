"""Real images for the proxies that read data (``--data images.npy``): read bounded, checked, standardised.

Data-free proxies score Gaussian noise; the published zero-cost figures of some (ZiCo, SWAP, the
NAS-Bench-201 tables) used a batch of real training images. This reads such a batch from a ``.npy``
file, memory-mapped so that only the first :data:`MAX_PROXY_IMAGES` images are ever loaded, in
either layout (N, 3, H, W) or (N, H, W, 3), uint8 or float, resized to the network's resolution and
standardised per channel (the statistics of the batch itself: no data set's constants are assumed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from zenbench.fileio import read_npy_images

#: the most images read from a file: a proxy batch draws from these (a file may hold many more)
MAX_PROXY_IMAGES = 1024


def load_proxy_images(path: Path, resolution: int, channels: int = 3, option: str = "--data") -> torch.Tensor:
    """At most :data:`MAX_PROXY_IMAGES` images of ``path`` as a float32 (N, C, resolution, resolution) tensor,
    standardised per channel; a file that is not such an array is a :class:`SettingError` naming ``option``."""
    picked = read_npy_images(path, option=option, kinds="fu", limit=MAX_PROXY_IMAGES,
                             expected=f"uint8 or float images of shape (N, {channels}, H, W) or (N, H, W, {channels})",
                             fits=lambda shape: channels in (shape[1], shape[-1]))
    if picked.shape[1] != channels:
        picked = picked.transpose(0, 3, 1, 2)
    images = torch.from_numpy(np.ascontiguousarray(picked))
    if images.shape[-2:] != (resolution, resolution):
        images = torch.nn.functional.interpolate(images, size=(resolution, resolution), mode="bilinear", antialias=True)
    mean = images.mean(dim=(0, 2, 3), keepdim=True)
    std = images.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (images - mean) / std
