"""reparameterize (layers/latent.py): shape errors, eval returns the mean, the sampling
statistics and gradients in train mode, seeded reproducibility, the ejected model.py."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from typing import Any

import pytest
import torch
from ejected import import_file

import netspec
from netspec.backend import modules
from netspec.backend.build import class_name
from netspec.backend.eject import model_source
from netspec.errors import SpecError
from netspec.layers import registry

ROOT = pathlib.Path(__file__).parents[1]


def vae_encoder(latent: int = 4, sample: str = "reparameterize") -> dict[str, Any]:
    """An encoder whose output is a sample of the latent code: x -> (mean, log_var) -> z."""
    return {
        "name": "vae_encoder",
        "input": [10],
        "layers": [
            {"dense": {"units": 16, "activation": "relu", "name": "h"}},
            {"dense": {"units": latent, "from": "h", "name": "mean"}},
            {"dense": {"units": latent, "from": "h", "name": "log_var"}},
            {sample: {"from": ["mean", "log_var"], "name": "z"}},
        ],
    }


# ---- plan ----------------------------------------------------------------------------------


def test_alias_sampling_is_reparameterize() -> None:
    assert registry.resolve("sampling") == "reparameterize"
    p = netspec.plan(vae_encoder(sample="sampling"))
    z = p.layers[-1]
    assert z.type == "reparameterize"
    assert z.out.shape == (4,)
    assert (z.params, z.macs) == (0, 0)


def test_symbolic_shapes_pass_through() -> None:
    p = netspec.plan(
        {
            "name": "seq",
            "input": ["T", 6],
            "layers": [
                {"dense": {"units": 3, "name": "mean"}},
                {"dense": {"units": 3, "from": "input", "name": "log_var"}},
                {"reparameterize": {"from": ["mean", "log_var"]}},
            ],
        }
    )
    assert tuple(str(d) for d in p.output.shape) == ("T", "3")


def test_different_shapes_are_a_shape_error() -> None:
    s = vae_encoder()
    s["layers"][2]["dense"]["units"] = 5
    with pytest.raises(SpecError, match=r"error\[shape\].*same shape") as info:
        netspec.plan(s)
    assert "mean (N, 4), log_var (N, 5)" in str(info.value)


def test_one_input_is_refused() -> None:
    s = vae_encoder()
    s["layers"][3] = {"reparameterize": {"from": "mean"}}
    with pytest.raises(SpecError, match=r"reparameterize"):
        netspec.plan(s)


# ---- the module ----------------------------------------------------------------------------


def test_eval_returns_the_mean_exactly() -> None:
    layer = modules.Reparameterize().eval()
    mean, log_var = torch.randn(8, 5), torch.randn(8, 5)
    assert torch.equal(layer(mean, log_var), mean)


def test_train_samples_have_the_given_mean_and_variance() -> None:
    torch.manual_seed(0)
    layer = modules.Reparameterize().train()
    n = 200_000
    mean = torch.tensor([-2.0, 0.0, 3.0]).expand(n, 3)
    log_var = torch.tensor([0.0, 1.5, -2.0]).expand(n, 3)
    z = layer(mean, log_var)
    # Standard errors: sigma / sqrt(n) for the mean, about sigma^2 * sqrt(2 / n) for the
    # variance; 6 of them is far beyond chance at this n.
    torch.testing.assert_close(z.mean(0), mean[0], atol=6 * 2.2 / n**0.5, rtol=0)
    torch.testing.assert_close(z.var(0), log_var[0].exp(), rtol=6 * (2 / n) ** 0.5, atol=0)
    assert not torch.equal(z[0], z[1])  # fresh noise per sample


def test_gradients_reach_both_inputs() -> None:
    layer = modules.Reparameterize().train()
    mean = torch.zeros(4, 3, requires_grad=True)
    log_var = torch.zeros(4, 3, requires_grad=True)
    torch.manual_seed(1)
    z = layer(mean, log_var)
    eps = z.detach()  # mean 0, sigma 1: the sample is eps itself
    z.sum().backward()
    assert mean.grad is not None
    assert log_var.grad is not None
    torch.testing.assert_close(mean.grad, torch.ones(4, 3))
    torch.testing.assert_close(log_var.grad, 0.5 * eps)  # d/dlv exp(lv / 2) eps at lv = 0


def test_seeded_samples_repeat() -> None:
    model = netspec.build_model(vae_encoder(), seed=0).train()
    x = torch.randn(6, 10)
    torch.manual_seed(7)
    first = model(x)
    torch.manual_seed(7)
    again = model(x)
    later = model(x)
    assert torch.equal(first, again)
    assert not torch.equal(first, later)


def test_built_model_samples_in_train_and_returns_the_mean_in_eval() -> None:
    model = netspec.build_model(vae_encoder(), seed=0)
    x = torch.randn(6, 10)
    with torch.no_grad():
        hidden = torch.relu(model.h(x))
        mean = model.mean(hidden)
        model.eval()
        torch.testing.assert_close(model(x), mean)
        model.train()
        assert not torch.allclose(model(x), mean)


# ---- model.py ------------------------------------------------------------------------------


def test_ejected_model_py_equals_the_built_module(tmp_path: pathlib.Path) -> None:
    s = vae_encoder()
    p = netspec.plan(s)
    built = netspec.build_model(s, seed=0).eval()
    source = model_source(p)
    assert "class Reparameterize(nn.Module):" in source
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    ejected = getattr(import_file(path, "netspec_latent_eject"), class_name(p.name))()
    ejected.load_state_dict(built.state_dict(), strict=True)
    ejected.eval()
    x = torch.randn(3, 10)
    with torch.no_grad():
        torch.testing.assert_close(ejected(x), built(x))
    # and in train mode, from one seed, the same sample
    ejected.train()
    built.train()
    torch.manual_seed(3)
    want = built(x)
    torch.manual_seed(3)
    torch.testing.assert_close(ejected(x), want)


def test_latent_file_does_not_import_torch() -> None:
    code = "import sys; import netspec.layers.latent; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "False"
