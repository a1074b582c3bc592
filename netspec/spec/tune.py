"""The `tune:` section: a hyperparameter search over spec paths (`netspec tune`, docs/tuning.md).

```yaml
tune:
  objective: val_loss                 # or {metric: val_accuracy, direction: max}
  trials: 20
  timeout: 600                        # seconds, optional
  sampler: tpe                        # tpe | random | grid | cmaes
  seed: 0
  pruner: median                      # median | successive_halving | none
  space:
    train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}
    vars.width: {choice: [32, 64, 128]}
    layers[2].rate: {uniform: [0, 0.5]}
    train.batch_size: {int: [16, 64], step: 16}
```

The section model is checked with the rest of the spec; :func:`check_space` then checks every
path of the space (in the ``--set`` spelling) and every corner of it (each choice, each range's
ends) by loading the spec with that value set, before any trial runs. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from netspec.errors import Diagnostic, SpecError, YPath, did_you_mean, format_path
from netspec.spec.sections import MAXIMIZED, Strict, TrainSpec

if TYPE_CHECKING:
    from netspec.spec.load import Spec
    from netspec.spec.source import Document

Number = float | int


class LogUniform(Strict):
    """A float drawn between the bounds on a log scale (both > 0)."""

    log_uniform: tuple[Number, Number]

    @model_validator(mode="after")
    def _bounds(self) -> LogUniform:
        low, high = self.log_uniform
        if not 0 < low < high:
            raise ValueError(f"log_uniform needs 0 < low < high, got [{low}, {high}]")
        return self


class Uniform(Strict):
    """A float drawn between the bounds."""

    uniform: tuple[Number, Number]

    @model_validator(mode="after")
    def _bounds(self) -> Uniform:
        low, high = self.uniform
        if not low < high:
            raise ValueError(f"uniform needs low < high, got [{low}, {high}]")
        return self


class IntRange(Strict):
    """An int from low to high (both included), in steps of `step`."""

    int_: tuple[int, int] = Field(alias="int")
    step: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> IntRange:
        low, high = self.int_
        if not low < high:
            raise ValueError(f"int needs low < high, got [{low}, {high}]")
        if (high - low) % self.step:
            raise ValueError(f"int [{low}, {high}] is not a whole number of steps of {self.step}")
        return self


class Choice(Strict):
    """One of the values listed (any YAML values: numbers, names, lists)."""

    choice: tuple[Any, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> Choice:
        seen = [repr(v) for v in self.choice]
        if len(set(seen)) != len(seen):
            raise ValueError("choice lists a value twice")
        return self


Range = LogUniform | Uniform | IntRange | Choice


class Objective(Strict):
    """What the search optimises: a value of metrics.csv, best epoch of each trial."""

    metric: str = "val_loss"
    direction: Literal["min", "max", "auto"] = "auto"

    @property
    def minimize(self) -> bool:
        if self.direction != "auto":
            return self.direction == "min"
        name = self.metric.removeprefix("val_").removeprefix("train_")
        return name not in MAXIMIZED


def _objective(value: Any) -> Any:
    return {"metric": value} if isinstance(value, str) else value


def _range(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError(
            "a search range is {log_uniform: [a, b]}, {uniform: [a, b]}, {int: [a, b]} "
            "or {choice: [...]}"
        )
    return value


class TuneSpec(Strict):
    """`tune:`: the objective, the budget, the sampler and pruner, and the search space."""

    objective: Annotated[
        Objective, BeforeValidator(_objective, json_schema_input_type=str | Objective)
    ] = Objective()
    trials: int | None = Field(None, ge=1)
    timeout: float | None = Field(None, gt=0)  # seconds for the whole study
    sampler: Literal["tpe", "random", "grid", "cmaes"] = "tpe"
    seed: int | None = None
    pruner: Literal["median", "successive_halving", "none"] = "median"
    space: dict[str, Annotated[Range, BeforeValidator(_range)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _budget(self) -> TuneSpec:
        if self.sampler == "grid":
            floats = [p for p, r in self.space.items() if isinstance(r, LogUniform | Uniform)]
            if floats:
                raise ValueError(
                    f"sampler grid needs countable values: {floats[0]} is a float range "
                    "(use choice or int)"
                )
        return self


def ends(rng: Range) -> list[Any]:
    """The corners of a range: each choice, or the two ends."""
    if isinstance(rng, Choice):
        return list(rng.choice)
    if isinstance(rng, LogUniform):
        return list(rng.log_uniform)
    if isinstance(rng, Uniform):
        return list(rng.uniform)
    return list(rng.int_)


def grid_values(rng: Range) -> list[Any]:
    """Every value of a countable range (sampler grid)."""
    if isinstance(rng, Choice):
        return list(rng.choice)
    if isinstance(rng, IntRange):
        low, high = rng.int_
        return list(range(low, high + 1, rng.step))
    raise ValueError("not a countable range")


def assignment(path: str, value: Any) -> str:
    """``path=value`` in the ``--set`` spelling (the value as flow YAML)."""
    import yaml

    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
    else:
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        text = text.removesuffix("\n...").strip()
    return f"{path}={text}"


def check_space(
    doc: Document, default_name: str, tune: TuneSpec, check: Callable[[Spec], object]
) -> None:
    """Every path of the space exists in the spec and every corner gives a valid spec (one
    that ``check``, e.g. netspec.plan's ``plan``, accepts too); raises a SpecError listing
    each problem at its space entry."""
    from netspec.spec.load import apply_to, validate_document

    diags: list[Diagnostic] = []
    written_vars = doc.data.get("vars")
    for path, rng in tune.space.items():
        where: YPath = ("tune", "space", path)
        problem = None
        if path.startswith("vars.") and (
            not isinstance(written_vars, dict) or path.removeprefix("vars.") not in written_vars
        ):
            names = [str(k) for k in written_vars] if isinstance(written_vars, dict) else []
            guess = did_you_mean(path.removeprefix("vars."), names)
            hint = f"; did you mean vars.{guess}?" if guess else ""
            problem = f"the spec has no var {path.removeprefix('vars.')!r}{hint}"
        for value in [] if problem else ends(rng):
            try:
                check(validate_document(apply_to(doc, [assignment(path, value)]), default_name))
            except SpecError as exc:
                first = exc.diagnostics[0]
                message = first.message.removeprefix(f"--set {assignment(path, value)}: ")
                at = f" ({format_path(first.path)})" if first.path else ""
                problem = f"the value {value!r} makes the spec invalid{at}: {message}"
                break
        if problem:
            diags.append(doc.source.attach(Diagnostic("invalid-value", problem, path=where)))
    if diags:
        raise SpecError(diags)


def check_tune_of(
    source: Any, check: Callable[[Spec], object], overrides: Sequence[str] = ()
) -> None:
    """The check of a spec's `tune:` space (:func:`check_space`) and objective."""
    from netspec.spec.load import apply_to, read_document, validate_document

    doc, default_name = read_document(source)
    doc = apply_to(doc, overrides)
    spec = validate_document(doc, default_name)
    if spec.tune is not None:
        check_space(doc, default_name, spec.tune, check)
        problems = objective_problems(spec.tune, spec.train)
        if problems:
            where = ("tune", "objective")
            raise SpecError(
                [doc.source.attach(Diagnostic("invalid-value", p, path=where)) for p in problems]
            )


def objective_problems(tune: TuneSpec, train: TrainSpec | None) -> list[str]:
    """An objective that is not a validation value of this run."""
    metric = tune.objective.metric
    if metric in ("val_loss", "train_loss"):
        return []
    names = set(train.metrics) if train is not None else set()
    name = metric.removeprefix("val_").removeprefix("train_")
    if name not in names:
        return [f"tune.objective {metric!r} is not among train.metrics ({sorted(names)})"]
    return []


__all__: Sequence[str] = (
    "Choice",
    "IntRange",
    "LogUniform",
    "Objective",
    "TuneSpec",
    "Uniform",
    "check_space",
)
