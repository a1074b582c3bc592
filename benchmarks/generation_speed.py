"""Generation speed: netspec's incremental decoding (key-value cache) versus recomputing the
window for every token, and versus Hugging Face transformers' GPT2LMHeadModel.generate.

One GPT-2-shaped model: specs/zoo/gpt2.yaml at a reduced size (vars overrides), and, when
transformers is installed, HF's GPT2LMHeadModel of the same configuration whose random
weights are copied into netspec's model (Conv1D weights transposed). Before anything is
timed, both greedy-decode the prompt and must produce the same tokens (printed: agree /
DISAGREE). Weights are drawn wider than GPT-2's init (std 0.02 makes logits nearly equal
and greedy decoding a matter of rounding).

Timed, greedy, batch 1, the prompt's tokens already ids, in one process, interleaved for
``--rounds`` rounds (median): netspec with the cache (``generate_ids`` over ``decoder``:
what `netspec generate` runs, without the text decoding), netspec without the cache
(``--no-cache``: the model's own forward over the whole window per token), and HF's
``generate(use_cache=True)``. Tokens/s = new tokens / wall seconds, the prefill included.

Then the cost of length: cached tokens/s at ``--new`` / 2 and 2 x ``--new`` new tokens stays
about constant (each token costs one row of attention), while without the cache it falls
(each token recomputes the whole window).

Goal: netspec cached >= 1.0 x HF cached. This is a script, not a test; it always exits 0.

    python benchmarks/generation_speed.py [--quick] [--hidden 256] [--layers 4] [--heads 4]
        [--vocab 1000] [--prompt 16] [--new 256] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # benchmark the working tree's netspec

import netspec  # noqa: E402
from netspec.training.decoding import context_length, decoder  # noqa: E402
from netspec.training.sampling import generate_ids  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from hf_gpt2 import hf_key  # noqa: E402  # the key mapping the tests check

GOAL = 1.0
ZOO = REPO / "specs" / "zoo" / "gpt2.yaml"


def netspec_model(args: argparse.Namespace, positions: int) -> torch.fx.GraphModule:
    sizes = {
        "vocab": args.vocab,
        "hidden": args.hidden,
        "layers": args.layers,
        "heads": args.heads,
        "ff": 4 * args.hidden,
        "max_len": positions,
        "dropout": 0.0,
    }
    spec = netspec.load_spec(ZOO, [f"vars.{k}={v}" for k, v in sizes.items()])
    return netspec.build_model(spec, seed=0).eval()


def widen(model: torch.nn.Module, hidden: int) -> None:
    """Weights of std 3/sqrt(hidden) (embeddings: 1), norms not the identity: a random
    model whose greedy text is not one token repeated."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if "ln" in name or "norm" in name:
                if name.endswith("weight"):
                    tensor.uniform_(0.8, 1.2, generator=gen)
                else:
                    tensor.normal_(0.0, 0.05, generator=gen)
            elif "wte" in name or "wpe" in name:
                tensor.normal_(0.0, 1.0, generator=gen)
            else:
                tensor.normal_(0.0, 3.0 * hidden**-0.5, generator=gen)


def hf_twin(args: argparse.Namespace, model: torch.nn.Module, positions: int) -> Any | None:
    """HF's GPT2LMHeadModel of the same size holding ``model``'s weights; None without
    transformers."""
    try:
        import transformers
    except ImportError:
        return None
    transformers.logging.set_verbosity_error()
    config = transformers.GPT2Config(
        vocab_size=args.vocab,
        n_positions=positions,
        n_embd=args.hidden,
        n_layer=args.layers,
        n_head=args.heads,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        activation_function="gelu_new",
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=0,
    )
    reference = transformers.GPT2LMHeadModel(config).eval()
    ours = model.state_dict()
    theirs = {}
    for key, value in ours.items():
        if key != "lm_head.weight":  # tied to wte in both
            name, transpose = hf_key(key)
            theirs[name] = value.t() if transpose else value
    missing, unexpected = reference.load_state_dict(theirs, strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise SystemExit(f"weights do not map: missing {missing}, unexpected {unexpected}")
    return reference


def netspec_tokens(
    model: torch.fx.GraphModule, prompt: torch.Tensor, new: int, cache: bool
) -> list[int]:
    dec = decoder(model, cache=cache)
    steps = generate_ids(dec, prompt, max_new_tokens=new, context=context_length(model))
    return [int(t[0]) for t in steps]


def hf_tokens(reference: Any, prompt: torch.Tensor, new: int) -> list[int]:
    with torch.inference_mode():
        out = reference.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            use_cache=True,
        )
    return [int(t) for t in out[0, prompt.shape[1] :]]


