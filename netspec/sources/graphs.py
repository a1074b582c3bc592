"""Graph data as plain numpy arrays: the data half of graph support (issue 12).

A :class:`GraphData` holds one graph, or many small graphs batched into one, the way graph
libraries (PyG) lay them out: node features ``x`` (num_nodes, F), ``edge_index`` (2, E) with
both directions of an undirected edge, labels ``y`` per node or per graph, ``batch`` (the
graph id of each node) and optional boolean node masks for the splits.

The sources live in their own registry, :data:`GRAPH_SOURCES`, not in the registry of
``data: source:`` (netspec/sources/registry.py): the tabular pipeline (``load_data``,
``netspec validate``'s data checks, the JSON Schema's per-source options) reads every source
there as a table of samples, which a graph is not. ``data: source:`` names them in a spec whose
input is ``graph: true`` (netspec/spec/data_check.py checks the pairing), and
netspec/training/graph_session.py trains node classification on them.

Torch-free; numpy (and networkx, for ``karate_club``) are imported when a loader runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from netspec.dims import Shape
from netspec.errors import Diagnostic, SpecError, YPath, did_you_mean
from netspec.sources.common import COMMON_DOCS, balanced, noise_field, seed_field
from netspec.sources.files import _load_array, _member, resolve_path
from netspec.sources.registry import Context, DataProblem, SourceOptions, no_check

if TYPE_CHECKING:
    from numpy.typing import NDArray

Level = Literal["node", "graph"]
"""What the labels belong to: each node (node classification) or each graph."""

MASKS = ("train_mask", "val_mask", "test_mask")


@dataclass(frozen=True, eq=False)
class GraphData:
    """One graph (``batch`` all zeros) or several batched into one (node ids run on across
    graphs; ``batch`` gives each node's graph, sorted, 0..num_graphs-1).

    ``y`` holds one class index per node (``level`` "node") or per graph ("graph"). The masks,
    when given, are boolean per node and never overlap; :func:`split_nodes` makes them.
    """

    x: NDArray[Any]  # float32 (num_nodes, F)
    edge_index: NDArray[Any]  # int64 (2, E), both directions for undirected graphs
    y: NDArray[Any]  # int64 (num_nodes,) or (num_graphs,)
    batch: NDArray[Any]  # int64 (num_nodes,)
    num_classes: int
    level: Level = "node"
    train_mask: NDArray[Any] | None = None
    val_mask: NDArray[Any] | None = None
    test_mask: NDArray[Any] | None = None
    class_names: list[str] | None = None
    origin: str | None = None  # the source or file, for messages

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        """Directed edges: an undirected edge counts twice."""
        return int(self.edge_index.shape[1])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_graphs(self) -> int:
        return int(self.batch.max()) + 1 if len(self.batch) else 0

    def masks(self) -> dict[str, NDArray[Any]]:
        """The masks that are given, by name."""
        found = {name: getattr(self, name) for name in MASKS}
        return {name: mask for name, mask in found.items() if mask is not None}

    def describe(self) -> str:
        graphs = self.num_graphs
        parts = [
            f"{graphs:,} graph{'s' if graphs != 1 else ''}",
            f"{self.num_nodes:,} nodes",
            f"{self.num_edges:,} directed edges",
            f"{self.num_features} features",
            f"{self.num_classes} classes",
            f"{self.level}-level labels",
        ]
        masks = self.masks()
        if masks:
            parts.append(
                "split "
                + " / ".join(f"{n.removesuffix('_mask')} {int(m.sum())}" for n, m in masks.items())
            )
        return (f"{self.origin}: " if self.origin else "") + ", ".join(parts)


def _problem(name: str, message: str, key: YPath, **kw: Any) -> DataProblem:
    return DataProblem(f"{name}: {message}", key=key, **kw)


def check_graph(g: GraphData, name: str, key: YPath = ("source",)) -> GraphData:
    """``g`` when its arrays fit together; else a :class:`DataProblem` that names ``name``
    (the file or source) and the array, located at ``data.<key>``.

    Checks: ``x`` 2-D, numeric and finite; ``edge_index`` integer of shape (2, E) with every
    index in [0, num_nodes); ``batch`` one integer per node, sorted, graph ids 0..G-1 without
    gaps; ``y`` integer class indices in [0, num_classes), one per node or per graph as
    ``level`` says; masks boolean, one per node, not overlapping.
    """
    import numpy as np

    def bad(message: str, **kw: Any) -> DataProblem:
        return _problem(name, message, key, **kw)

    x, ei, y, batch = g.x, g.edge_index, g.y, g.batch
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype.kind not in "biuf":
        raise bad(
            f"x must be a numeric 2-D array (num_nodes, features), got {_shown(x)}",
            hints=("a graph without node features can use a column of ones",),
        )
    n = x.shape[0]
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        node, col = (int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise bad(f"x[{node}, {col}] is {x[node, col]}; node features must be finite")
    if not isinstance(ei, np.ndarray) or ei.ndim != 2 or ei.shape[0] != 2:
        hints: tuple[str, ...] = ()
        if isinstance(ei, np.ndarray) and ei.ndim == 2 and ei.shape[1] == 2:
            hints = ("an edge list of shape (E, 2) is edge_index transposed: save edges.T",)
        raise bad(
            f"edge_index must have shape (2, E), one column per directed edge, got {_shown(ei)}",
            hints=hints,
        )
    if ei.dtype.kind not in "iu":
        raise bad(
            f"edge_index must hold integer node indices, got dtype {ei.dtype}",
            hints=("save it with .astype('int64')",),
        )
    if ei.size:
        if ei.min() < 0:
            row, col = (int(i) for i in np.argwhere(ei < 0)[0])
            raise bad(f"edge_index[{row}, {col}] is {int(ei[row, col])}; node indices are >= 0")
        if ei.max() >= n:
            row, col = (int(i) for i in np.argwhere(ei >= n)[0])
            raise bad(
                f"edge_index[{row}, {col}] is {int(ei[row, col])}, but the graph has {n:,} nodes "
                f"(x has {n:,} rows): node indices run from 0 to {n - 1}"
            )
    if not isinstance(batch, np.ndarray) or batch.ndim != 1 or batch.dtype.kind not in "iu":
        raise bad(f"batch must be a 1-D integer array, one graph id per node, got {_shown(batch)}")
    if len(batch) != n:
        raise bad(f"batch has {len(batch):,} entries but x has {n:,} nodes; one per node")
    if n:
        if batch[0] != 0:
            raise bad(f"batch must start at graph 0, got {int(batch[0])}")
        steps = np.diff(batch)
        if (steps < 0).any():
            at = int(np.argmax(steps < 0)) + 1
            raise bad(
                f"batch is not sorted: node {at} is in graph {int(batch[at])} after graph "
                f"{int(batch[at - 1])}; the nodes of a graph must be contiguous"
            )
        if (steps > 1).any():
            at = int(np.argmax(steps > 1)) + 1
            raise bad(
                f"batch skips graph ids: node {at} is in graph {int(batch[at])} right after "
                f"graph {int(batch[at - 1])}; graph ids run 0, 1, 2, ... without gaps"
            )
        if ei.size and (batch[ei[0]] != batch[ei[1]]).any():
            col = int(np.argmax(batch[ei[0]] != batch[ei[1]]))
            raise bad(
                f"edge_index[:, {col}] joins node {int(ei[0, col])} (graph "
                f"{int(batch[ei[0, col]])}) to node {int(ei[1, col])} (graph "
                f"{int(batch[ei[1, col]])}); an edge stays inside its graph"
            )
    graphs = int(batch.max()) + 1 if n else 0
    if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype.kind not in "iu":
        raise bad(f"y must be a 1-D array of integer class indices, got {_shown(y)}")
    want, what = (n, "nodes") if g.level == "node" else (graphs, "graphs")
    if len(y) != want:
        raise bad(
            f"y has {len(y):,} labels but there are {want:,} {what}; {g.level}-level labels "
            f"need one per {g.level}"
        )
    if y.size and (y.min() < 0 or y.max() >= g.num_classes):
        at = int(np.argmax((y < 0) | (y >= g.num_classes)))
        raise bad(f"y[{at}] is {int(y[at])}, outside the classes 0..{g.num_classes - 1}")
    masks = g.masks()
    for mask_name, mask in masks.items():
        if not isinstance(mask, np.ndarray) or mask.ndim != 1 or mask.dtype.kind != "b":
            raise bad(f"{mask_name} must be a 1-D boolean array, got {_shown(mask)}")
        if len(mask) != n:
            raise bad(f"{mask_name} has {len(mask):,} entries but x has {n:,} nodes; one per node")
    names = list(masks)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            both = masks[first] & masks[second]
            if both.any():
                raise bad(
                    f"{first} and {second} overlap: {int(both.sum())} nodes are in both, "
                    f"the first is node {int(np.argmax(both))}"
                )
    return g


def _shown(a: Any) -> str:
    shape = getattr(a, "shape", None)
    dtype = getattr(a, "dtype", None)
    if shape is None:
        return type(a).__name__
    return f"dtype {dtype} and shape {tuple(shape)}"


def _graph(
    x: NDArray[Any],
    edges: NDArray[Any],
    y: NDArray[Any],
    num_classes: int,
    *,
    batch: NDArray[Any] | None = None,
    level: Level = "node",
    class_names: list[str] | None = None,
    origin: str,
) -> GraphData:
    """A GraphData from generated arrays: float32 x, int64 everything else, edges sorted."""
    import numpy as np

    edges = np.asarray(edges, dtype=np.int64).reshape(2, -1)
    order = np.lexsort((edges[1], edges[0]))
    return check_graph(
        GraphData(
            x=np.ascontiguousarray(x, dtype=np.float32),
            edge_index=np.ascontiguousarray(edges[:, order]),
            y=np.asarray(y, dtype=np.int64),
            batch=np.zeros(len(x), np.int64) if batch is None else batch.astype(np.int64),
            num_classes=num_classes,
            level=level,
            class_names=class_names,
            origin=origin,
        ),
        origin,
    )


def undirected(pairs: NDArray[Any]) -> NDArray[Any]:
    """(2, 2E): both directions of each undirected edge of ``pairs`` (2, E)."""
    import numpy as np

    pairs = np.asarray(pairs, dtype=np.int64)
    return np.concatenate([pairs, pairs[::-1]], axis=1)


# --- node splits -------------------------------------------------------------------------------


def split_nodes(g: GraphData, val: float = 0.1, test: float = 0.1, seed: int = 0) -> GraphData:
    """``g`` with train/val/test node masks: its own when it has any (checked, never
    changed), else a seeded shuffle holding out ``val`` and ``test`` of the nodes (rounded
    down, like ``data.split``) and training on the rest. The masks never overlap."""
    import numpy as np

    if g.masks():
        return check_graph(g, g.origin or "graph")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val and test must be fractions with val + test < 1, got {val}, {test}")
    n = g.num_nodes
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = int(n * val), int(n * test)
    masks = {}
    for name, part in (
        ("val_mask", order[:n_val]),
        ("test_mask", order[n_val : n_val + n_test]),
        ("train_mask", order[n_val + n_test :]),
    ):
        mask = np.zeros(n, dtype=bool)
        mask[part] = True
        masks[name] = mask
    return replace(
        g, train_mask=masks["train_mask"], val_mask=masks["val_mask"], test_mask=masks["test_mask"]
    )


def select_graphs(g: GraphData, ids: Any) -> GraphData:
    """The graphs ``ids`` of graph-level data, in increasing id order, renumbered: nodes
    0..n-1 and graph ids 0..len(ids)-1, their labels, edges and features."""
    import numpy as np

    if g.level != "graph":
        raise ValueError("select_graphs takes graph-level data; node-level data split by masks")
    chosen = np.unique(np.asarray(ids, dtype=np.int64))
    if chosen.size and (chosen[0] < 0 or chosen[-1] >= g.num_graphs):
        raise ValueError(f"graph ids run from 0 to {g.num_graphs - 1}, got {chosen.tolist()}")
    keep = np.isin(g.batch, chosen)
    new_id = np.cumsum(keep) - 1  # a kept node's new index
    edges = g.edge_index[:, keep[g.edge_index[0]]]  # an edge stays inside its graph
    return replace(
        g,
        x=g.x[keep],
        edge_index=new_id[edges],
        y=g.y[chosen],
        batch=np.searchsorted(chosen, g.batch[keep]).astype(np.int64),
    )


def split_graphs(
    g: GraphData, val: float = 0.1, test: float = 0.1, seed: int = 0
) -> tuple[GraphData, GraphData, GraphData]:
    """Graph-level data split by graph into (train, val, test): a seeded shuffle holding out
    ``int(num_graphs * val)`` and ``int(num_graphs * test)`` graphs, as :func:`split_nodes`
    does for nodes. An empty part has no graphs."""
    import numpy as np

    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val and test must be fractions with val + test < 1, got {val}, {test}")
    order = np.random.default_rng(seed).permutation(g.num_graphs)
    n_val, n_test = int(g.num_graphs * val), int(g.num_graphs * test)
    return (
        select_graphs(g, order[n_val + n_test :]),
        select_graphs(g, order[:n_val]),
        select_graphs(g, order[n_val : n_val + n_test]),
    )


# --- sources -----------------------------------------------------------------------------------


GraphLoader = Callable[[Any, Context], GraphData]
GraphCheck = Callable[[Any, Context], None]


@dataclass(frozen=True)
class GraphSource:
    """A graph data source: like :class:`~netspec.sources.registry.Source`, with a loader that
    returns :class:`GraphData` and ``level`` in place of ``kind``."""

    name: str
    options: type[SourceOptions]
    load: GraphLoader
    summary: str
    level: Level | Literal["either"]  # "either": a file says which
    family: Literal["bundled", "synthetic", "file"]
    check: GraphCheck = no_check
    field_docs: Mapping[str, str] = field(default_factory=dict)
    example: str = ""


GRAPH_SOURCES: dict[str, GraphSource] = {}
"""Graph sources by name; kept apart from ``data: source:``'s registry until training on
graphs joins them."""


def register_graph(source: GraphSource) -> GraphSource:
    if source.name in GRAPH_SOURCES:
        raise ValueError(f"graph source {source.name!r} registered twice")
    GRAPH_SOURCES[source.name] = source
    return source


def load_graph(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    base_dir: Path | str | None = None,
) -> GraphData:
    """The graph of source ``name`` with ``options`` (the source's keys, as in a ``data:``
    section). Raises :class:`~netspec.errors.SpecError` (code ``data``, or the options'
    own codes) for an unknown source, bad options or bad data. Relative paths start at
    ``base_dir`` (default: the working directory)."""
    if name not in GRAPH_SOURCES:
        guess = did_you_mean(name, GRAPH_SOURCES)
        raise SpecError(
            [
                Diagnostic(
                    "invalid-value",
                    f"unknown graph source {name!r}"
                    + (f"; did you mean {guess!r}?" if guess else ""),
                    path=("data", "source"),
                    received=name,
                    expected="one of: " + ", ".join(GRAPH_SOURCES),
                )
            ]
        )
    source = GRAPH_SOURCES[name]
    try:
        parsed = source.options.model_validate(dict(options or {}))
    except ValidationError as exc:
        raise SpecError([_option_problem(source, err) for err in exc.errors()]) from None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    ctx = Context(input_shape=Shape(()), input_dtype="float32", base_dir=base)
    try:
        source.check(parsed, ctx)
        return source.load(parsed, ctx)
    except DataProblem as problem:
        raise SpecError([problem.diagnostic()]) from None


def _option_problem(source: GraphSource, err: Any) -> Diagnostic:
    """A pydantic error on a graph source's options as a diagnostic at ``data.<key>``."""
    loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
    key = str(loc[0]) if loc else ""
    fields = list(source.options.model_fields)
    if err["type"] == "extra_forbidden":
        guess = did_you_mean(key, fields)
        return Diagnostic(
            "unknown-field",
            f"{source.name} has no option {key!r}"
            + (f"; did you mean {guess!r}?" if guess else ""),
            path=("data", *loc),
            expected="one of: " + (", ".join(fields) or "(no options)"),
        )
    if err["type"] == "missing":
        return Diagnostic(
            "missing-field", f"{source.name} needs the option {key!r}", path=("data", *loc)
        )
    return Diagnostic(
        "invalid-value",
        f"{key}: {err['msg']}",
        path=("data", *loc),
        received=repr(err.get("input")),
    )


# --- karate_club ------------------------------------------------------------------------------


class KarateOptions(SourceOptions):
    # `communities`: the 4 communities PyG's KarateClub labels (and the spec language's
    # example trains, `graph_conv: 4`); `club`: the 2 clubs the members joined.
    labels: Literal["communities", "club"] = "communities"


KARATE_CLUBS = ["Mr. Hi", "Officer"]
KARATE_COMMUNITIES = (
    1, 1, 1, 1, 3, 3, 3, 1, 0, 1, 3, 1, 1, 1, 0, 0, 3, 1,
    0, 1, 0, 1, 0, 0, 2, 2, 0, 0, 2, 0, 0, 2, 0, 0,
)  # fmt: skip
"""Each member's community (nodes 0..33), as torch_geometric.datasets.KarateClub labels
them: the modularity-based communities of Brandes et al. (2008)."""


def _karate(options: KarateOptions, ctx: Context) -> GraphData:
    import numpy as np

    try:
        import networkx as nx  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise DataProblem(
            "karate_club reads the graph bundled with networkx, which is not installed",
            key=("source",),
            code="missing-extra",
            hints=("pip install networkx",),
        ) from None
    graph = nx.karate_club_graph()
    nodes = sorted(graph.nodes)
    pairs = np.array(sorted((min(u, v), max(u, v)) for u, v in graph.edges), dtype=np.int64)
    if options.labels == "club":
        y = np.array([KARATE_CLUBS.index(graph.nodes[v]["club"]) for v in nodes], np.int64)
        classes, names = 2, list(KARATE_CLUBS)
    else:
        y = np.array(KARATE_COMMUNITIES, dtype=np.int64)
        classes, names = 4, [f"community {k}" for k in range(4)]
    return _graph(
        np.eye(len(nodes)),
        undirected(pairs.T),
        y,
        classes,
        class_names=names,
        origin="karate_club",
    )


# --- sbm --------------------------------------------------------------------------------------

MAX_SBM_NODES = 5000  # every pair of nodes is drawn: 12.5M pairs at most


class SbmOptions(SourceOptions):
    blocks: int = Field(3, ge=2, le=100)
    size: int = Field(50, ge=1, le=MAX_SBM_NODES)
    p_in: float = Field(0.2, ge=0.0, le=1.0)
    p_out: float = Field(0.02, ge=0.0, le=1.0)
    features: int = Field(8, ge=1, le=4096)
    noise: float = noise_field(1.0)
    seed: int = seed_field()


def _sbm_check(options: SbmOptions, ctx: Context) -> None:
    nodes = options.blocks * options.size
    if nodes > MAX_SBM_NODES:
        raise DataProblem(
            f"blocks * size is {nodes:,} nodes; sbm draws every pair of nodes, so it makes "
            f"{MAX_SBM_NODES:,} nodes at most",
            key=("size",),
        )


def _sbm(options: SbmOptions, ctx: Context) -> GraphData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    k, size = options.blocks, options.size
    n = k * size
    y = np.repeat(np.arange(k), size)
    sources, targets = [], []
    for node in range(n - 1):  # each pair (node, later) once: memory O(n), not O(n^2)
        later = np.arange(node + 1, n)
        p = np.where(y[later] == y[node], options.p_in, options.p_out)
        hit = later[rng.random(len(later)) < p]
        sources.append(np.full(len(hit), node))
        targets.append(hit)
    pairs = np.stack([np.concatenate(sources), np.concatenate(targets)])
    centers = rng.standard_normal((k, options.features))
    x = centers[y] + options.noise * rng.standard_normal((n, options.features))
    return _graph(
        x, undirected(pairs), y, k, class_names=[f"block {b}" for b in range(k)], origin="sbm"
    )


# --- graph_shapes -----------------------------------------------------------------------------

ShapeName = Literal["cycle", "star", "path", "tree", "complete"]
SHAPE_NAMES: tuple[ShapeName, ...] = ("cycle", "star", "path", "tree", "complete")


MAX_SHAPE_EDGES = 20_000_000


class GraphShapesOptions(SourceOptions):
    graphs: int = Field(300, ge=1, le=1_000_000)
    nodes_min: int = Field(6, ge=3, le=1000)
    nodes_max: int = Field(12, ge=3, le=1000)
    classes: tuple[ShapeName, ...] = Field(("cycle", "star", "tree"), min_length=2)
    features: Literal["ones", "degree"] = "ones"
    seed: int = seed_field()


def _shapes_check(options: GraphShapesOptions, ctx: Context) -> None:
    if options.nodes_min > options.nodes_max:
        raise DataProblem(
            f"nodes_min ({options.nodes_min}) is above nodes_max ({options.nodes_max})",
            key=("nodes_min",),
        )
    if len(set(options.classes)) != len(options.classes):
        twice = next(c for c in options.classes if options.classes.count(c) > 1)
        raise DataProblem(f"classes names {twice!r} twice", key=("classes",))
    edges_per_node = options.nodes_max if "complete" in options.classes else 2
    if options.graphs * options.nodes_max * edges_per_node > MAX_SHAPE_EDGES:
        raise DataProblem(
            f"{options.graphs:,} graphs of up to {options.nodes_max} nodes may hold more than "
            f"{MAX_SHAPE_EDGES:,} edges; graph_shapes makes small graphs",
            key=("graphs",),
            hints=("fewer graphs, or a smaller nodes_max",),
        )
    if "tree" in options.classes and options.nodes_min < 5:
        raise DataProblem(
            f"a tree class needs nodes_min >= 5, got {options.nodes_min}: every tree of 4 "
            "nodes or fewer is a path or a star",
            key=("nodes_min",),
        )


def _shape_edges(shape: str, n: int, rng: Any) -> NDArray[Any]:
    """Undirected pairs (E, 2) of one graph of ``n`` nodes."""
    import numpy as np

    if shape == "cycle":
        a = np.arange(n)
        return np.stack([a, (a + 1) % n], axis=1)
    if shape == "path":
        a = np.arange(n - 1)
        return np.stack([a, a + 1], axis=1)
    if shape == "star":
        return np.stack([np.zeros(n - 1, np.int64), np.arange(1, n)], axis=1)
    if shape == "complete":
        rows, cols = np.triu_indices(n, k=1)
        return np.stack([rows, cols], axis=1)
    # tree: each node joins a random earlier one; drawn again while it is a path or a star,
    # so the classes stay apart (n >= 5 has other trees)
    while True:
        parents = np.array([rng.integers(0, v) for v in range(1, n)])
        degree = np.bincount(np.concatenate([parents, np.arange(1, n)]), minlength=n)
        if degree.max() > 2 and degree.max() < n - 1:
            return np.stack([parents, np.arange(1, n)], axis=1)


def _graph_shapes(options: GraphShapesOptions, ctx: Context) -> GraphData:
    import numpy as np

    rng = np.random.default_rng(options.seed)
    k = len(options.classes)
    labels = balanced(options.graphs, k, rng)
    sizes = rng.integers(options.nodes_min, options.nodes_max + 1, options.graphs)
    edges, batch = [], []
    start = 0
    for graph, (label, n) in enumerate(zip(labels, sizes, strict=True)):
        n = int(n)
        pairs = _shape_edges(options.classes[label], n, rng)
        relabel = rng.permutation(n)  # node order says nothing about the shape
        edges.append(undirected((relabel[pairs] + start).T))
        batch.append(np.full(n, graph))
        start += n
    edge_index = np.concatenate(edges, axis=1)
    total = start
    if options.features == "ones":
        x = np.ones((total, 1))
    else:
        degree = np.bincount(edge_index[0], minlength=total)
        x = np.eye(options.nodes_max)[degree]
    return _graph(
        x,
        edge_index,
        labels,
        k,
        batch=np.concatenate(batch),
        level="graph",
        class_names=list(options.classes),
        origin="graph_shapes",
    )


# --- graph_npz --------------------------------------------------------------------------------


class GraphNpzOptions(SourceOptions):
    path: str = Field(min_length=1)
    level: Level | None = None


def _graph_npz(options: GraphNpzOptions, ctx: Context) -> GraphData:
    import numpy as np

    file = resolve_path(options.path, ctx, "path")
    loaded = _load_array(file, "path")
    if isinstance(loaded, np.ndarray):
        raise DataProblem(
            f"{file.name} holds one array; a graph file is an .npz with arrays x, edge_index "
            "and y (and optionally batch and train_mask, val_mask, test_mask)",
            key=("path",),
        )
    with loaded as archive:
        arrays = {
            name: _member(archive, name, file, "path")
            for name in ("x", "edge_index", "y", "batch", *MASKS)
            if name in ("x", "edge_index", "y") or name in archive.files
        }
    x, edge_index, y = arrays["x"], arrays["edge_index"], arrays["y"]
    name = file.name

    def bad(message: str, **kw: Any) -> DataProblem:
        return _problem(name, message, ("path",), **kw)

    if x.ndim == 1 and x.dtype.kind in "biuf":
        x = x.reshape(-1, 1)  # one feature per node
    if x.ndim != 2 or x.dtype.kind not in "biuf":
        raise bad(f"x must be a numeric 2-D array (num_nodes, features), got {_shown(x)}")
    if not len(x):
        raise bad("x has no rows: a graph needs at least one node")
    if "batch" in arrays:
        batch = arrays["batch"]
        if batch.ndim != 1 or batch.dtype.kind not in "iu":
            raise bad(
                f"batch must be a 1-D integer array, one graph id per node, got {_shown(batch)}"
            )
    else:
        batch = np.zeros(len(x), np.int64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "biuf":
        raise bad(f"y must be a 1-D array of integer class indices, got {_shown(y)}")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)  # two classes, False and True
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            at = int(np.argmax(~np.isfinite(y) | (y != np.round(y))))
            raise bad(f"y[{at}] is {y[at]}; y holds integer class indices 0..K-1")
        y = y.astype(np.int64)
    if y.size and y.min() < 0:
        at = int(np.argmin(y))
        raise bad(f"y[{at}] is {int(y[at])}; class indices start at 0")
    graphs = int(batch.max()) + 1 if batch.size and batch.min() >= 0 else 1
    level = options.level
    if level is None:
        level = "graph" if "batch" in arrays and len(y) == graphs else "node"
    masks = {}
    for mask_name in MASKS:
        if mask_name in arrays:
            mask = arrays[mask_name]
            if mask.dtype.kind in "iu" and mask.size and set(np.unique(mask).tolist()) <= {0, 1}:
                mask = mask.astype(bool)  # 0/1 masks, as some tools write them
            masks[mask_name] = mask
    if masks and level == "graph":
        raise bad(
            f"{', '.join(masks)}: node masks split the nodes of node-level data, but the labels "
            "are per graph"
        )
    g = GraphData(
        x=x.astype(np.float32) if x.dtype.kind == "f" else x,
        edge_index=edge_index.astype(np.int64) if edge_index.dtype.kind in "iu" else edge_index,
        y=y.astype(np.int64) if y.dtype.kind in "iu" else y,
        batch=batch.astype(np.int64),
        num_classes=int(y.max()) + 1 if y.size else 0,
        level=level,
        origin=str(file),
        train_mask=masks.get("train_mask"),
        val_mask=masks.get("val_mask"),
        test_mask=masks.get("test_mask"),
    )
    check_graph(g, name, ("path",))
    return replace(g, x=g.x.astype(np.float32))


def save_graph_npz(g: GraphData, path: Path | str) -> None:
    """Write ``g`` in the format ``graph_npz`` reads (masks and batch only when given)."""
    import numpy as np

    arrays = {"x": g.x, "edge_index": g.edge_index, "y": g.y, **g.masks()}
    if g.num_graphs > 1 or g.level == "graph":
        arrays["batch"] = g.batch
    np.savez(path, **arrays)  # type: ignore[arg-type]


register_graph(
    GraphSource(
        "karate_club",
        KarateOptions,
        _karate,
        "Zachary's karate club (bundled with networkx): 34 members, 78 friendships, labels "
        "the 4 communities of PyG's KarateClub (or the 2 clubs it split into)",
        "node",
        "bundled",
        field_docs={
            "labels": "communities (the 4 of PyG's KarateClub; default) or club (the 2 "
            "clubs the members joined)",
        },
        example="",
    )
)
register_graph(
    GraphSource(
        "sbm",
        SbmOptions,
        _sbm,
        "a stochastic block model: nodes in blocks, edges likelier inside a block; label the "
        "block, features a block mean plus gaussian noise",
        "node",
        "synthetic",
        check=_sbm_check,
        field_docs={
            "blocks": "number of blocks (classes); default 3",
            "size": "nodes per block; default 50",
            "p_in": "probability of an edge between two nodes of one block; default 0.2",
            "p_out": "probability of an edge between blocks; default 0.02",
            "features": "node features; default 8",
            "noise": "std of the gaussian noise on the block means (drawn from N(0, 1)); "
            "default 1.0",
            "seed": COMMON_DOCS["seed"],
        },
        example="blocks: 4\nsize: 40\np_in: 0.3\np_out: 0.01",
    )
)
register_graph(
    GraphSource(
        "graph_shapes",
        GraphShapesOptions,
        _graph_shapes,
        "graph classification: small graphs labelled by shape (cycle, star, tree, ...)",
        "graph",
        "synthetic",
        check=_shapes_check,
        field_docs={
            "graphs": "number of graphs; default 300",
            "nodes_min": "fewest nodes of a graph; default 6",
            "nodes_max": "most nodes of a graph; default 12",
            "classes": "the shapes, one class each, of cycle, star, path, tree, complete; "
            "default [cycle, star, tree]",
            "features": "ones (one constant feature) or degree (one-hot degree, nodes_max "
            "features); default ones",
            "seed": COMMON_DOCS["seed"],
        },
        example="graphs: 600\nclasses: [cycle, star, path]",
    )
)
register_graph(
    GraphSource(
        "graph_npz",
        GraphNpzOptions,
        _graph_npz,
        "a local .npz with arrays x, edge_index, y (optionally batch and node masks)",
        "either",
        "file",
        field_docs={
            "path": "the .npz file; relative to the spec's folder (required)",
            "level": "node or graph; default: graph when the file has batch and y has one "
            "label per graph, else node",
        },
        example="path: data/graph.npz",
    )
)

__all__ = [
    "GRAPH_SOURCES",
    "MASKS",
    "GraphData",
    "GraphSource",
    "Level",
    "check_graph",
    "load_graph",
    "register_graph",
    "save_graph_npz",
    "select_graphs",
    "split_graphs",
    "split_nodes",
    "undirected",
]
