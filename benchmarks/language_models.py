"""The language-model examples trained end to end: held-out exact match and perplexity.

``specs/arithmetic_gpt.yaml`` (a 2-layer GPT of width 128 learning 3-digit addition) is
trained as written, then scored on its test problems, which it never saw: the exact match of
greedily generated answers (netspec's ``exact_match``), checked here once more through
``netspec.generate`` on a sample of them (the two must agree), and the perplexity of the
answer tokens. ``--text`` also trains ``specs/docs_char_gpt.yaml`` (a character-level GPT
on docs/*.md) and prints its held-out perplexity and a greedy continuation.

Target (docs/language-models.md): test exact match >= 0.9 within a few minutes of CPU.
This is a script, not a test: ``python benchmarks/language_models.py [--epochs N] [--text]``;
it exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.9
CHECKED = 200  # test problems answered again through netspec.generate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    parser.add_argument("--text", action="store_true", help="also train docs_char_gpt.yaml")
    args = parser.parse_args()

    import netspec

    overrides = [f"train.epochs={args.epochs}"] if args.epochs else []
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "arith"
        spec = netspec.load_spec(ROOT / "specs" / "arithmetic_gpt.yaml", overrides)
        start = time.perf_counter()
        result = netspec.train(spec, out=run)
        wall = time.perf_counter() - start
        checked, agree, right = _check_by_generate(netspec, spec, run)
        print(
            f"arithmetic_gpt: {result.epochs_run} epochs, {result.train_seconds:.0f} s of "
            f"training ({wall:.0f} s wall), best epoch {result.best_epoch}"
        )
        print(f"  test exact match   {result.test['exact_match']:.4f}")
        print(f"  test perplexity    {result.test['perplexity']:.4f} (answer tokens)")
        print(
            f"  netspec.generate   {right}/{checked} right, agrees with exact_match on "
            f"{agree}/{checked}"
        )
        ok = result.test["exact_match"] >= TARGET and agree == checked
        if args.text:
            _text(netspec, Path(tmp) / "docs")
    print("target met" if ok else f"TARGET MISSED: exact match below {TARGET} or disagreement")
    return 0 if ok else 1


def _check_by_generate(netspec: Any, spec: Any, run: Path) -> tuple[int, int, int]:
    """(problems checked, agreements, right answers) of ``netspec.generate`` on the first
    test problems: each answer generated from the prompt's text, compared with the true
    answer and with what exact_match's greedy decoding (count_correct) says of it."""
    import torch

    from netspec.data import load_data
    from netspec.sources.tokenizers import IGNORE, load, never_generated
    from netspec.training.exact_match import count_correct

    tokenizer = load(run / "tokenizer.json")
    data = load_data(spec, "language_model", tokenizer=tokenizer)
    model = netspec.load_model(run).eval()
    assert data.test is not None
    x, y = data.test.x, data.test.y
    assert isinstance(x, torch.Tensor)
    agree = right = 0
    cpu = torch.device("cpu")
    checked = min(CHECKED, len(y))
    for i in range(checked):
        trained = (y[i] != IGNORE).nonzero().flatten()
        prompt = tokenizer.decode(x[i, : int(trained[0]) + 1].tolist())
        answer = tokenizer.decode(y[i, trained[:-1]].tolist())  # the last target is <eos>
        got = netspec.generate(run, prompt, max_new_tokens=len(answer) + 1, temperature=0)
        scored = count_correct(
            model,
            x[i : i + 1],
            y[i : i + 1],
            batch_size=1,
            device=cpu,
            vocab_size=tokenizer.vocab_size,
            banned=never_generated(tokenizer),
        )
        right += got == answer
        agree += (got == answer) == bool(scored)
    return checked, agree, right


def _text(netspec: Any, run: Path) -> None:
    result = netspec.train(ROOT / "specs" / "docs_char_gpt.yaml", out=run)
    print(f"docs_char_gpt: {result.epochs_run} epochs, {result.train_seconds:.0f} s of training")
    print(f"  test perplexity    {result.test['perplexity']:.3f} per character")
    print(f"  test accuracy      {result.test['accuracy']:.3f} (next character)")
    text = netspec.generate(run, "netspec validate ", max_new_tokens=120, temperature=0)
    print(f"  greedy continuation of 'netspec validate ': {text!r}")


if __name__ == "__main__":
    sys.exit(main())
