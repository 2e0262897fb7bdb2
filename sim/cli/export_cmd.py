"""``vitsim export``: build a model (random init), transform it, export its trace.

::

    vitsim export --model deit_small_patch16_224 --batch 4 \\
        --apply skip:1,3 --apply heads:0=0,1,2 --apply topk:3=141 --out trace.yaml
    vitsim export --model hf:swin --out swin.yaml        # v2 op trace

This module imports torch and timm only when the command runs, so registering the parser
never needs the ``vitsim[torch]`` extra.
"""

from __future__ import annotations

import argparse
import json
import logging

from sim.errors import TraceError

__all__ = ["add_export_parser", "register", "run_export", "parse_apply", "APPLY_HELP"]

log = logging.getLogger(__name__)

APPLY_HELP = """transforms, applied in order (repeat --apply):
  skip:L1,L2,...     skip the attention of blocks L1, L2, ... (PIVOT)
  heads:L=H1,H2,...  keep heads H1, H2, ... of block L (structural); heads:L=N keeps
                     the first N heads, heads:L=H, (trailing comma) keeps head H only
  mlp:L=W            keep the first W MLP neurons of block L (structural)
  topk:L=K           EViT top-k in block L: K tokens (CLS included) leave the block
  tome:R             Token Merging, R tokens per block
  pomt:L=R           POMT prune-and-merge in block L: n -> n - R tokens"""


