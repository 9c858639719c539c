"""The example scripts of examples/ run as documented (their main(argv), a few steps, small models)
and train: the loss falls, and where two optimizers run they start from the same parameters on the
same batches (equal first losses)."""

import importlib.util
import math
import os

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _load(name):
  spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("name,extra", [("flax_linen_mnist", []), ("flax_linen_mnist", ["--mechanic"]),
                                        ("flax_nnx_mnist", []), ("flax_nnx_mnist", ["--mechanic"])])
def test_mnist_examples_train(name, extra):
  out = _load(name).main(["--steps", "30", "--batch_size", "64", "--log_every", "30"] + extra)
  assert math.isfinite(out["test_loss"]) and out["final_loss"] < out["first_loss"]
  assert out["test_accuracy"] > 0.3          # ten classes: chance is 0.1


def test_transformer_lm_example_trains_both_optimizers_from_the_same_start():
  out = _load("flax_transformer_lm").main(
      ["--steps", "30", "--d_model", "32", "--layers", "1", "--heads", "2", "--seq_len", "32",
       "--batch_size", "8", "--eval_batches", "2", "--log_every", "30"])
  assert set(out) == {"adamw", "mnemosyne"}
  assert out["adamw"]["first_loss"] == pytest.approx(out["mnemosyne"]["first_loss"], rel=1e-6)
  assert out["adamw"]["first_loss"] == pytest.approx(math.log(256), rel=0.05)   # uniform over bytes
  for r in out.values():      # 30 steps: both well below the uniform model's ln 256 = 5.55
    assert r["final_loss"] < r["first_loss"] and r["test_loss"] < math.log(256) - 0.3
