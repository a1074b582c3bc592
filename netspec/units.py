"""Human-readable numbers: byte sizes (binary units) and counts (decimal units)."""

from __future__ import annotations

from netspec.dims import Dim


def format_bytes(value: Dim) -> str:
    """``1536`` -> ``1.50 KiB``; a symbolic size is shown as its expression."""
    if not isinstance(value, int):
        return f"{value} bytes"
    if value < 1024:
        return f"{value:,} B"
    for power, unit in enumerate(("KiB", "MiB", "GiB", "TiB"), 1):
        if value < 1024 ** (power + 1) or unit == "TiB":
            break
    # Integer arithmetic, rounded half to even like `:.2f`: a float overflows past 1e308 B.
    hundredths, rest = divmod(value * 100, 1024**power)
    if 2 * rest > 1024**power or (2 * rest == 1024**power and hundredths % 2):
        hundredths += 1
    return f"{hundredths // 100:,}.{hundredths % 100:02d} {unit}"


def format_count(value: Dim, human: bool = False) -> str:
    """``24192`` -> ``24,192`` or, with ``human``, ``24,192 (24.19 K)``."""
    if not isinstance(value, int):
        return str(value)
    text = f"{value:,}"
    if human and value >= 10**15:
        digits = str(value)
        return f"{text} ({digits[0]}.{digits[1:3]}e{len(digits) - 1})"
    if human and value >= 1000:
        for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
            if value >= size:
                return f"{text} ({value / size:.2f} {unit})"
    return text
