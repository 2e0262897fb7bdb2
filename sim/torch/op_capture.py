"""Op-level capture of any PyTorch model into a v2 trace (``schema_version: 2``).

:func:`capture` runs the model once under a :class:`TorchDispatchMode` and records every
aten op that reaches the dispatcher -- after torch's own decompositions, so ``linear``,
``matmul`` and ``einsum`` arrive as ``mm``/``addmm``/``bmm``/``baddbmm`` exactly as they
execute.  Only shapes are read; no activation is stored, so memory stays that of one
ordinary inference.  Why a dispatch mode rather than ``torch.export``/FX: it needs no
tracing-friendly model (data-dependent control flow, HF ``ModelOutput`` and timm's dynamic
padding all just run), it sees the ops the kernels really get (after ``linear`` is folded
to one ``mm`` over batch x tokens), and it is what ``FlopCounterMode`` uses, so the MACs
can be checked against torch's own counter.

Lowering (GEMM ``out[m, n] = A[m, k] @ B[k, n]``, leading batch dims -> ``count``):

* ``mm``/``addmm``/``mv``/``dot``: one GEMM; ``bmm``/``baddbmm``: ``count`` = batch.
* ``convolution`` (1-d/2-d, any groups/stride/padding/dilation): ``kind: conv`` via
  :func:`sim.workload.conv.conv_gemm` (SCALE-Sim im2col: ``M`` = output pixels x batch).
* fused ``scaled_dot_product_attention`` kernels: ``sdpa.qk`` GEMM ``(L, S, E)``,
  ``sdpa.softmax`` (``count * L * S`` elements), ``sdpa.av`` GEMM ``(L, Ev, S)``, ``count`` =
  batch x heads -- as an array executes attention.
* vector ops by cost class (:data:`VECTOR_CLASS`): elements = the largest tensor the op
  reads or writes.  Views, copies and tensor creation are free (not recorded).
* any other op torch's ``flop_counter`` gives MACs (transposed/3-d conv, ``_scaled_mm``,
  ...) is *unmodelled*: listed in the trace with its share of all MACs; :func:`capture`
  refuses when the share exceeds ``max_unmodelled`` (1 %) unless ``allow_unmodelled``.

Each op is tagged with the innermost module it ran in and a block index: blocks are the
entries of the innermost repeated containers (a ``ModuleList``/``Sequential`` of >= 2
non-leaf modules of one class: timm ``blocks``, Swin ``stages.i.blocks``, HF
``encoder.layer``), numbered in execution order.  Ops outside every block belong to the next
block to run; ops before the first block get ``-1`` (embedding), ops after the last one
``depth`` (head).
"""

from __future__ import annotations

import math
import re

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from sim.errors import TraceError
from sim.workload.conv import conv_gemm
from sim.workload.ops_trace import OPS_SCHEMA_VERSION, OpsTrace, ops_trace_from_dict

__all__ = ["capture", "find_blocks", "VECTOR_CLASS", "MAX_UNMODELLED"]

aten = torch.ops.aten
#: Default ceiling on the unmodelled share of MACs (1 %).
MAX_UNMODELLED = 0.01

_CLASSES = {
    "softmax": "_softmax _log_softmax _safe_softmax softmax",
    "layernorm": ("native_layer_norm native_group_norm native_batch_norm "
                  "_native_batch_norm_legit_no_training _native_batch_norm_legit "
                  "_fused_rms_norm rms_norm layer_norm group_norm batch_norm"),
    "gelu": ("gelu silu sigmoid tanh hardswish hardsigmoid relu relu_ hardtanh hardtanh_ "
             "mish elu leaky_relu exp erf log softplus silu_ gelu_ sigmoid_ _prelu_kernel"),
    "gather": ("cat stack index index_select gather roll constant_pad_nd slice_scatter "
               "index_put index_put_ scatter scatter_add embedding repeat reflection_pad2d "
               "replication_pad2d upsample_nearest2d upsample_bilinear2d _unsafe_index"),
    "topk": "topk sort argmax argmin max min argsort",
}
#: aten op name -> vector cost class (anything else that computes is ``add``).
VECTOR_CLASS = {name: cls for cls, names in _CLASSES.items() for name in names.split()}
_FREE = set(("clone _to_copy copy_ copy contiguous empty empty_like empty_strided zeros "
             "zeros_like ones ones_like full full_like new_empty new_zeros new_ones new_full "
             "arange lift_fresh_copy scalar_tensor _local_scalar_dense detach alias fill_ "
             "zero_ linspace eye resolve_conj resolve_neg _unsafe_view is_same_size "
             "new_empty_strided lift_fresh item randn rand normal_ uniform_ bernoulli_ "
             "dropout native_dropout").split())
_SDPA = {"_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
         "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
         "_scaled_dot_product_fused_attention_overrideable"}
