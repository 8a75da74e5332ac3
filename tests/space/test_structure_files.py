"""Structure files and names: read as UTF-8, refused with the file named, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from zenbench import ZenbenchError, resolve_network
from zenbench.models import iter_networks

STRING = "SuperConvK3BNRELU(3,32,2,1)SuperResK3K3(32,64,2,16,1)"


def test_a_structure_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "net.txt"
    path.write_text(f"\n  {STRING}  \n", encoding="utf-8")
    assert str(resolve_network(str(path)).spec) == STRING
    many = tmp_path / "many.txt"
    many.write_text(f"# two networks\n{STRING}\n\n{STRING}\n")
    assert [n.name for n in iter_networks([str(many)])] == ["many.txt:1", "many.txt:2"]  # numbered over structure lines


@pytest.mark.parametrize("data", [b"SuperConvK3BNRELU(3,32,2,1)\xff\n", b"\xfe\xff\x00S", "é".encode("latin-1")])
def test_a_non_utf8_structure_file_names_the_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(data)
    for call in (lambda: resolve_network(str(path)), lambda: iter_networks([str(path)])):
        with pytest.raises(ZenbenchError, match="not UTF-8") as info:
            call()
        assert str(path) in str(info.value)


def test_a_line_over_the_limits_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text(f"{STRING}\nSuperConvK3BNRELU(3,32,2,100000)\n")
    with pytest.raises(ZenbenchError, match="line 2") as info:
        iter_networks([str(path)])
    assert "max_sub_layers" in str(info.value)


@pytest.mark.parametrize("name", ["x" * 5000, "a\x00b", "\ud800", "../../../etc/shadow-not-there", ""])
def test_names_the_os_cannot_look_up_are_errors(name: str) -> None:
    with pytest.raises(ZenbenchError) as info:
        resolve_network(name)
    assert len(str(info.value)) < 400
