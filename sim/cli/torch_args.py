"""``--model/--data/--calib/--val/--device/--checkpoint/--pretrained/--random-init``.

Shared by the optimizer commands that run a torch model (``prune optin``, ``schedule
--measure``, ``search pivot --data``).  Everything the user gave is checked -- the device,
the weights, the data directory and every image of the requested subsets -- before the
command starts any long work; each problem is one line (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["add_torch_args", "load_from_args", "Loaded"]


def add_torch_args(p, *, model: bool = True, calib: int | None = 64,
                   val: int | None = None) -> None:
    """Add the model/data/device options to parser ``p`` (``model=False``: the command
    defines its own ``--model``)."""
    if model:
        p.add_argument("--model", required=True,
                       help="'digits' (built-in trained digits ViT), timm:NAME or a bare "
                       "timm name (deit_small_patch16_224), or hf:TYPE")
    p.add_argument("--data", metavar="DIR", help="ImageFolder tree (DIR/<class>/<image>), "
                   "preprocessed with the model's timm data config")
    p.add_argument("--calib", type=int, default=calib,
                   help=f"calibration images (default {calib})")
    p.add_argument("--val", type=int, default=val,
                   help="validation images for accuracy (default: the rest of --data, or "
                   "the digits test split)")
    p.add_argument("--device", default="cpu", help="cpu, cuda[:N] or mps (default cpu)")
    p.add_argument("--amp", action="store_true", help="autocast (bf16 CPU / fp16 GPU)")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--checkpoint", metavar="FILE", help="state_dict for the model")
    w.add_argument("--pretrained", action="store_true",
                   help="timm pretrained weights from the LOCAL cache (no download)")
    w.add_argument("--random-init", action="store_true",
                   help="random weights (smoke tests only; must be explicit)")
    p.add_argument("--img-size", type=int, metavar="PX",
                   help="run a timm ViT at this input size (pos-embed resampled)")
    p.add_argument("--data-seed", type=int, default=0,
                   help="seed of the calibration/validation subsets (default 0)")


@dataclass
class Loaded:
    """A model with its data, ready to run."""

    model: object
    device: object
    weights: str
    data: dict
    calib: object = None          # (images, labels) tensors on the device, or None
    val: object = None            # dataset / (images, labels) pair, or None
    example: object = None        # (1, C, H, W) input for tracing
    info: dict = field(default_factory=dict)


def load_from_args(args, *, need_calib: bool = True, need_val: bool = True) -> Loaded:
    """Resolve and check every model/data option, then load the model and subsets."""
    import torch

    from sim.errors import ConfigError
    from sim.torch.data import check_count, describe, image_folder, take
    from sim.torch.device import resolve_device
    from sim.torch.sources import load_model, parse_name

    dev = resolve_device(args.device)
    ns, _ = parse_name(args.model)
    if need_calib:
        check_count("--calib", args.calib, allow_none=False)
    if args.val is not None:
        check_count("--val", args.val)
    if args.img_size is not None:
        check_count("--img-size", args.img_size)
    if args.data is None and ns != "digits" and (need_calib or need_val):
        raise ConfigError(f"--data = None; must be an ImageFolder DIR for --model "
                          f"{args.model} (only 'digits' brings its own data)")
    model, info = load_model(args.model, pretrained=args.pretrained,
                             checkpoint=args.checkpoint, random_init=args.random_init,
                             device=dev)
    if args.img_size is not None:
        if not hasattr(model, "set_input_size"):
            raise ConfigError(f"--img-size = {args.img_size}; must be unset for "
                              f"{args.model} (no set_input_size)")
        model.set_input_size(img_size=args.img_size)
    out = Loaded(model, dev, info["weights"], {}, info=info)
    if args.data is None:  # the digits ViT with its own split
        from sim.torch.digits import load_digits_data

        d = load_digits_data(0)
        if need_calib:
            if args.calib > len(d.y_train):
                raise ConfigError(f"--calib = {args.calib}; must be <= {len(d.y_train)}")
            out.calib = (d.x_train[:args.calib].to(dev), d.y_train[:args.calib].to(dev))
        n_val = len(d.y_test) if args.val is None else min(args.val, len(d.y_test))
        out.val = (d.x_test[:n_val], d.y_test[:n_val]) if need_val else None
        out.example = d.x_test[:1]
        out.data = {"builtin": "sklearn digits", "calib": args.calib if need_calib else 0,
                    "val": n_val if need_val else 0}
        return out
    calib_n = args.calib if need_calib else 0
    if need_calib:
        cal = image_folder(args.data, model, n=calib_n, seed=args.data_seed)
        out.calib = take(cal, calib_n, dev)
    if need_val:
        out.val = image_folder(args.data, model, n=args.val, seed=args.data_seed,
                               offset=calib_n)
    probe = out.calib[0][:1] if out.calib is not None else \
        torch.stack([out.val[0][0]])
    out.example = probe.cpu()
    out.data = {"dir": str(args.data), "calib": calib_n,
                "val": describe(out.val)["images"] if need_val else 0,
                "seed": args.data_seed}
    return out
