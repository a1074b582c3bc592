"""Data-parallel training on torch.distributed: this process's place in the run, and the few
things the processes must agree on.

A run of N processes is started by torchrun (``torchrun --nproc-per-node N -m netspec train
SPEC``) or by ``netspec train SPEC --devices N``, which calls torchrun's own launcher. Each
process reads its place from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). A plain ``netspec train`` is a world of one, and
every method here is then free: no process group, no collective, no extra work per batch.

The rule that keeps N processes from hanging: every collective is issued by every process in
the same order, so every decision that leads to one (stop now, save a checkpoint, the training
diverged) is made from values all processes share. Hence:

- ``agreeing()``: a setup phase that may fail on some processes only (a file missing on one
  machine) ends with a vote, so all stop together; one process reports the error.
- ``Vote``: Ctrl-C or SIGTERM reaches processes at different batches, and a NaN loss may
  show on one process first; an all-reduce per batch (started after one batch, read after
  the next, so it overlaps the work) makes them all stop after the same batch.
- Batches: every process draws the same permutation; each global batch of ``batch_size``
  samples is split across the processes (``shard``), and each process's loss is weighted so
  that DDP's gradient average equals the gradient of the global batch's mean loss. So the
  spec means the same training on 1 or N processes, up to floating-point rounding.

Control traffic (flags, bytes, RNG states) goes over a separate gloo group on CPU tensors;
gradients go over the default group (nccl on CUDA, gloo on CPU).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from netspec.errors import ExitCode, SpecError

if TYPE_CHECKING:
    import torch

LAUNCHED_BY_NETSPEC = "NETSPEC_DEVICES"
"""Set by ``--devices N`` in the workers it starts, so they can say how to resume."""

RANK_SEED_STRIDE = 1_000_003
"""Process r seeds its dropout and augmentation generators with seed + r x this (a prime, so
the streams of different runs' seeds and ranks do not line up)."""


class PeerFailed(Exception):
    """Another process of the run failed during setup and reported it; this one stops
    quietly with the same exit status."""

    def __init__(self, rank: int, exit_code: int) -> None:
        super().__init__(f"process {rank} of the run failed")
        self.rank = rank
        self.exit_code = exit_code


@dataclass
class World:
    """This process's place in the run; ``World()`` is a single process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    control: Any = None  # the gloo group for agreement traffic, once joined

    @property
    def main(self) -> bool:
        """Rank 0: the process that prints and writes the run directory."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    # -- agreement (CPU tensors over the control group) ------------------------------------

    def sum(self, values: Sequence[float]) -> list[float]:
        """Each value summed over all processes."""
        if not self.distributed:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(t, group=self.control)
        return [float(v) for v in t.tolist()]

    def gather_tensors(self, t: torch.Tensor) -> list[torch.Tensor]:
        """Every process's copy of a CPU tensor of the same shape and dtype (RNG states)."""
        if not self.distributed:
            return [t]
        import torch
        import torch.distributed as dist

        parts = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(parts, t.contiguous(), group=self.control)
        return parts

    def broadcast_bytes(self, data: bytes | None) -> bytes:
        """Rank 0's bytes on every process (``data`` is ignored elsewhere)."""
        if not self.distributed:
            return data or b""
        import torch
        import torch.distributed as dist

        length = torch.tensor([len(data or b"") if self.main else 0], dtype=torch.int64)
        dist.broadcast(length, 0, group=self.control)
        if self.main and data:  # frombuffer refuses an empty buffer
            payload = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        else:
            payload = torch.empty(int(length.item()), dtype=torch.uint8)
        if payload.numel():
            dist.broadcast(payload, 0, group=self.control)
        return bytes(payload.numpy().tobytes())

    # -- the model -------------------------------------------------------------------------

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers on every process (the best weights at the end)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        for tensor in module.state_dict().values():
            dist.broadcast(tensor, 0)

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Rank 0's buffers (BatchNorm running statistics) on every process: each process
        updated its own in its last training step, and all must evaluate the same model."""
        if not self.distributed:
            return
        import torch.distributed as dist

        for tensor in module.buffers():
            dist.broadcast(tensor, 0)

    def gather_rows(self, values: Sequence[int]) -> list[list[int]]:
        """Every process's list of integers (of the same length), in rank order."""
        if not self.distributed:
            return [list(values)]
        import torch
        import torch.distributed as dist

        mine = torch.tensor(list(values), dtype=torch.int64)
        parts = [torch.empty_like(mine) for _ in range(self.size)]
        dist.all_gather(parts, mine, group=self.control)
        return [[int(v) for v in p.tolist()] for p in parts]

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module to train: DistributedDataParallel around ``model`` in a run of several
        processes (gradients averaged over the default group), else ``model`` itself."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
        return DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=has_unused_parameters(model)
        )

    def shard(self, idx: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This process's part of a global batch of sample indices, and the weight of its
        mean loss: ``n_r x size / n``, so the average over processes of the weighted
        gradients is the gradient of the whole batch's mean loss even when the batch does
        not split evenly. A process left with no sample (a last batch smaller than the
        world) takes one with weight 0, so every process still runs its step."""
        if not self.distributed:
            return idx, 1.0
        part = idx[self.rank :: self.size]
        n, n_r = int(idx.shape[0]), int(part.shape[0])
        if n_r == 0:
            return idx[:1], 0.0
        return part, n_r * self.size / n

    def rows(self, n: int) -> slice:
        """This process's rows of an evaluation split (every size-th, from its rank)."""
        return slice(self.rank, n, self.size) if self.distributed else slice(0, n)


def has_unused_parameters(model: torch.nn.Module) -> bool:
    """Whether some trainable parameter cannot get a gradient: it belongs to a submodule
    whose output never reaches the model's output (an unused branch). DDP must then be told
    (find_unused_parameters), or its gradient reduction would wait for a gradient that never
    comes. Only a traced (fx) module can be read; others are assumed to use everything, like
    DDP's own default. A model with several outputs trains on its first (``FirstOutput``):
    what only the others use gets no gradient."""
    from netspec.training.outputs import FirstOutput

    first_only = isinstance(model, FirstOutput)
    if first_only:
        model = cast("torch.nn.Module", model.model)
    graph = getattr(model, "graph", None)
    if graph is None:
        return False
    outputs = [node for node in graph.nodes if node.op == "output"]
    if first_only:
        outputs = [o.args[0][0] if isinstance(o.args[0], (tuple, list)) else o for o in outputs]
    reached: set[Any] = set()
    todo = list(outputs)
    while todo:
        node = todo.pop()
        if node not in reached:
            reached.add(node)
            todo.extend(node.all_input_nodes)
    used = [str(n.target) for n in reached if n.op in ("call_module", "get_attr")]
    for name, param in model.named_parameters():
        if param.requires_grad and not any(
            name == target or name.startswith(target + ".") for target in used
        ):
            return True
    return False


LOST_PEER_SIGNS = (
    "Connection closed by peer",
    "Connection reset by peer",
    "gloo/transport",
    "NCCL communicator was aborted",
    "ProcessGroupNCCL",
)


def lost_peer(exc: BaseException) -> bool:
    """Whether a collective failed because another process of the run went away: c10d
    raises DistError for some backends, gloo a RuntimeError naming its transport."""
    import torch.distributed as dist

    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    return isinstance(exc, RuntimeError) and any(s in str(exc) for s in LOST_PEER_SIGNS)


def rank_seed(seed: int, rank: int) -> int:
    return seed + rank * RANK_SEED_STRIDE


def launched() -> World:
    """This process's place from torchrun's environment; ``World()`` outside torchrun.
    Reads only the environment (no torch import), so the CLI can ask cheaply."""
    env = os.environ
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return World()
    try:
        size = int(env["WORLD_SIZE"])
        rank = int(env["RANK"])
        local_rank = int(env.get("LOCAL_RANK", rank))
        local_size = int(env.get("LOCAL_WORLD_SIZE", size))
    except ValueError:
        raise SpecError.single(
            "invalid-value",
            "RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE must be integers "
            "(they are set by torchrun)",
        ) from None
    if size < 1 or not 0 <= rank < size:
        raise SpecError.single(
            "invalid-value", f"RANK {rank} does not fit WORLD_SIZE {size} (set by torchrun)"
        )
    return World(rank=rank, size=size, local_rank=local_rank, local_size=local_size)


FAREWELL = datetime.timedelta(seconds=60)
"""How long a process waits for the others at the end of a run before leaving anyway."""


@contextlib.contextmanager
def joined(world: World) -> Iterator[World]:
    """The process group for the run's lifetime: gloo for CPU tensors (and the control
    group), nccl for CUDA tensors where CUDA is available."""
    if not world.distributed:
        yield world
        return
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise SpecError.single(
            "invalid-value", "this PyTorch build has no torch.distributed: train on one process"
        )
    ours = not dist.is_initialized()  # else: a caller's group (train() called from a script)
    if ours:
        nccl = torch.cuda.is_available() and dist.is_nccl_available()
        if nccl:
            torch.cuda.set_device(world.local_rank % max(1, torch.cuda.device_count()))
        dist.init_process_group(
            backend="cpu:gloo,cuda:nccl" if nccl else "gloo",
            init_method="env://",
            rank=world.rank,
            world_size=world.size,
        )
    world.control = dist.new_group(backend="gloo")
    together = False
    try:
        yield world
        together = True
    except (SpecError, PeerFailed):
        together = True  # raised by every process at the same point (agreeing)
        raise
    except Exception as exc:
        from netspec.training.outcome import TrainingDiverged, TrainingInterrupted

        together = isinstance(exc, (TrainingInterrupted, TrainingDiverged))  # agreed stops
        raise
    finally:
        control, world.control = world.control, None
        if together:  # tearing down while a peer still works (rank 0 writing) can abort it
            with contextlib.suppress(Exception):
                dist.monitored_barrier(group=control, timeout=FAREWELL)
        if ours:
            dist.destroy_process_group()
        else:
            dist.destroy_process_group(control)


@contextlib.contextmanager
def agreeing(world: World) -> Iterator[None]:
    """A setup phase every process runs; if it fails anywhere, every process stops. The
    lowest-ranked failing process raises its own error (marked ``netspec_report`` so the CLI
    prints it even off rank 0); the others raise PeerFailed with its exit status."""
    if not world.distributed:
        yield
        return
    try:
        yield
    except Exception as exc:
        codes = [row[0] for row in world.gather_rows([exit_code(exc)])]
        first = next(r for r, c in enumerate(codes) if c)
        if first == world.rank:
            exc.netspec_report = True  # type: ignore[attr-defined]
            raise
        raise PeerFailed(first, codes[first]) from exc
    codes = [row[0] for row in world.gather_rows([ExitCode.OK])]
    failed = [r for r, c in enumerate(codes) if c]
    if failed:
        raise PeerFailed(failed[0], codes[failed[0]])


def exit_code(exc: BaseException) -> int:
    """The CLI's exit status for an error: a user mistake's, else an internal error's."""
    if isinstance(exc, PeerFailed):
        return exc.exit_code
    return ExitCode.USER_ERROR if isinstance(exc, SpecError) else ExitCode.INTERNAL_ERROR


VOTE_SECONDS = 0.25
"""About how often the processes vote: every batch when a batch takes this long or more,
every few batches when batches are quicker (at most MAX_VOTE_INTERVAL). A vote is cheap, but
on CPU its gloo round trip competes with the gradient all-reduce for the cores: one every
few milliseconds measurably slowed quick steps; one per quarter second did not."""
MAX_VOTE_INTERVAL = 256


class Vote:
    """What the processes agree on during an epoch: whether any was asked to stop (Ctrl-C,
    SIGTERM) and whether any saw its training loss become NaN or infinite.

    ``poll(stop, diverged)`` every ``every`` batches: waits for the previous poll's
    all-reduce, starts this one, and records what any process had reported by the previous
    poll in ``stop`` and ``diverged`` (sticky), so every process acts after the same batch
    and the round trip overlaps the work. Each poll also carries rank 0's time per batch,
    from which every process sets the same ``every``: quick batches vote less often, so a
    vote costs next to nothing, and a stop still comes within about VOTE_SECONDS.
    ``settle(stop)`` at the end of an epoch does one blocking round, so a request made late
    in the epoch is not carried into the next."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.stop = False
        self.diverged = False
        self.every = 1  # batches between polls; the same on every process
        self._pending: tuple[Any, torch.Tensor] | None = None
        self._last: float | None = None  # rank 0: when the previous poll began

    def poll(self, stop: bool, diverged: bool) -> None:
        import torch
        import torch.distributed as dist

        now = time.perf_counter()
        seconds = 0.0  # rank 0's time per batch since its last poll; 0 elsewhere
        if self.world.main and self._last is not None:
            seconds = (now - self._last) / self.every
        self._last = now
        self._collect()
        flags = torch.tensor([float(stop), float(diverged), seconds], dtype=torch.float64)
        work = dist.all_reduce(flags, group=self.world.control, async_op=True)
        self._pending = (work, flags)

    def settle(self, stop: bool) -> bool:
        self._collect()
        self._last = None  # the evaluation between epochs is not batch time
        self.stop = self.stop or self.world.sum([float(stop)])[0] > 0
        return self.stop

    def _collect(self) -> None:
        if self._pending is not None:
            work, flags = self._pending
            work.wait()
            stop, diverged, seconds = flags.tolist()
            self.stop = self.stop or stop > 0
            self.diverged = self.diverged or diverged > 0
            if seconds > 0:  # the same value on every process, so the same interval
                self.every = max(1, min(MAX_VOTE_INTERVAL, int(VOTE_SECONDS / seconds)))
            self._pending = None