def _ints(text, what):
    try:
        return [int(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise TraceError(f"--apply {what}: {text!r} must be comma-separated integers") \
            from None


def _layer_value(body, spec):
    if "=" not in body:
        raise TraceError(f"--apply {spec!r}: expected LAYER=VALUE after the colon")
    layer, value = body.split("=", 1)
    (layer,) = _ints(layer, spec) or [None]
    if layer is None:
        raise TraceError(f"--apply {spec!r}: missing layer index before '='")
    return layer, _ints(value, spec)


def parse_apply(spec: str):
    """Parse one ``--apply`` SPEC into ``fn(model) -> model`` (see :data:`APPLY_HELP`)."""
    from sim.torch import transforms as T

    kind, sep, body = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not body.strip():
        raise TraceError(f"--apply {spec!r}: expected KIND:ARGS with KIND one of skip, "
                         "heads, mlp, topk, tome, pomt")
    if kind == "skip":
        layers = _ints(body, spec)
        return lambda m: T.skip_attention(m, layers)
    if kind == "tome":
        (r,) = _ints(body, spec)[:1] or [None]
        return lambda m: T.tome(m, r)
    if kind in ("heads", "mlp", "topk", "pomt"):
        layer, vals = _layer_value(body, spec)
        if not vals:
            raise TraceError(f"--apply {spec!r}: missing value after '='")
        if kind == "heads":
            keep = vals[0] if len(vals) == 1 and "," not in body else vals
            return lambda m: T.prune_heads(m, {layer: keep})
        if len(vals) != 1:
            raise TraceError(f"--apply {spec!r}: expects one value after '='")
        if kind == "mlp":
            return lambda m: T.prune_mlp(m, {layer: vals[0]})
        if kind == "topk":
            return lambda m: T.topk_prune(m, layer, vals[0])
        return lambda m: T.pomt_prune(m, layer, vals[0])
    raise TraceError(f"--apply {spec!r}: kind must be one of skip, heads, mlp, topk, tome, "
                     f"pomt, not {kind!r}")


def add_export_parser(subparsers):
    """Register ``export`` on an ``argparse`` subparsers object; returns the parser."""
    p = subparsers.add_parser(
        "export", help="export a trace from a timm ViT (needs vitsim[torch])",
        description="Build a timm ViT with random weights (no download), apply transforms, "
                    "run it once and write the trace of what ran.",
        epilog=APPLY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="[timm:]NAME (e.g. deit_small_patch16_224, swin_tiny_patch4_window7_"
                        "224), hf:MODEL_TYPE (vit, deit, swin, dinov2, beit, ...), "
                        "vitsim:lvvit_s, or 'digits' for the trained digits ViT; random "
                        "weights, nothing downloaded. Recognised ViTs give a v1 trace, "
                        "anything else a v2 op trace")
    p.add_argument("--image-size", type=int, default=None,
                   help="input image edge, pixels (default: the model's)")
    p.add_argument("--hf-config", default=None,
                   help="config.json of an hf: model (default: AutoConfig.for_model)")
    p.add_argument("--allow-unmodelled", action="store_true",
                   help="export even if ops the simulator does not model exceed 1%% of MACs")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--apply", action="append", default=[], metavar="SPEC",
                   help="a transform, see below; repeatable")
    p.add_argument("--seed", type=int, default=0, help="weights/input seed (default 0)")
    p.add_argument("--name", help="model/trace name (default: built-in spec name or the "
                                  "timm architecture)")
    p.add_argument("--out", required=True, help="trace file (.yaml or .json)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (out, name, batch, tokens) on stdout")
    p.set_defaults(func=run_export)
    return p


#: ``sim.cli`` convention: every ``*_cmd`` module exposes ``register(subparsers)``.
register = add_export_parser


def _build_model(name, seed):
    import torch

    if name == "digits":
        from sim.torch.digits import load_digits_vit

        model, _ = load_digits_vit(seed=seed)
        return model
    import timm

    torch.manual_seed(seed)
    try:
        return timm.create_model(name, pretrained=False)
    except RuntimeError as err:
        close = timm.list_models(f"*{name.split('_')[0]}*")[:6]
        raise TraceError(f"--model {name!r}: unknown timm model ({err}); "
                         f"similar: {close}") from None


def run_export(args) -> int:
    """Handler of ``vitsim export``; returns the exit code (errors raise VitsimError)."""
    try:
        import torch
    except ImportError as err:
        raise TraceError(f"vitsim export needs PyTorch and timm: pip install "
                         f"'vitsim[torch]' ({err})") from None
    from sim.torch.export import export_trace
    from sim.workload.trace import save_trace

    if args.batch < 1:
        raise TraceError(f"--batch must be an integer >= 1, not {args.batch}")
    steps = [parse_apply(s) for s in args.apply]  # parse all before building anything
    if args.model != "digits":
        return _export_any(args, steps)
    model = _build_model(args.model, args.seed)
    for spec, step in zip(args.apply, steps):
        log.info("applying %s", spec)
        model = step(model)
    pe = model.patch_embed
    size = tuple(pe.img_size)
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn((args.batch, pe.proj.in_channels) + size, generator=gen)
    trace = export_trace(model, x, name=args.name)
    path = save_trace(trace, args.out)
    tokens = [lt.tokens for lt in trace.layers]
    if args.json:
        print(json.dumps({"out": str(path), "name": trace.name, "batch": trace.batch,
                          "tokens": tokens}))
    else:
        print(f"wrote {path}: {trace.name}, batch {trace.batch}, {len(tokens)} blocks, "
              f"tokens {tokens[0]} -> {trace.layers[-1].tokens_after}")
    return 0


def _export_any(args, steps) -> int:
    """``--model [timm:|hf:|vitsim:]NAME``: v1 when proven against the capture, else v2."""
    from sim.torch.model_export import export_model
    from sim.workload.ops_trace import save_ops_trace
    from sim.workload.trace import save_trace

    if args.image_size is not None and args.image_size < 1:
        raise TraceError(f"--image-size must be an integer >= 1, not {args.image_size}")
    res = export_model(args.model, batch=args.batch, image_size=args.image_size,
                       hf_config=args.hf_config, apply=steps, name=args.name,
                       seed=args.seed, allow_unmodelled=args.allow_unmodelled)
    t = res.trace
    path = (save_trace if res.version == 1 else save_ops_trace)(t, args.out)
    info = {"out": str(path), "name": t.name, "batch": t.batch, "schema_version": res.version,
            "why": res.why, "macs": int(res.captured.macs),
            "unmodelled": [dict(u) for u in res.captured.unmodelled]}
    if res.version == 1:
        info["tokens"] = [lt.tokens for lt in t.layers]
    if args.json:
        print(json.dumps(info))
        return 0
    what = (f"v1 layer trace, {len(t.layers)} blocks, tokens {t.layers[0].tokens} -> "
            f"{t.layers[-1].tokens_after}" if res.version == 1
            else f"v2 op trace, {len(t.ops)} ops in {t.model.depth} blocks")
    print(f"wrote {path}: {t.name}, batch {t.batch}, {what}, {res.captured.macs / 1e9:.3f} "
          f"GMACs ({res.why})")
    for u in res.captured.unmodelled:
        print(f"  unmodelled: {u['op']} {u['macs']:,} MACs ({u['share']:.2%})")
    return 0
