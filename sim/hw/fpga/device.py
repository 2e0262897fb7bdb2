"""FPGA boards vitsim can target, and their device resources."""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import ConfigError

__all__ = ["FpgaDevice", "DEVICES", "get_device", "RESOURCES"]

#: Resource keys, in report order, with display names.
RESOURCES = {"dsp": "DSP48E2", "bram36": "BRAM36", "lut": "LUT", "ff": "FF"}


@dataclass(frozen=True)
class FpgaDevice:
    """One board: its programmable-logic part and the resources available to a design.

    Attributes
    ----------
    board, part : str
        Board name and device part string.
    dsp, bram36, lut, ff, uram : int
        DSP48E2 slices, 36 Kb block RAMs, CLB LUTs, CLB flip-flops, UltraRAMs.
    """

    board: str
    part: str
    dsp: int
    bram36: int
    lut: int
    ff: int
    uram: int = 0

    def available(self, resource: str) -> int:
        """Count of ``resource`` (a key of :data:`RESOURCES`) on the device."""
        return getattr(self, resource)


#: XCZU9EG counts: Xilinx CHaiDNN README and stanford-ppl/spatial ZCU.scala (2520 DSP,
#: 912 BRAM36, 274,080 LUT, 548,160 FF); no UltraRAM.  See docs/references.md#zcu102-resources.
DEVICES: dict[str, FpgaDevice] = {
    "zcu102": FpgaDevice("ZCU102", "xczu9eg-ffvb1156-2-e", dsp=2520, bram36=912,
                         lut=274_080, ff=548_160, uram=0),
}


def get_device(platform: str) -> FpgaDevice:
    """The device of an FPGA platform name; unknown names raise :class:`ConfigError`."""
    try:
        return DEVICES[platform]
    except KeyError:
        raise ConfigError(f"platform must be one of {sorted(DEVICES)} for an FPGA "
                          f"mapping, not {platform!r}") from None
