"""Does an exported artifact compute the same function as the torch model? Per-precision thresholds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zenbench.errors import ZenbenchError

#: (min cosine similarity, max relative max-abs error, min top-1 agreement) per precision
THRESHOLDS = {"fp32": (0.99999, 1e-3, 1.0), "fp16": (0.999, 2e-2, 0.9), "int8": (0.98, 0.25, 0.75)}


class ParityError(ZenbenchError):
    """An artifact whose outputs differ from the torch model's beyond the precision's tolerance."""


@dataclass(frozen=True)
class Parity:
    max_abs_error: float
    relative_error: float  # max |a - b| / max |b|
    cosine: float
    top1_agreement: float
    samples: int
    precision: str

    @property
    def passed(self) -> bool:
        cosine, relative, top1 = THRESHOLDS[self.precision]
        return self.cosine >= cosine and self.relative_error <= relative and self.top1_agreement >= top1

    def as_dict(self) -> dict[str, float | int | str | bool]:
        return {**self.__dict__, "passed": self.passed, "thresholds": dict(zip(("cosine", "relative_error", "top1"),
                                                                              THRESHOLDS[self.precision], strict=True))}

    def check(self, artifact: str) -> None:
        if not self.passed:
            cosine, relative, top1 = THRESHOLDS[self.precision]
            cause = ("the int8 quantisation destroyed the outputs; calibrate on real images (--calibration-data "
                     "images.npy) or export fp32: " if self.precision == "int8" else "")
            raise ParityError(
                f"{artifact} fails the {self.precision} parity check: {cause}cosine {self.cosine:.6f} (min {cosine}), "
                f"relative max error {self.relative_error:.2e} (max {relative}), top-1 agreement "
                f"{self.top1_agreement:.0%} (min {top1:.0%}), max abs error {self.max_abs_error:.3g}")


def compare(artifact: np.ndarray, reference: np.ndarray, precision: str) -> Parity:
    a = artifact.reshape(reference.shape[0], -1).astype(np.float64)
    b = reference.reshape(reference.shape[0], -1).astype(np.float64)
    diff = np.abs(a - b)
    cosine = float(np.mean(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)))
    top1 = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    return Parity(float(diff.max()), float(diff.max() / (np.abs(b).max() + 1e-30)), cosine, top1, int(a.shape[0]),
                  precision)
