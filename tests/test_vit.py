"""ViT tasks on real Fashion-MNIST / MNIST: sizes, label splits, Adam, pre-training, fine-tuning."""

import json
import os

import jax
import numpy as np
import pytest

from mnemosyne_lopt.tasks import datasets as image_data
from mnemosyne_lopt.tasks import vit


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


def _vit_closed_form(p, c, d, layers, f, k, s):
  """Parameters of ``vit.ViT`` written out by hand (module docstring)."""
  n = (s // p) ** 2
  block = 2 * 2 * d + 4 * (d * d + d) + (d * f + f) + (f * d + d)
  return p * p * c * d + d + d + (n + 1) * d + layers * block + 2 * d + d * k + k


def test_parameter_count_matches_closed_form():
  for p, c, d, layers, heads, f, k, s in ((7, 1, 32, 2, 2, 64, 10, 28), (4, 3, 48, 3, 4, 96, 7, 32)):
    task = vit.ViTClassifier(patch_size=p, hidden_size=d, num_layers=layers, num_heads=heads,
                             mlp_dim=f, num_classes=k, image_size=s, channels=c)
    shapes = jax.eval_shape(task.init, jax.random.PRNGKey(0))
    assert _count(shapes) == _vit_closed_form(p, c, d, layers, f, k, s)


def test_label_split_keeps_only_those_classes_relabelled():
  ds = vit.label_split_datasets("fashion_mnist", "5-9", batch_size=4096, seed=3)
  _, _, _, test_y = image_data.load_images("fashion_mnist")
  batch = next(ds.test)
  assert set(np.unique(batch["label"])) <= set(range(5))
  assert ds.extra_info["num_classes"] == 5
  # The test split keeps exactly the 5,000 test images of classes 5-9.
  assert ds.test._n == int(np.sum(test_y >= 5))  # pylint: disable=protected-access
  assert vit.parse_labels("0,2,4-5") == (0, 2, 4, 5)
  with pytest.raises(ValueError, match="0..9"):
    vit.parse_labels("3-12")


def test_shipped_checkpoint_and_finetune_starts_from_it():
  config, params = vit.load_checkpoint()
  assert config["dataset"] == "fashion_mnist" and config["labels"] == "0-4"
  task = vit.ViTFineTune(labels="5-9", batch_size=64)
  init = task.init(jax.random.PRNGKey(1))
  assert init["head"]["kernel"].shape == (config["hidden_size"], 5)
  for k in params:
    if k != "head":
      jax.tree_util.tree_map(lambda a, b: np.testing.assert_array_equal(a, b), init[k], params[k])
  # Fine-tuning from the pre-trained body beats the same ViT trained from scratch over 50 Adam
  # steps on the same batches (Fashion-MNIST classes 5-9).
  scratch = vit.ViTClassifier("fashion_mnist", "5-9", **{k: config[k] for k in (
      "patch_size", "hidden_size", "num_layers", "num_heads", "mlp_dim")}, batch_size=64)
  _, ft_losses = vit.train_adam(task, 50)
  _, sc_losses = vit.train_adam(scratch, 50)
  # Both heads are zero at init: the first losses are exactly log(5); both fall under Adam.
  np.testing.assert_allclose([ft_losses[0], sc_losses[0]], np.log(5.0), rtol=1e-5)
  assert np.mean(sc_losses[-10:]) < 0.8 * np.log(5.0)
  assert np.mean(ft_losses[-10:]) < 0.7 * np.log(5.0)
  assert np.mean(ft_losses[-10:]) < np.mean(sc_losses[-10:])


def test_frozen_body_trains_only_the_head():
  task = vit.ViTFineTune(dataset="mnist_5k", labels="0-4", freeze_body=True, batch_size=64)
  params = task.init(jax.random.PRNGKey(0))
  assert list(params) == ["head"]
  before = jax.tree_util.tree_map(np.array, task.body)
  trained, losses = vit.train_adam(task, 50, learning_rate=1e-2)
  assert list(trained) == ["head"]
  assert np.mean(losses[-5:]) < 0.8 * np.log(5.0)
  jax.tree_util.tree_map(np.testing.assert_array_equal, before, task.body)
  # The frozen body is exactly the checkpoint's.
  _, ckpt = vit.load_checkpoint()
  jax.tree_util.tree_map(np.testing.assert_array_equal, task.body,
                         {k: v for k, v in ckpt.items() if k != "head"})


def test_pretrain_command_writes_a_checkpoint_finetune_reads(tmp_path):
  out = str(tmp_path / "vit")
  rc = vit.main(["--dataset", "mnist_5k", "--labels", "0-4", "--steps", "3", "--batch_size", "16",
                 "--hidden_size", "16", "--num_layers", "1", "--mlp_dim", "16", "--out", out])
  assert rc == 0
  report = json.load(open(os.path.join(out, "pretrain.json")))
  assert report["config"]["hidden_size"] == 16 and report["steps"] == 3
  assert report["command"].startswith("mnemosyne-vit-pretrain --dataset mnist_5k")
  config, params = vit.load_checkpoint(out)
  task = vit.ViTFineTune(checkpoint=out, dataset="mnist_5k", labels="5-9")
  init = task.init(jax.random.PRNGKey(0))
  np.testing.assert_array_equal(init["embedding"]["kernel"], params["embedding"]["kernel"])
  assert _count(init) == report["num_params"]  # 5 classes before and after
  del config


def test_missing_checkpoint_names_the_command(tmp_path):
  with pytest.raises(FileNotFoundError, match="mnemosyne-vit-pretrain --dataset"):
    vit.ViTFineTune(checkpoint=str(tmp_path / "nothing"))
  bad = tmp_path / "bad.msgpack"
  bad.write_bytes(b"not msgpack")
  with pytest.raises(ValueError, match="not a ViT checkpoint"):
    vit.load_checkpoint(str(bad))


def test_grey_data_refuse_a_three_channel_vit():
  task = vit.ViTClassifier(channels=3)
  with pytest.raises(ValueError, match="1 channel"):
    _ = task.datasets
  with pytest.raises(ValueError, match="divisible by the patch size"):
    vit.ViTClassifier(patch_size=5).init(jax.random.PRNGKey(0))