_BIASED = {"addmm", "addmv", "addbmm", "baddbmm", "_addmm_activation"}  # (bias, a, b)
_GEMMS = {"mm", "bmm", "mv", "dot"} | _BIASED
_KNOWN = _GEMMS | _SDPA | {"convolution"}
#: Names of ops that may hide MACs: refused unless lowered above (never a silent zero).
_LOOKS_MAC = re.compile(r"mm|conv|matmul|einsum|attention|linear|dot|tensordot|bilinear")


def _is_view(func) -> bool:
    rets = func._schema.returns
    return bool(rets) and all(r.alias_info is not None and not r.alias_info.is_write
                              for r in rets)


def _numel(obj) -> int:
    return max((t.numel() for t in tree_leaves(obj) if isinstance(t, torch.Tensor)), default=0)


def find_blocks(model) -> dict:
    """``{id(module): path}`` of the blocks: entries of the innermost containers holding >= 2
    non-leaf modules of one class."""
    containers = {}
    for path, mod in model.named_modules():
        kids = list(mod.named_children())
        if isinstance(mod, (torch.nn.ModuleList, torch.nn.Sequential)) and len(kids) >= 2 \
                and len({type(k) for _, k in kids}) == 1 \
                and all(any(True for _ in k.children()) for _, k in kids):
            containers[path] = [(f"{path}.{n}" if path else n, k) for n, k in kids]
    inner = {p: e for p, e in containers.items()
             if not any(q != p and q.startswith(f"{p}.") for q in containers)}
    return {id(k): name for entries in inner.values() for name, k in entries}


class _Recorder(TorchDispatchMode):
    """Records op rows ``[block or None, op, kind, m, n, k, count, elements, vop, module]``."""

    def __init__(self, flop_registry, allow_unknown=False):
        super().__init__()
        self.allow_unknown = allow_unknown
        self.rows, self.unmodelled = [], {}
        self.module, self.block, self.started = [""], [None], False
        self._flops = flop_registry

    def _add(self, op, kind, m=0, n=0, k=0, count=1, elements=0, vop=""):
        block = self.block[-1] if self.started else -1
        self.rows.append([block, op, kind, int(m), int(n), int(k), int(count),
                          int(elements), vop, self.module[-1]])

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._overloadpacket.__name__
        if name not in _KNOWN and func._overloadpacket not in self._flops:
            with self:  # composite ops (linear, layer_norm, sdpa) reach us under inference
                r = func.decompose(*args, **kwargs)  # mode: lower them as torch runs them
            if r is not NotImplemented:
                return r
        out = func(*args, **kwargs)
        if name in _FREE or _is_view(func):
            return out
        if name in _GEMMS:
            self._gemm(name, args)
        elif name == "convolution" and not args[6] and args[1].dim() in (3, 4):
            self._conv(args, out)
        elif name in _SDPA:
            q, k, v = args[:3]
            count = math.prod(q.shape[:-2])
            L, E, S, Ev = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
            self._add("sdpa.qk", "gemm", L, S, E, count)
            self._add("sdpa.softmax", "vector", elements=count * L * S, vop="softmax")
            self._add("sdpa.av", "gemm", L, Ev, S, count)
        elif func._overloadpacket in self._flops:
            flops = self._flops[func._overloadpacket](*args, out_val=out, **kwargs)
            key = f"aten.{name}"
            self.unmodelled[key] = self.unmodelled.get(key, 0) + flops // 2
        elif _LOOKS_MAC.search(name) and not self.allow_unknown \
                and name not in VECTOR_CLASS and "upsample" not in name:
            raise TraceError(f"aten.{name} = an op that looks like a GEMM/conv/attention but "
                             "has no MAC formula here or in torch's flop counter; must be "
                             "lowered (allow_unmodelled=True records it as a vector op)")
        else:
            elements = max(_numel(args), _numel(out))
            if elements:
                self._add(f"aten.{name}", "vector", elements=elements,
                          vop=VECTOR_CLASS.get(name.rstrip("_"), VECTOR_CLASS.get(name, "add")))
        return out

    def _gemm(self, name, args):
        a, b = (args[1], args[2]) if name in _BIASED else args[:2]
        if name in ("mv", "addmv"):
            self._add(f"aten.{name}", "gemm", a.shape[0], 1, a.shape[1])
        elif name == "dot":
            self._add("aten.dot", "gemm", 1, 1, a.shape[0])
        elif name in ("bmm", "baddbmm"):
            self._add(f"aten.{name}", "gemm", a.shape[1], b.shape[2], a.shape[2], a.shape[0])
        elif name == "addbmm":  # sum over the batch of bmm: same MACs
            self._add("aten.addbmm", "gemm", a.shape[1], b.shape[2], a.shape[2], a.shape[0])
        else:
            self._add(f"aten.{name}", "gemm", a.shape[0], b.shape[1], a.shape[1])

    def _conv(self, args, out):
        x, w = args[0], args[1]
        stride, padding, dilation, groups = args[3], args[4], args[5], args[8]
        if x.dim() == 3:  # 1-d conv: the 2-d case with height 1
            x, w, out = x.unsqueeze(2), w.unsqueeze(2), out.unsqueeze(2)
            stride, padding, dilation = ((1, stride[0]), (0, padding[0]), (1, dilation[0]))
        batch, channels, ih, iw = x.shape
        m, n, k, count = conv_gemm(ih, iw, w.shape[2], w.shape[3], channels, w.shape[0],
                                   tuple(stride), batch, groups, tuple(padding),
                                   tuple(dilation))
        if m != out.shape[0] * out.shape[2] * out.shape[3]:
            raise TraceError(f"aten.convolution: im2col rows = {m}; must equal the output "
                             f"pixels x batch {tuple(out.shape)} (internal lowering error)")
        self._add("aten.convolution", "conv", m, n, k, count)


