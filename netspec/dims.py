"""Dimensions that are either a known int or a symbol such as ``T``.

A symbolic dimension is a polynomial with integer coefficients over named atoms, so
``T``, ``2*T + 1`` and ``T*T`` (attention's QK product) stay exact. An operation that leaves
the polynomials (floor division that does not divide evenly) produces a new atom named after
the expression, e.g. ``(T-1)//2``: still exact, just opaque.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

Monomial = tuple[str, ...]  # sorted atom names, repeated for powers; () is the constant term


@dataclass(frozen=True)
class Sym:
    """A symbolic dimension: ``sum(coeff * prod(atoms))`` over its terms."""

    terms: tuple[tuple[Monomial, int], ...]

    @staticmethod
    def atom(name: str) -> Sym:
        return Sym(((((name,)), 1),))

    def __str__(self) -> str:
        return _format(self.terms)

    def atoms(self) -> set[str]:
        return {a for mono, _ in self.terms for a in mono}


Dim = int | Sym
Shape = tuple[Dim, ...]


# Opaque atoms (``(T+1)//2``, a ceil-mode pool) by name, with how to compute them once the
# plain symbols have values, so substitute() can evaluate them.
_OPAQUE: dict[str, Callable[[Mapping[str, int]], Dim]] = {}


def opaque(name: str, evaluate: Callable[[Mapping[str, int]], Dim]) -> Sym:
    """A new atom standing for a value no polynomial expresses, computed by ``evaluate``."""
    _OPAQUE[name] = evaluate
    return Sym.atom(name)


def _normalize(terms: Mapping[Monomial, int]) -> Dim:
    kept = tuple(sorted(((m, c) for m, c in terms.items() if c != 0), key=_term_order))
    if not kept:
        return 0
    if len(kept) == 1 and kept[0][0] == ():
        return kept[0][1]
    return Sym(kept)


def _term_order(term: tuple[Monomial, int]) -> tuple[int, Monomial]:
    return (-len(term[0]), term[0])


def _terms(d: Dim) -> dict[Monomial, int]:
    if isinstance(d, int):
        return {(): d}
    return dict(d.terms)


def _group(text: str) -> str:
    """Parenthesize an expression unless it is one name or number (so it reads unambiguously)."""
    return text if text.isidentifier() or text.isdigit() else f"({text})"


def _format(terms: Iterable[tuple[Monomial, int]]) -> str:
    out = ""
    terms = list(terms)
    for mono, coeff in terms:
        # `(T+1)//2` needs parentheses only as a factor: 36*((T+1)//2), not (T+1)//2-1.
        alone = len(mono) == 1 and abs(coeff) == 1
        body = mono[0] if alone else "*".join(_group(atom) for atom in mono)
        if not mono:
            piece = str(abs(coeff))
        elif abs(coeff) == 1:
            piece = body
        else:
            piece = f"{abs(coeff)}*{body}"
        if not out:
            out = piece if coeff > 0 else "-" + piece
        else:
            out += ("+" if coeff > 0 else "-") + piece
    return out


def add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    terms = _terms(a)
    for mono, coeff in _terms(b).items():
        terms[mono] = terms.get(mono, 0) + coeff
    return _normalize(terms)


def sub(a: Dim, b: Dim) -> Dim:
    return add(a, mul(b, -1))


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    terms: dict[Monomial, int] = {}
    for ma, ca in _terms(a).items():
        for mb, cb in _terms(b).items():
            mono = tuple(sorted(ma + mb))
            terms[mono] = terms.get(mono, 0) + ca * cb
    return _normalize(terms)


def prod(dims: Iterable[Dim]) -> Dim:
    total: Dim = 1
    for d in dims:
        total = mul(total, d)
    return total


def total(dims: Iterable[Dim]) -> Dim:
    acc: Dim = 0
    for d in dims:
        acc = add(acc, d)
    return acc


def floordiv(a: Dim, b: int) -> Dim:
    """``a // b`` in a canonical form, so equal sizes compare equal however they were reached.

    Terms whose coefficient ``b`` divides come out exactly, and the constant is reduced into
    ``[0, b)``: ``(T-1)//2 + 1``, ``(T+1)//2`` and ``ceil(T/2)`` are all ``(T+1)//2``.
    """
    if isinstance(a, int):
        return a // b
    if b == 1:
        return a
    whole: dict[Monomial, int] = {}
    rest: dict[Monomial, int] = {}
    for mono, coeff in a.terms:
        if mono == ():
            whole[()] = coeff // b
            rest[()] = coeff % b
        elif coeff % b == 0:
            whole[mono] = coeff // b
        else:
            rest[mono] = coeff
    remainder = _normalize(rest)
    if isinstance(remainder, int):  # 0 <= constant < b: nothing left over
        return _normalize(whole)
    name = f"{_group(str(remainder))}//{b}"
    quotient = opaque(name, lambda values: floordiv(substitute(remainder, values), b))
    return add(_normalize(whole), quotient)


def ceildiv(a: Dim, b: int) -> Dim:
    """``ceil(a / b)``, written as ``(a + b - 1) // b`` so it shares floordiv's canonical form."""
    return floordiv(add(a, b - 1), b)


def substitute(d: Dim, values: Mapping[str, int]) -> Dim:
    """Replace atoms by ints where the atom is a plain symbol listed in ``values``."""
    if isinstance(d, int):
        return d
    acc: Dim = 0
    for mono, coeff in d.terms:
        term: Dim = coeff
        for atom in mono:
            if atom in values:
                factor: Dim = values[atom]
            elif atom in _OPAQUE:
                factor = _OPAQUE[atom](values)
            else:
                factor = Sym.atom(atom)
            term = mul(term, factor)
        acc = add(acc, term)
    return acc


def to_json(d: Dim) -> int | str:
    return d if isinstance(d, int) else str(d)


def format_shape(shape: Shape, batch: str = "N") -> str:
    """``(N, 32, 14, 14)``: the batch dimension first, symbols by name."""
    return "(" + ", ".join([batch, *(str(d) for d in shape)]) + ")"
