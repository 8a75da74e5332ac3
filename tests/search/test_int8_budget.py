"""A search under an int8 budget uses the int8 table, and the int8 table predicts int8 networks faster."""

from __future__ import annotations

from zenbench.api import plan_search
from zenbench.latency import predict_latency
from zenbench.locate import load_device_table
from zenbench.zoo import get_zoo_model


def test_a_latency_budget_on_cpu_int8_searches_under_the_int8_table(tmp_path) -> None:
    plan = plan_search(5.0, device="cpu:int8", iterations=10, out=tmp_path / "run")
    assert plan.device == "cpu:int8"
    table = plan.table
    assert table.metadata["device"]["precision"] == "int8"
    assert table.metadata["device"]["options"]["quantization"]["activations"] == "uint8"


def test_the_int8_table_predicts_a_zoo_network_faster_than_fp32() -> None:
    zoo = get_zoo_model("zennet_imagenet1k_latency01ms_res224")
    int8 = predict_latency(zoo.spec, load_device_table("cpu:int8")[1], 224).value_ms
    fp32 = predict_latency(zoo.spec, load_device_table("cpu")[1], 224).value_ms
    assert 1.5 < fp32 / int8 < 10  # the shipped tables come from different hosts: only the order is asserted
