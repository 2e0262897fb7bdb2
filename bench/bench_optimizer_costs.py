"""CPU cost per unit of the torch side of the optimizers (docs/real-models.md).

For random-init timm DeiT-Tiny / DeiT-S at 224 px on this machine's CPU (threads as given),
measure wall seconds of:

* ``forward``   -- one plain forward pass, per image;
* ``optin_unit``-- OPTIN trajectory importance, per unit and calibration image, measured on
  the heads of block 0 (the longest trajectory, every block re-run) and of the last block;
  the mean of the two is the per-unit average (a unit of block i re-runs blocks i..L-1);
* ``a_of_n``    -- POMT A(n), per token count and validation image, at the full count;
* ``effort``    -- PIVOT effort outputs, per image.

and the unit counts of each model, so the full jobs can be estimated:
OPTIN = units x calib images x optin_unit; A(n) = token counts x val images x a_of_n;
PIVOT = efforts x val images x effort.  Weights do not change the cost.

    python bench/bench_optimizer_costs.py [--models deit_tiny_patch16_224,...] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def _time(fn, repeats=2):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(name: str, images: int = 4) -> dict:
    from sim.torch.cka import effort_outputs
    from sim.torch.importance import ImportanceOptions, _rows, _score_layer, forward_embeddings
    from sim.torch.pomt_measure import measure_input_accuracy
    from sim.torch.sources import load_model

    model, _ = load_model(f"timm:{name}", random_init=True)
    x = torch.randn(images, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(images, dtype=torch.long)
    L = len(model.blocks)
    H = model.blocks[0].attn.num_heads
    M = model.blocks[0].mlp.fc2.in_features
    N = int(model.patch_embed.num_patches) + 1
    with torch.no_grad():
        fwd = _time(lambda: model(x)) / images
    opts = ImportanceOptions(chunk=H)
    stream, feats, logits = forward_embeddings(model, x, opts.embeddings)
    rows = min(opts.gram_rows, images * N)
    idx = torch.randperm(images * N, generator=torch.Generator().manual_seed(0))[:rows]
    teacher = [None] + [(f, (f.transpose(-1, -2) @ f).pow(2).sum())
                        for f in (_rows(feats[z], idx) for z in range(1, L + 1))]

    def heads(layer):
        return lambda: _score_layer(model, layer, "heads", stream, teacher, logits, idx, opts)

    first = _time(heads(0), 1) / (H * images)
    last = _time(heads(L - 1), 1) / (H * images)
    a_n = _time(lambda: measure_input_accuracy(model, (x, y), tokens=[N])) / images
    eff = _time(lambda: effort_outputs(model, x, y)) / images
    return {"model": name, "depth": L, "heads": H, "mlp_hidden": M, "tokens": N,
            "units": L * (H + M), "token_units": (L - 1) * (N - 1),
            "forward_s": fwd, "optin_unit_first_block_s": first,
            "optin_unit_last_block_s": last, "optin_unit_mean_s": (first + last) / 2,
            "a_of_n_s": a_n, "effort_s": eff, "images": images,
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="deit_tiny_patch16_224,deit_small_patch16_224")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=4)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [measure(m, args.images) for m in args.models.split(",")]
    print(json.dumps(rows, indent=1))
    print("\n| model | units (heads+neurons) | forward / image | OPTIN / unit / image | "
          "OPTIN full job (64 calib) | A(n) / count / image | effort / image |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        job_h = r["units"] * 64 * r["optin_unit_mean_s"] / 3600
        print(f"| {r['model']} | {r['units']} | {r['forward_s'] * 1e3:.1f} ms | "
              f"{r['optin_unit_mean_s'] * 1e3:.1f} ms | {job_h:.1f} h | "
              f"{r['a_of_n_s'] * 1e3:.1f} ms | {r['effort_s'] * 1e3:.1f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
