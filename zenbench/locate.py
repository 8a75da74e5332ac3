"""Where device profiles and latency tables are found, and a device's table loaded.

zenbench ships its device profiles and the tables measured for them as package data, so a table
works wherever the package is installed, as nn-Meter's predictors do. A user's own files win:
``./device_profiles/`` and ``./latency_tables/`` in the working directory are searched first, and a
profile run writes its table to ``./latency_tables/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zenbench.devices import DeviceProfile
    from zenbench.latency import LatencyTable

PACKAGE = Path(__file__).resolve().parent
SHIPPED_TABLES = PACKAGE / "latency_tables"
USER_TABLES = Path("latency_tables")


def table_file_name(device: str) -> str:
    """``cpu`` -> ``cpu.parquet``; a variant's colon becomes a dash (``t4:fp16`` -> ``t4-fp16.parquet``)."""
    return f"{device.replace(':', '-')}.parquet"


def output_table_path(device: str) -> Path:
    """Where ``zenbench profile`` writes a device's table: ``./latency_tables/`` of the working directory."""
    return USER_TABLES / table_file_name(device)


def find_table(device: str) -> Path:
    """The table a device's predictions use: the working directory's, else the shipped one. When neither
    exists, the working directory's path, so that the error says where ``zenbench profile`` will write it."""
    own = output_table_path(device)
    shipped = SHIPPED_TABLES / table_file_name(device)
    return own if own.exists() or not shipped.exists() else shipped


def load_device_table(device: str, table: Path | None = None,
                      force: bool = False) -> tuple[DeviceProfile, LatencyTable, list[str]]:
    """``device``'s profile and latency table (``table``, else :func:`find_table`), refusing a table measured
    under other settings unless ``force``. Also returns how the host the table was profiled on differs from
    this one: empty for a phone or a remote device, whose table does not describe this host."""
    from zenbench.backends.base import get_backend
    from zenbench.devices import load_device
    from zenbench.host import host_differences
    from zenbench.latency import LatencyTable

    profile = load_device(device)  # the profiles themselves are found by zenbench.devices (profile_dirs)
    path = table if table is not None else find_table(profile.name)
    loaded = LatencyTable.load(path, expect=profile.describe(), force=force)
    differences: list[str] = []
    if get_backend(profile.backend).shared_host:
        differences = host_differences(loaded.metadata.get("environment") or {})
    return profile, loaded, differences
