"""An initial structure over the budget is narrowed until it meets it, so a tight budget still finds networks."""

from __future__ import annotations

from zenbench.api import plan_search, search
from zenbench.latency import predict_latency
from zenbench.search.init_fit import fit_init, narrow
from zenbench.search.presets import LATENCY_INIT, get_preset
from zenbench.space.spec import NetworkSpec


def test_narrowing_scales_widths_and_keeps_depth_strides_and_types() -> None:
    spec = NetworkSpec.parse(LATENCY_INIT)
    narrowed = narrow(spec, 0.5)
    assert [b.type for b in narrowed.blocks] == [b.type for b in spec.blocks]
    assert [b.stride for b in narrowed.blocks] == [b.stride for b in spec.blocks]
    assert narrowed.layers == spec.layers
    assert narrowed.blocks[0].in_channels == 3
    for before, after in zip(spec.blocks, narrowed.blocks, strict=True):
        assert after.out_channels == max(8, round(before.out_channels * 0.5 / 8) * 8)
    for previous, block in zip(narrowed.blocks, narrowed.blocks[1:], strict=False):
        assert block.in_channels == previous.out_channels
    NetworkSpec.parse(str(narrowed))  # a valid structure string


def test_a_budget_below_the_init_narrows_it_until_the_guarded_prediction_fits(tmp_path) -> None:
    plan = plan_search(2.0, device="cpu", iterations=10, out=tmp_path / "run")
    fitted = plan.init_fit
    init_ms = predict_latency(NetworkSpec.parse(get_preset("imagenet-latency").init), plan.table, 224).value_ms
    assert init_ms > 2.0  # the premise: the preset's init breaks this budget on the shipped table
    assert fitted.narrowed and fitted.factor < 1.0
    assert fitted.predicted_ms_before == init_ms
    assert plan.settings.init == fitted.structure != LATENCY_INIT
    assert plan.settings.constraints.check(NetworkSpec.parse(fitted.structure), plan.table).ok
    # the widest narrowing that fits: one step wider breaks the budget
    wider = narrow(NetworkSpec.parse(LATENCY_INIT), fitted.factor / 0.8)
    assert not plan.settings.constraints.check(wider, plan.table).ok
    assert "× " in fitted.describe(2.0) and "--init" in fitted.describe(2.0)


def test_the_narrowed_search_finds_networks_within_the_budget(tmp_path) -> None:
    result = search(2.0, device="cpu", iterations=12, population=8, batch_size=2, proxy="params",
                    out=tmp_path / "run")
    assert result["best"] is not None and result["best"]["latency_ms"] <= 2.0
    assert 0 < result["init_width_factor"] < 1


def test_an_init_within_the_budget_is_left_as_it_is(tmp_path) -> None:
    plan = plan_search(50.0, device="cpu", iterations=10, out=tmp_path / "run")
    assert not plan.init_fit.narrowed and plan.settings.init == LATENCY_INIT


def test_a_budget_no_narrowing_meets_leaves_the_init_for_the_search_to_report(tmp_path) -> None:
    plan = plan_search(0.001, device="cpu", iterations=10, out=tmp_path / "run")
    assert not plan.init_fit.narrowed and plan.settings.init == LATENCY_INIT
    constraints = plan.settings.constraints
    assert fit_init(LATENCY_INIT, constraints, plan.table).structure == LATENCY_INIT


def test_the_cli_says_when_it_narrowed_the_init(tmp_path) -> None:
    from typer.testing import CliRunner

    from zenbench.cli import app

    result = CliRunner().invoke(app, ["search", "--latency-ms", "2", "--device", "cpu", "--iterations", "6",
                                      "--population", "4", "--batch-size", "2", "--proxy", "params", "--force",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "initial structure broke the budget of 2 ms" in result.output and "--init" in result.output
