"""Forward-pass time of DeiT-S before and after structural pruning (a benchmark, not a test).

    python bench/bench_prune_forward.py [--model deit_small_patch16_224] [--batch 1]
        [--repeats 20] [--threads 1]

Prints one row per variant: parameters, median forward time (ms) over ``--repeats`` runs
after two warm-up runs, and the speed-up over the unpruned model.  Random weights (no
download); needs the ``vitsim[torch]`` extra.
"""

from __future__ import annotations

import argparse
import statistics
import time

import timm
import torch

from sim.torch import transforms as T


def median_ms(model, x, repeats):
    with torch.no_grad():
        for _ in range(2):
            model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="deit_small_patch16_224")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = timm.create_model(args.model, pretrained=False).eval()
    depth = len(base.blocks)
    heads = base.blocks[0].attn.num_heads
    width = base.blocks[0].mlp.fc1.out_features
    variants = {
        "unpruned": base,
        f"heads {heads}->{heads // 2}": T.prune_heads(base, {i: heads // 2
                                                             for i in range(depth)}),
        f"mlp {width}->{width // 2}": T.prune_mlp(base, {i: width // 2 for i in range(depth)}),
        "heads/2 + mlp/2": T.prune_mlp(T.prune_heads(base, {i: heads // 2
                                                           for i in range(depth)}),
                                       {i: width // 2 for i in range(depth)}),
    }
    x = torch.randn(args.batch, 3, *base.patch_embed.img_size)
    print(f"{args.model}, batch {args.batch}, {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"{'variant':<20}{'params_M':>10}{'forward_ms':>12}{'speedup':>9}")
    ref = None
    for name, model in variants.items():
        ms = median_ms(model, x, args.repeats)
        ref = ref or ms
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"{name:<20}{params:>10.2f}{ms:>12.2f}{ref / ms:>9.2f}")


if __name__ == "__main__":
    main()
