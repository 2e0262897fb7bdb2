"""Capture time of a whole model into a v2 op trace (a benchmark, not a test).

    python bench/bench_capture.py [--model deit_base_patch16_224] [--batch 1]
        [--repeats 5] [--image-size 224]

Prints the model build time, the median :func:`sim.torch.capture` time over
``--repeats`` runs (after one warm-up), the same model's plain ``torch.no_grad`` forward
time (the capture overhead is the difference), the number of ops and the MACs.  Target:
DeiT-B at batch 1 in under 10 s.  Random weights (no download); needs ``vitsim[torch]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from _util import fmt_s, median_time  # noqa: E402

from sim.torch import capture  # noqa: E402
from sim.torch.sources import build_model, example_input  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deit_base_patch16_224")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--image-size", type=int, default=None)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model, size, name = build_model(args.model, image_size=args.image_size)
    build_s = time.perf_counter() - t0
    x = example_input(args.model, size, args.batch, model=model)
    trace = capture(model, x, name=name)
    capture(model, x, name=name)  # warm-up
    cap_s = median_time(lambda: capture(model, x, name=name), args.repeats)

    def forward():
        with torch.no_grad():
            model(**x) if isinstance(x, dict) else model(x)

    forward()  # warm-up
    fwd_s = median_time(forward, args.repeats)
    print(f"{name}, batch {args.batch}, {size} px, torch threads {torch.get_num_threads()}")
    print(f"  build model        {fmt_s(build_s)}")
    print(f"  capture (median)   {fmt_s(cap_s)}   target < 10 s")
    print(f"  plain forward      {fmt_s(fwd_s)}")
    print(f"  ops {len(trace.ops)}, blocks {trace.model.depth}, {trace.macs / 1e9:.3f} GMACs")


if __name__ == "__main__":
    main()
