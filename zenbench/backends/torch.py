"""Eager PyTorch on the CPU or a CUDA GPU.

On CUDA every call is timed with CUDA events recorded on the stream around it, and the
device is synchronised before the event time is read, so the number is GPU time, not launch
time. Options (from the device profile): ``device`` (cpu, cuda, cuda:1), ``channels_last``,
``cuda_graphs`` (capture once, replay: no launch overhead), precision fp32/fp16/bf16.
"""

from __future__ import annotations

from collections.abc import Callable

from zenbench.backends.base import BACKENDS, Backend, BackendSettings, Runnable, Workload

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


class TorchBackend(Backend):
    name = "torch"
    install_hint = "pip install torch==2.13.0 (a CUDA build for GPUs)"

    def available(self, settings: BackendSettings) -> str | None:
        import torch

        device = settings.options.get("device", "cpu")
        if settings.precision not in DTYPES:
            return f"precision {settings.precision} is not supported by the torch backend ({', '.join(DTYPES)})"
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                return "no CUDA GPU visible to torch (install a CUDA build of torch==2.13.0 on a GPU machine)"
            index = torch.device(device).index or 0
            if index >= torch.cuda.device_count():
                return f"{device} does not exist: {torch.cuda.device_count()} GPU(s) visible"
        elif settings.precision == "fp16":
            return "fp16 convolutions on the CPU are not a deployment target; use fp32 or bf16"
        return None

    def prepare(self, workload: Workload, settings: BackendSettings) -> Runnable:
        import torch

        self.require(settings)
        if workload.make_torch is None:
            raise ValueError(f"workload {workload.name!r} has no torch form")
        device = torch.device(settings.options.get("device", "cpu"))
        dtype = getattr(torch, DTYPES[settings.precision])
        memory_format = torch.channels_last if settings.options.get("channels_last", device.type == "cuda") \
            else torch.contiguous_format
        model = workload.make_torch().eval().to(device=device, dtype=dtype, memory_format=memory_format)
        x = torch.randn(workload.input_shape, device=device, dtype=dtype).contiguous(memory_format=memory_format)
        if settings.threads and device.type == "cpu":
            torch.set_num_threads(settings.threads)
        context = {"backend": self.name, "precision": settings.precision, "batch": workload.input_shape[0],
                   "threads": torch.get_num_threads() if device.type == "cpu" else None, "device": str(device),
                   "channels_last": memory_format == torch.channels_last}

        def forward() -> object:
            with torch.inference_mode():
                return model(x)

        if device.type != "cuda":
            return Runnable(forward, context)
        context["gpu"] = torch.cuda.get_device_name(device)
        run: Callable[[], object] = forward
        if settings.options.get("cuda_graphs", False):
            run = self._graphed(forward, device)
            context["cuda_graphs"] = True
        return Runnable(run, context, sync=lambda: torch.cuda.synchronize(device), timer=self._event_timer(device))

    @staticmethod
    def _graphed(forward: Callable[[], object], device) -> Callable[[], object]:
        import torch

        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm up on a side stream before capture, as CUDA graphs require
                forward()
        torch.cuda.current_stream(device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            forward()
        return graph.replay

    @staticmethod
    def _event_timer(device) -> Callable[[Callable[[], object]], float]:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def timed(fn: Callable[[], object]) -> float:
            stream = torch.cuda.current_stream(device)
            start.record(stream)
            fn()
            end.record(stream)
            end.synchronize()  # wait for the GPU before reading the events
            return start.elapsed_time(end) / 1000.0

        return timed

    def versions(self) -> dict[str, str]:
        import torch

        out = {"torch": torch.__version__}
        if torch.cuda.is_available():
            out["cuda"] = str(torch.version.cuda)
            out["cudnn"] = str(torch.backends.cudnn.version())
        return out


BACKENDS.add("torch", TorchBackend())
