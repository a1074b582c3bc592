"""What a checkpoint's plain data may hold: one predicate per kind of value.

A checkpoint is read with ``torch.load(weights_only=True)``, which allows tensors, numbers,
strings and containers of them; the schemas of the one-network ``TrainState``
(``checkpoint``) and of a GAN's state (``gan_state``) name, for each field, one of these
checks, so a damaged or foreign file is refused field by field with what was expected.
"""

from __future__ import annotations

from collections.abc import Callable


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_bool(value: object) -> bool:
    return isinstance(value, bool)


def is_str(value: object) -> bool:
    return isinstance(value, str)


def is_tensor(value: object) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def is_mapping(value: object) -> bool:
    """An optimizer's or a schedule's state_dict: keys are names or parameter indexes."""
    return isinstance(value, dict) and all(isinstance(k, (str, int)) for k in value)


def is_tensors(value: object) -> bool:
    """A module's state_dict."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and is_tensor(v) for k, v in value.items()
    )


def is_rows(value: object) -> bool:
    """metrics.csv's rows: names to numbers."""
    return isinstance(value, list) and all(
        isinstance(row, dict) and all(isinstance(k, str) and is_number(v) for k, v in row.items())
        for row in value
    )


def or_none(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)
