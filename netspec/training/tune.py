"""`netspec tune`: a hyperparameter search on Optuna over a spec's `tune:` section.

Each trial is an ordinary run (``netspec.train`` of the spec with the trial's values set the
``--set`` way) in ``<study dir>/trial-0007``; its value is the objective's best over the
epochs. A reporter hands the objective to Optuna after each epoch and stops the run the way
Ctrl-C does when the pruner says so (the trial is marked pruned). A trial whose spec is
invalid or whose training diverges is recorded as failed, with the reason in its user attr
``reason``; the study goes on. The study lives in ``sqlite:///<study dir>/study.db`` unless
``storage`` names another database, so ``resume`` (or a second process on the same storage)
continues it. At the end the study directory gets best_spec.yaml, trials.csv and plots.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import SpecError
from netspec.spec.tune import Choice, IntRange, LogUniform, TuneSpec, assignment, grid_values

if TYPE_CHECKING:
    from netspec.spec.load import Spec
    from netspec.training.outcome import RunResult, StartInfo

STUDY_DB = "study.db"
BEST_SPEC = "best_spec.yaml"
TRIALS_CSV = "trials.csv"
PLOTS = {
    "history.png": "plot_optimization_history",
    "importances.png": "plot_param_importances",
    "parallel.png": "plot_parallel_coordinate",
}


@dataclass
class TrialRow:
    """One finished trial, as the live table and trials.csv show it."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING
    value: float | None
    params: dict[str, Any]
    epochs: int | None
    reason: str = ""


@dataclass
class StudyResult:
    """A finished (or stopped) study: its directory, every trial, and the best one."""

    study_dir: Path
    study_name: str
    storage: str
    trials: list[TrialRow]
    best: TrialRow | None
    notes: list[str] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(row.state == state for row in self.trials)


class _TrialFailed(Exception):
    """A trial that failed for a reason of its own (recorded; the study goes on)."""


