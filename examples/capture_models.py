"""Capture models into traces and simulate them on the ZCU102 preset (numbers in
``docs/traces.md`` and the README come from this script).

    python examples/capture_models.py

For each model: the trace format ``vitsim export`` picks (v1 when proven, else v2), its MACs
and the simulated cycles; then LV-ViT-S with its real 4-conv stem (v2, from
``sim.torch.models``) against the built-in ``lvvit_s`` v1 trace that models the stem as one
16x16 patch GEMM.  Random weights, nothing downloaded; needs ``vitsim[torch,hf]``.
"""

from __future__ import annotations

import sim
from sim.torch.model_export import export_model

MODELS = ["timm:deit_small_patch16_224", "hf:vit", "timm:swin_tiny_patch4_window7_224",
          "hf:swin", "timm:eva02_tiny_patch14_224", "vitsim:lvvit_s"]


def main():
    print(f"{'model':36s} {'format':6s} {'GMACs':>8s} {'cycles':>12s}  why")
    for spec in MODELS:
        res = export_model(spec)
        rep = sim.simulate("zcu102", res.trace)
        print(f"{spec:36s} v{res.version:<5d} {res.captured.macs / 1e9:8.3f} "
              f"{rep.summary['cycles']:12,d}  {res.why}")
    stem = sim.simulate("zcu102", export_model("vitsim:lvvit_s").trace).summary
    gemm = sim.simulate("zcu102", sim.model_trace("lvvit_s")).summary
    print(f"\nLV-ViT-S on zcu102: 4-conv stem {stem['cycles']:,} cycles, {stem['macs']:,} MACs; "
          f"one-GEMM stem (built-in lvvit_s) {gemm['cycles']:,} cycles, {gemm['macs']:,} MACs "
          f"({stem['cycles'] / gemm['cycles'] - 1:+.1%} cycles)")


if __name__ == "__main__":
    main()