def _hooks(model, rec, blocks):
    names = {id(mod): path for path, mod in model.named_modules()}
    order = {}

    def pre(mod, _inp):
        if id(mod) in names:
            rec.module.append(names[id(mod)])
            if id(mod) in blocks:
                rec.block.append(order.setdefault(id(mod), len(order)))
                rec.started = True

    def post(mod, _inp, _out):
        if id(mod) in names:
            rec.module.pop()
            if id(mod) in blocks:
                rec.block.pop()

    from torch.nn.modules.module import (
        register_module_forward_hook,
        register_module_forward_pre_hook,
    )

    return order, [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]


def _run(model, example_inputs, rec, name):
    if isinstance(example_inputs, dict):
        args, kwargs = (), example_inputs
    else:
        args = example_inputs if isinstance(example_inputs, (tuple, list)) \
            else (example_inputs,)
        args, kwargs = tuple(args), {}
    try:
        with torch.no_grad(), rec:
            model(*args, **kwargs)
    except TraceError:
        raise
    except Exception as e:  # the model's own failure, as one line
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TraceError(f"model = {name!r} failed on the example input: "
                         f"{type(e).__name__}: {msg}") from e
    first = next((t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)), None)
    return int(first.shape[0]) if first is not None and first.dim() else 1


def capture(model, example_inputs, *, name: str | None = None,
            allow_unmodelled: bool = False, max_unmodelled: float = MAX_UNMODELLED,
            blocks=None) -> OpsTrace:
    """Run ``model(*example_inputs)`` once and return its v2 :class:`OpsTrace`.

    ``example_inputs`` is a tensor, a tuple of positional tensors or a dict of keyword
    tensors (HF ``pixel_values``); its first tensor's leading dimension is the ``batch``.
    Raises :class:`TraceError` when the model fails on the input (one line with torch's
    message) or when ops with MACs the simulator does not model exceed ``max_unmodelled`` of
    all MACs (the trace lists them with their share either way).  ``blocks`` (modules)
    overrides :func:`find_blocks`, e.g. ``list(model.blocks)``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    name = name or type(model).__name__
    model.eval()
    rec = _Recorder(FlopCounterMode(display=False).flop_registry, allow_unmodelled)
    if blocks is None:
        blocks = find_blocks(model)
    else:
        paths = {id(mod): path for path, mod in model.named_modules()}
        blocks = {id(mod): paths.get(id(mod), "") for mod in blocks}
    order, handles = _hooks(model, rec, blocks)
    try:
        batch = _run(model, example_inputs, rec, name)
    finally:
        for h in handles:
            h.remove()
    depth = len(order)
    nxt = depth  # ops outside every block belong to the next block to run (or the head)
    for row in reversed(rec.rows):
        if row[0] is None:
            row[0] = nxt
        else:
            nxt = row[0]
    modelled = sum(r[3] * r[4] * r[5] * r[6] for r in rec.rows if r[2] != "vector")
    total = modelled + sum(rec.unmodelled.values())
    unmodelled = [{"op": op, "macs": int(macs), "share": macs / total if total else 0.0}
                  for op, macs in sorted(rec.unmodelled.items(), key=lambda kv: -kv[1])]
    share = sum(u["share"] for u in unmodelled)
    if share > max_unmodelled and not allow_unmodelled:
        listed = ", ".join(f"{u['op']} {u['share']:.1%}" for u in unmodelled)
        raise TraceError(f"unmodelled compute = {share:.2%} of MACs ({listed}); must be <= "
                         f"{max_unmodelled:.0%} (allow_unmodelled=True or --allow-unmodelled "
                         "to export anyway)", source=name)
    keys = ("layer", "op", "kind", "m", "n", "k", "count", "elements", "vector_op", "module")
    data = {"schema_version": OPS_SCHEMA_VERSION, "name": name, "model": name, "batch": batch,
            "depth": depth, "ops": [dict(zip(keys, r)) for r in rec.rows],
            "unmodelled": unmodelled}
    return ops_trace_from_dict(data, source=name)
