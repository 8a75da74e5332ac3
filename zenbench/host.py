"""What identifies a CPU host's speed: its model, the vector extensions kernels dispatch on, its caches.

A table records these (``environment`` metadata); a host that differs in them is another device, and
``host_differences`` names how.
"""

from __future__ import annotations

import platform
from functools import cache
from typing import Any


@cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: Instruction-set extensions that change which kernels a runtime picks (XNNPACK, MLAS, oneDNN dispatch on
#: them at start-up); two hosts with the same model name can differ in them (a cloud "AMD EPYC" may be
#: Milan, AVX2 only, or Genoa, AVX-512), and a table profiled on one then mispredicts the other by a third.
KERNEL_ISA_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                    "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2", "i8mm", "bf16")


@cache
def cpu_isa() -> tuple[str, ...]:
    """The kernel-relevant instruction-set extensions this CPU reports (sorted), empty where unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    present = set(line.split(":", 1)[1].split())
                    return tuple(sorted(present.intersection(KERNEL_ISA_FLAGS)))
    except OSError:
        pass
    return ()


def host_fingerprint() -> dict[str, Any]:
    """The properties of this host that set a CPU latency (what :func:`host_differences` compares)."""
    return {"cpu": cpu_model(), "cpu_isa": list(cpu_isa()), "last_level_cache_mib": last_level_cache_mib()}


def host_differences(profiled: dict[str, Any]) -> list[str]:
    """How the host a table was profiled on (its ``environment`` metadata) differs from this one, in the
    properties that set latency: CPU model, vector extensions, last-level cache. Empty when none differ
    or the table does not record them."""
    differences = []
    if profiled.get("cpu") and profiled["cpu"] != cpu_model():
        differences.append(f"CPU {profiled['cpu']!r}, this host {cpu_model()!r}")
    if profiled.get("cpu_isa") is not None and tuple(profiled["cpu_isa"]) != cpu_isa():
        theirs, ours = set(profiled["cpu_isa"]), set(cpu_isa())
        parts = [f"+{f}" for f in sorted(theirs - ours)] + [f"-{f}" for f in sorted(ours - theirs)]
        differences.append(f"vector extensions differ (profiled host {' '.join(parts)} against this one)")
    llc = profiled.get("last_level_cache_mib")
    if llc and last_level_cache_mib() and abs(llc - last_level_cache_mib()) > 1e-6:
        differences.append(f"last-level cache {llc:g} MiB, this host {last_level_cache_mib():g} MiB")
    return differences


@cache
def cache_levels_mib() -> dict[int, float]:
    """This host's data caches by level (MiB, per instance) as the kernel reports them; empty where it does not."""
    from pathlib import Path

    sizes: dict[int, float] = {}
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level = int((index / "level").read_text())
            if (index / "type").read_text().strip() == "Instruction":
                continue
            text = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        units = {"K": 1 / 1024, "M": 1.0, "G": 1024.0}
        try:
            sizes[level] = float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text) / 2**20
        except ValueError:
            continue
    return sizes


def last_level_cache_mib() -> float | None:
    """Size of this host's last-level CPU cache (MiB), or None where unknown (whether a network's weights stay
    cached between inferences depends on it; see ``budget``)."""
    sizes = cache_levels_mib()
    return sizes[max(sizes)] if sizes else None


def l2_cache_mib() -> float | None:
    """A core's L2 (MiB), or None where unknown: a unit whose weights exceed it costs more per MAC
    (``zenbench.latency.units.Core``)."""
    return cache_levels_mib().get(2)