def timed(run: Callable[[], list[int]]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def rates(
    cases: dict[str, Callable[[], list[int]]], new: int, rounds: int, warm_up: bool = True
) -> dict[str, float]:
    """Median tokens/s of each case, the cases interleaved round by round (after one
    untimed run of each, unless the model is warm already)."""
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for run in cases.values() if warm_up else ():
        run()
    for r in range(rounds):
        order = list(cases) if r % 2 == 0 else list(reversed(cases))
        for name in order:
            seconds[name].append(timed(cases[name]))
    return {name: new / statistics.median(s) for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a tiny model, a few tokens")
    args = parser.parse_args()
    if args.quick:
        args.hidden, args.layers, args.vocab, args.new, args.rounds = 64, 2, 100, 16, 1
    torch.set_num_threads(args.threads)
    positions = args.prompt + 2 * args.new
    model = netspec_model(args, positions)
    widen(model, args.hidden)
    reference = hf_twin(args, model, positions)
    prompt = torch.randint(
        0, args.vocab, (1, args.prompt), generator=torch.Generator().manual_seed(2)
    )
    print(
        f"GPT-2 shape: n_embd {args.hidden}, {args.layers} layers, {args.heads} heads, vocab "
        f"{args.vocab}; prompt {args.prompt} tokens, greedy, batch 1, {args.threads} thread(s), "
        f"median of {args.rounds} rounds; torch {torch.__version__}"
    )

    new = args.new
    cached = netspec_tokens(model, prompt, new, cache=True)
    uncached = netspec_tokens(model, prompt, new, cache=False)
    print(f"netspec cache vs no cache, {new} tokens: {verdict(cached, uncached)}")
    cases: dict[str, Callable[[], list[int]]] = {
        "netspec cache": lambda: netspec_tokens(model, prompt, new, cache=True),
        "netspec no cache": lambda: netspec_tokens(model, prompt, new, cache=False),
    }
    if reference is None:
        print("Hugging Face transformers: not installed, skipped")
    else:
        agreement = verdict(cached, hf_tokens(reference, prompt, new))
        print(f"netspec vs HF generate, {new} tokens: {agreement}")
        cases["HF generate (cache)"] = lambda: hf_tokens(reference, prompt, new)
    speed = rates(cases, new, args.rounds)
    print(f"\n{'generator':<22}{'tokens/s':>10}   ({new} new tokens)")
    for name, rate in speed.items():
        print(f"{name:<22}{rate:>10,.0f}")
    print(f"\ncache / no cache: {speed['netspec cache'] / speed['netspec no cache']:.2f}")
    if reference is not None:
        ratio = speed["netspec cache"] / speed["HF generate (cache)"]
        mark = "ok" if ratio >= GOAL else "MISSED"
        print(f"netspec cache / HF cache: {ratio:.2f}   goal >= {GOAL:.1f} {mark}")

    short, long = new // 2, 2 * new
    rounds = max(1, args.rounds // 3)
    growth = {n: rates(both(model, prompt, n), n, rounds, warm_up=False) for n in (short, long)}
    print(f"\n{'tokens/s by length':<22}{f'{short} new':>10}{f'{long} new':>10}{'ratio':>8}")
    for name in growth[short]:
        a, b = growth[short][name], growth[long][name]
        print(f"{name:<22}{a:>10,.0f}{b:>10,.0f}{b / a:>8.2f}")


def both(
    model: torch.fx.GraphModule, prompt: torch.Tensor, n: int
) -> dict[str, Callable[[], list[int]]]:
    """netspec's generation of ``n`` tokens with and without the cache."""
    return {
        "netspec cache": lambda: netspec_tokens(model, prompt, n, cache=True),
        "netspec no cache": lambda: netspec_tokens(model, prompt, n, cache=False),
    }


def verdict(a: list[int], b: list[int]) -> str:
    if a == b:
        return f"agree ({len(set(a))} distinct tokens)"
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    return f"DISAGREE (first at token {first})"


if __name__ == "__main__":
    main()
