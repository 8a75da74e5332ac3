"""zenbench: hardware-aware latency benchmarking and zero-shot NAS (Zen-NAS) for CNNs.

The public API::

    zenbench.create_model("zennet_imagenet1k_latency01ms_res224")   # or a structure string
    zenbench.parse_structure("SuperConvK3BNRELU(3,32,2,1)SuperResK1K5K1(32,64,2,32,2)")
    zenbench.list_models("*cifar*"), zenbench.list_blocks("SuperResIDW*")
"""

from zenbench.errors import StructureError, ZenbenchError
from zenbench.models import create_model, resolve_network
from zenbench.space.blocks import BlockSpec, list_blocks
from zenbench.space.grammar import format_structure, parse_structure
from zenbench.space.network import ZenNet, build_model
from zenbench.space.spec import Counts, NetworkSpec
from zenbench.zoo import get_zoo_model, list_models

__version__ = "0.1.0"

__all__ = [
    "BlockSpec",
    "Counts",
    "NetworkSpec",
    "StructureError",
    "ZenNet",
    "ZenbenchError",
    "build_model",
    "create_model",
    "format_structure",
    "get_zoo_model",
    "list_blocks",
    "list_models",
    "parse_structure",
    "resolve_network",
]