class PruningReporter:
    """Hands the objective to Optuna each epoch; stops the run (as Ctrl-C would) when the
    pruner says so."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self.pruned = False
        self.epochs = 0

    def on_start(self, info: StartInfo) -> None:
        pass

    def on_batch(self, step: int, loss: float) -> None:
        pass

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        self.epochs = epoch
        value = row.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.pruned = True
            raise KeyboardInterrupt

    def on_end(self, result: RunResult) -> None:
        pass


def optuna_module() -> Any:
    """optuna, or a SpecError naming the extra to install."""
    try:
        import optuna
    except ImportError:
        raise SpecError.single(
            "missing-extra",
            "netspec tune runs on Optuna, which is not installed: pip install 'netspec[tune]'",
        ) from None
    return optuna


def load_tune_spec(source: str | os.PathLike[str]) -> tuple[Spec, TuneSpec]:
    """The spec and its checked `tune:` section (every path and every corner of the space;
    SpecError before any trial)."""
    from netspec.plan import plan
    from netspec.spec.load import load_spec, read_document
    from netspec.spec.networks import has_networks
    from netspec.spec.tune import check_tune_of

    doc, _ = read_document(source)
    if has_networks(doc):
        raise SpecError.single(
            "unsupported", "netspec tune searches specs of one network (not `networks:`) yet"
        )
    spec = load_spec(source)
    if spec.tune is None:
        raise SpecError.single(
            "invalid-value",
            f"{source} has no `tune:` section: netspec tune needs one (docs/tuning.md)",
            hints=(
                "e.g. tune: {trials: 20, space: {train.optimizer.lr: {log_uniform: "
                "[1.0e-4, 1.0e-2]}}}",
            ),
        )
    check_tune_of(source, plan)
    return spec, spec.tune


def _sampler(optuna: Any, tune: TuneSpec) -> Any:
    samplers = optuna.samplers
    if tune.sampler == "random":
        return samplers.RandomSampler(seed=tune.seed)
    if tune.sampler == "grid":
        space = {path: grid_values(rng) for path, rng in tune.space.items()}
        return samplers.GridSampler(
            {p: list(range(len(v))) for p, v in space.items()}, seed=tune.seed
        )
    if tune.sampler == "cmaes":
        import importlib.util

        if importlib.util.find_spec("cmaes") is None:  # Optuna imports it only in a trial
            raise SpecError.single(
                "missing-extra",
                "sampler cmaes needs the cmaes package, which is not installed: "
                "pip install 'netspec[tune]'",
            )
        return samplers.CmaEsSampler(seed=tune.seed)
    return samplers.TPESampler(seed=tune.seed)


def _pruner(optuna: Any, tune: TuneSpec) -> Any:
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
    if tune.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def _suggest(trial: Any, path: str, rng: Any, grid: bool) -> Any:
    if isinstance(rng, LogUniform):
        return trial.suggest_float(path, *map(float, rng.log_uniform), log=True)
    if isinstance(rng, IntRange):
        if grid:
            return grid_values(rng)[trial.suggest_int(path, 0, len(grid_values(rng)) - 1)]
        return trial.suggest_int(path, *rng.int_, step=rng.step)
    if isinstance(rng, Choice):
        # Optuna stores only plain choices; others (lists, mappings) by their index
        plain = all(v is None or isinstance(v, bool | int | float | str) for v in rng.choice)
        if plain and not grid:
            return trial.suggest_categorical(path, list(rng.choice))
        return rng.choice[trial.suggest_categorical(path, list(range(len(rng.choice))))]
    return trial.suggest_float(path, *map(float, rng.uniform))


def _value_of(params: Mapping[str, Any], tune: TuneSpec, grid: bool) -> dict[str, Any]:
    """A trial's stored params as the spec's values (undoing the index encoding)."""
    out: dict[str, Any] = {}
    for path, rng in tune.space.items():
        if path not in params:
            continue
        value = params[path]
        if isinstance(rng, Choice):
            plain = all(v is None or isinstance(v, bool | int | float | str) for v in rng.choice)
            if grid or not plain:
                value = rng.choice[value]
        elif isinstance(rng, IntRange) and grid:
            value = grid_values(rng)[value]
        out[path] = value
    return out


def tune(
    source: str | os.PathLike[str],
    *,
    trials: int | None = None,
    timeout: float | None = None,
    out: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    resume: bool = False,
    device: str | None = None,
    on_trial: Callable[[TrialRow], None] | None = None,
) -> StudyResult:
    """Run (or continue) the search of the spec's `tune:` section; see the module doc.

    ``trials``/``timeout`` override the section's. Without ``resume`` a study directory that
    already holds a study (default storage) is refused. ``on_trial`` is called as each trial
    ends. Raises SpecError for a mistake found before the first trial, KeyboardInterrupt
    (after recording what finished) on Ctrl-C."""
    spec, section = load_tune_spec(source)
    optuna = optuna_module()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the trials are ours to show
    sampler = _sampler(optuna, section)
    study_dir = Path(out) if out is not None else Path("runs") / f"{spec.name}-tune"
    study_dir.mkdir(parents=True, exist_ok=True)
    db = study_dir / STUDY_DB
    if storage is None:
        if db.exists() and not resume:
            raise SpecError.single(
                "invalid-value",
                f"{study_dir} already holds a study: continue it with --resume, or pick "
                "another --out",
            )
        storage = f"sqlite:///{db}"
    name = study_name or spec.name
    minimize = section.objective.minimize
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        pruner=_pruner(optuna, section),
        direction="minimize" if minimize else "maximize",
        load_if_exists=True,
    )
    existing = len(study.get_trials(deepcopy=False))
    if existing and section.seed is not None and section.sampler != "grid":
        # a continued study draws anew, not the first trials' values again
        study.sampler = _sampler(
            optuna, section.model_copy(update={"seed": section.seed + existing})
        )
    grid = section.sampler == "grid"
    metric = section.objective.metric

    def objective(trial: Any) -> float:
        from netspec.training import train
        from netspec.training.outcome import TrainingDiverged, TrainingInterrupted
        from netspec.training.signals import Received

        values = {p: _suggest(trial, p, rng, grid) for p, rng in section.space.items()}
        run_dir = study_dir / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        reporter = PruningReporter(trial, metric)
        signals_before = Received.count
        try:
            result = train(
                _with_values(source, values),
                out=run_dir,
                device=device,
                reporter=reporter,
            )
        except TrainingInterrupted:
            if reporter.pruned:
                trial.set_user_attr("epochs", reporter.epochs)
                raise optuna.TrialPruned(f"pruned after epoch {reporter.epochs}") from None
            raise KeyboardInterrupt from None
        except (SpecError, TrainingDiverged) as exc:
            reason = exc.message if isinstance(exc, TrainingDiverged) else exc.render(limit=1)
            trial.set_user_attr("reason", reason.splitlines()[0])
            raise _TrialFailed(reason) from None
        trial.set_user_attr("epochs", result.epochs_run)
        if Received.count != signals_before:  # Ctrl-C after the last batch: the trial is done
            stop.append(trial.number)
        seen = [row[metric] for row in result.history if metric in row]
        seen = [v for v in seen if math.isfinite(v)]
        if not seen:
            reason = f"no finite {metric} in metrics.csv"
            trial.set_user_attr("reason", reason)
            raise _TrialFailed(reason)
        return float(min(seen) if minimize else max(seen))

    stop: list[int] = []

    def callback(study: Any, frozen: Any) -> None:
        if on_trial is not None:
            on_trial(_row(frozen, section, grid))
        if frozen.number in stop:
            raise KeyboardInterrupt

    n_trials = trials if trials is not None else section.trials
    limit = timeout if timeout is not None else section.timeout
    if n_trials is None and limit is None:
        n_trials = 20
    if n_trials is not None and (resume or storage != f"sqlite:///{db}"):
        # the study's total: a resumed (or shared) study runs only what is left
        from optuna.study import MaxTrialsCallback
        from optuna.trial import TrialState

        done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        enough = MaxTrialsCallback(n_trials, states=(*done, TrialState.RUNNING))
        finished = sum(t.state in done for t in study.get_trials(deepcopy=False))
        left = max(n_trials - finished, 0)
        if left:
            study.optimize(
                objective,
                n_trials=left,
                timeout=limit,
                catch=(_TrialFailed,),
                callbacks=[callback, enough],
            )
    else:
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=limit,
            catch=(_TrialFailed,),
            callbacks=[callback],
        )
    return finish(study, study_dir, source, section, storage)


def _with_values(source: str | os.PathLike[str], values: Mapping[str, Any]) -> Spec:
    from netspec.spec.load import load_spec

    return load_spec(source, [assignment(p, v) for p, v in values.items()])


def _row(frozen: Any, section: TuneSpec, grid: bool) -> TrialRow:
    attrs = frozen.user_attrs
    epochs = attrs.get("epochs")
    return TrialRow(
        number=frozen.number,
        state=frozen.state.name,
        value=frozen.value,
        params=_value_of(frozen.params, section, grid),
        epochs=int(epochs) if epochs is not None else None,
        reason=str(attrs.get("reason", "")),
    )


def finish(
    study: Any, study_dir: Path, source: str | os.PathLike[str], section: TuneSpec, storage: str
) -> StudyResult:
    """best_spec.yaml, trials.csv and the plots of a study; its rows and best trial."""
    from netspec.backend.artifacts import write_atomic
    from netspec.backend.resolve import resolved_yaml

    grid = section.sampler == "grid"
    rows = [_row(t, section, grid) for t in study.get_trials(deepcopy=False)]
    complete = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    best = None
    if complete:
        best = next(r for r in rows if r.number == study.best_trial.number)
        header = (
            f"# netspec tune: best trial {best.number} ({section.objective.metric} = "
            f"{best.value:.6g}) of study {study.study_name}\n"
        )
        write_atomic(
            study_dir / BEST_SPEC, header + resolved_yaml(_with_values(source, best.params))
        )
    _write_csv(study_dir / TRIALS_CSV, rows, list(section.space))
    notes = _plots(study, study_dir)
    return StudyResult(study_dir, study.study_name, storage, rows, best, notes)


def _write_csv(path: Path, rows: list[TrialRow], params: list[str]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["number", "state", "value", "epochs", *params, "reason"])
        for r in rows:
            writer.writerow(
                [
                    r.number,
                    r.state,
                    "" if r.value is None else r.value,
                    "" if r.epochs is None else r.epochs,
                    *(r.params.get(p, "") for p in params),
                    r.reason,
                ]
            )


def _plots(study: Any, study_dir: Path) -> list[str]:
    """Optuna's matplotlib pictures; one Optuna cannot draw is skipped with a note."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as views

    notes = []
    for name, function in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = getattr(views, function)(study)
            figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
            figure.savefig(study_dir / name, dpi=100, bbox_inches="tight")
            plt.close(figure)
        except Exception as exc:  # a plot is never worth failing the study
            notes.append(
                f"{name} not drawn: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            )
            plt.close("all")
    return notes
