"""Combining OPTIN's raw MD and KD terms into one importance (magnitude balancing).

See :mod:`sim.torch.importance` for the three modes (``balance="unit"``, ``"global"``,
False).  numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["unit_scales", "combine"]


def unit_scales(md, kd, lam: float) -> np.ndarray:
    """Per-unit KD factors of the released code (see the module docstring), row-major."""
    md, kd = np.asarray(md, float), np.asarray(kd, float)
    out = np.ones(md.shape)
    history: list = []
    flat_md, flat_kd, flat_out = md.ravel(), kd.ravel(), out.reshape(-1)
    for k in range(flat_md.size):
        m, d = flat_md[k], flat_kd[k]
        if m > d and d > 0 and lam > 0:
            s = 10.0 ** int(np.log10(m) - np.log10(d) - np.log10(lam))
            history.append(s)
        else:
            s = float(np.mean(history)) if history else 1.0
        flat_out[k] = s
    return out


def combine(md_h, kd_h, md_n, kd_n, opts):
    """Combined scores ``(heads, neurons, kd_scale)`` from the raw terms."""
    if opts.balance == "unit":
        sh, sn = unit_scales(md_h, kd_h, opts.lam), unit_scales(md_n, kd_n, opts.lam)
        mean = float(np.concatenate([sh.ravel(), sn.ravel()]).mean())
        return md_h + sh * kd_h, md_n + sn * kd_n, mean
    if opts.balance:
        md_sum = float(md_h.sum() + md_n.sum())
        kd_sum = float(kd_h.sum() + kd_n.sum())
        if md_sum > 0 and kd_sum > 0 and opts.lam > 0:
            scale = 10.0 ** int(np.log10(md_sum / (opts.lam * kd_sum)))
        else:
            scale = 1.0
    else:
        scale = opts.lam
    return md_h + scale * kd_h, md_n + scale * kd_n, scale
