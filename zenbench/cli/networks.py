"""Commands about networks themselves: inspect, zoo, score, proxies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zenbench.cli.options import (
    DTYPES,
    Convention,
    DType,
    DtypeOption,
    JsonOption,
    NetworkArgument,
    NumClassesOption,
    Protocol,
    ResolutionOption,
    SeedOption,
    positive,
    split_names,
)
from zenbench.cli.render import console, human, print_json, progress_bar, table
from zenbench.errors import ZenbenchError


def inspect(
    network: NetworkArgument,
    resolution: ResolutionOption = None,
    num_classes: NumClassesOption = None,
    se: Annotated[bool | None, typer.Option("--se/--no-se", help="Count SE blocks (default: as the zoo model).")] = None,
    convention: Annotated[Convention, typer.Option(help="'exact' (built module) or 'paper' (Zen-NAS code's counters).")
                          ] = Convention.exact,
    json_out: JsonOption = False,
) -> None:
    """Per-block table of a network: type, channels, stride, sub-layers, resolution, MACs, params."""
    from zenbench.models import resolve_network

    net = resolve_network(network)
    res = net.resolution if resolution is None else resolution
    classes = net.num_classes if num_classes is None else num_classes
    use_se = net.use_se if se is None else se
    count = convention.value
    shapes = net.spec.block_shapes(res, se=use_se, convention=count)  # type: ignore[arg-type]
    total = net.spec.counts(res, classes, se=use_se, convention=count)  # type: ignore[arg-type]
    if json_out:
        print_json({
            "name": net.name, "structure": str(net.spec), "resolution": res, "num_classes": classes, "use_se": use_se,
            "convention": count, "macs": total.macs, "params": total.params, "layers": total.layers,
            "blocks": [
                {"index": s.index, "type": s.block.type, "in": s.block.in_channels, "out": s.block.out_channels,
                 "stride": s.block.stride, "bottleneck": s.block.bottleneck, "sub_layers": s.block.sub_layers,
                 "in_resolution": s.in_resolution, "out_resolution": s.out_resolution, "macs": s.macs,
                 "params": s.params}
                for s in shapes
            ],
        })
        return
    out = table(f"{net.name if net.source != 'string' else 'network'} @ {res}x{res}, {classes} classes, "
                f"SE {'on' if use_se else 'off'}, {count} count",
                ("#", "type", "in", "out", "stride", "bottleneck", "sub-layers", "out res", "MACs", "params"),
                left=("type",), no_wrap=("type",))
    for s in shapes:
        b = s.block
        out.add_row(str(s.index), b.type, str(b.in_channels), str(b.out_channels), str(b.stride),
                    "-" if b.bottleneck is None else str(b.bottleneck), str(b.sub_layers),
                    f"{s.out_resolution}x{s.out_resolution}", human(s.macs), human(s.params))
    if classes:
        out.add_row("", "GAP + Linear", str(net.spec.out_channels), str(classes), "", "", "", "1x1",
                    human(net.spec.out_channels * classes), human(net.spec.out_channels * classes + classes))
    out.add_section()
    out.add_row("", "total", "", "", "", "", f"{total.layers} layers", "", human(total.macs), human(total.params))
    console.print(out)
    console.print(f"MACs = multiply-accumulates (the paper's 'FLOPs'): {total.macs:,}; params: {total.params:,}; "
                  f"layers (sum of sub-layers, the paper's max_layers count): {total.layers}")


def zoo(
    pattern: Annotated[str, typer.Argument(help="Glob over model names, e.g. `*cifar10_*`.")] = "*",
    json_out: JsonOption = False,
) -> None:
    """The ZenNet models with their published figures beside the counts computed here."""
    from zenbench.zoo import get_zoo_model, list_models

    rows = []
    for name in list_models(pattern):
        m = get_zoo_model(name)
        exact = m.spec.counts(m.resolution, m.num_classes, se=m.use_se)
        paper = m.spec.counts(m.resolution, m.num_classes, se=m.use_se, convention="paper")
        rows.append({
            "name": name, "resolution": m.resolution, "num_classes": m.num_classes, "use_se": m.use_se,
            "layers": exact.layers, "macs": exact.macs, "params": exact.params,
            "paper_macs": paper.macs, "paper_params": paper.params, "published": m.published,
            "structure": m.structure,
        })
    if json_out:
        print_json(rows)
        return
    out = table("ZenNet zoo: published vs computed (MACs = multiply-accumulates)",
                ("name", "res", "SE", "layers", "MACs pub.", "MACs exact", "MACs paper", "params pub.",
                 "params exact", "params paper", "top-1 pub."), left=("name",), no_wrap=("name",))
    for r in rows:
        pub = r["published"]
        top1 = pub.get("top1", pub.get("top1_imagenet"))
        out.add_row(r["name"], str(r["resolution"]), "yes" if r["use_se"] else "no", str(r["layers"]),
                    human(pub.get("flops_macs", float("nan"))), human(r["macs"]), human(r["paper_macs"]),
                    human(pub.get("params", float("nan"))), human(r["params"]), human(r["paper_params"]),
                    f"{top1:.1f}" if top1 is not None else "-")
    console.print(out)
    console.print("'exact': the built module (torch's FLOP counter agrees); 'paper': the Zen-NAS code's counters.")


def score(
    networks: Annotated[list[str], typer.Argument(help="Zoo names, structure strings, or files (one per line).")],
    proxy: Annotated[str, typer.Option(help="Comma-separated proxies; `zenbench proxies` lists them.")] = "zen",
    resolution: ResolutionOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Random inputs per forward pass.")] = 64,
    repeat: Annotated[int, typer.Option(min=1, help="Independent draws of weights and inputs.")] = 1,
    seed: SeedOption = 0,
    num_classes: NumClassesOption = None,
    protocol: Annotated[Protocol, typer.Option(help="Zen-Score protocol: the code's or the paper's.")
                        ] = Protocol.official,
    gamma: Annotated[float, typer.Option(help="Zen-Score input perturbation scale (> 0).")] = 1e-2,
    dtype: DtypeOption = DType.float32,
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
    data: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="A .npy of real images (N,3,H,W) for "
                                              "proxies that read data, instead of noise.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Score networks with zero-shot proxies (Zen-Score by default)."""
    import torch

    from zenbench.models import iter_networks
    from zenbench.proxies import get_proxy
    from zenbench.proxies import score as score_network
    from zenbench.proxies.images import load_proxy_images

    positive(gamma, "--gamma")
    torch_device = _torch_device(torch, device)
    torch_dtype = getattr(torch, DTYPES[dtype.value])
    proxies = split_names(proxy)
    if not proxies:
        raise typer.BadParameter("name at least one proxy", param_hint="'--proxy'")
    for name in proxies:
        get_proxy(name)  # unknown names fail before any work, with suggestions
    nets = iter_networks(networks)
    images: dict[int, torch.Tensor] = {}  # the --data images at each resolution scored
    rows = []
    with progress_bar("scoring", disable=json_out or len(nets) * len(proxies) < 2) as bar:
        task = bar.add_task("scoring", total=len(nets) * len(proxies))
        for net in nets:
            res = net.resolution if resolution is None else resolution
            classes = net.num_classes if num_classes is None else num_classes
            for name in proxies:
                options = {"gamma": gamma, "protocol": protocol.value} if name == "zen" else {}
                if data is not None and res not in images:
                    images[res] = load_proxy_images(data, res, net.spec.in_channels)
                result = score_network(net.spec, name, resolution=res, batch_size=batch_size, repeat=repeat, seed=seed,
                                       num_classes=classes, dtype=torch_dtype, device=torch_device,
                                       data=images.get(res), **options)
                rows.append({"network": net.name, "structure": str(net.spec), "resolution": res, **result.as_dict()})
                bar.advance(task)
    if json_out:
        print_json(rows)
        return
    out = table(f"zero-shot scores (batch {batch_size}, {repeat} repeat(s), seed {seed})",
                ("network", "proxy", "mean", "std", "95% CI", "extras", "seconds"), left=("network", "proxy", "extras"))
    for r in rows:
        name = r["network"] if len(r["network"]) <= 60 else r["network"][:57] + "..."
        extras = ", ".join(f"{k}={v:.4g}" for k, v in r["extras"].items())
        out.add_row(name, r["proxy"], f"{r['mean']:.6g}", f"{r['std']:.3g}", f"±{r['ci95']:.3g}", extras,
                    f"{r['seconds']:.2f}")
    console.print(out)


