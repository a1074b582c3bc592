"""Human-readable numbers: byte sizes (binary units) and counts (decimal units)."""

from __future__ import annotations

from netspec.dims import Dim


def format_bytes(value: Dim) -> str:
    """``1536`` -> ``1.50 KiB``; a symbolic size is shown as its expression."""
    if not isinstance(value, int):
        return f"{value} bytes"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{value:,} B" if unit == "B" else f"{size:,.2f} {unit}"
        size /= 1024
    return f"{value:,} B"


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