def _torch_device(torch, device: str) -> str:
    """``device`` if torch knows it and it is present here; else a ZenbenchError saying what is."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ZenbenchError(f"--device {device!r} is not a torch device; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ZenbenchError(f"--device {device}: no CUDA GPU is visible to torch here; use --device cpu")
    return device


def proxies(json_out: JsonOption = False) -> None:
    """The registered zero-shot proxies, what they need, and which direction is better."""
    from zenbench.proxies import get_proxy, list_proxies

    rows = [{"name": n, "higher_is_better": get_proxy(n).higher_is_better, "needs": sorted(get_proxy(n).needs),
             "gaussian_init": get_proxy(n).gaussian_init, "ranked_over_set": list(get_proxy(n).components),
             "description": get_proxy(n).description}
            for n in list_proxies()]
    if json_out:
        print_json(rows)
        return
    out = table("proxies", ("name", "better", "needs", "init", "in a search", "what it measures"),
                left=("name", "better", "needs", "init", "in a search", "what it measures"))
    for r in rows:
        out.add_row(r["name"], "higher" if r["higher_is_better"] else "lower", ", ".join(r["needs"]),
                    "N(0,1)" if r["gaussian_init"] else "default",
                    "ranked over all scored" if r["ranked_over_set"] else "its value", r["description"])
    console.print(out)
    console.print("needs 'labels': random labels unless --data images.npy is given (zenbench score, benchmark proxies)")


__all__ = ["inspect", "proxies", "score", "zoo"]
