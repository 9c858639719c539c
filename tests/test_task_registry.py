"""Task registry, paper-scale parameter counts, sharding rule and `mnemosyne-tasks` memory/list."""

import jax
import numpy as np
import pytest

from mnemosyne_lopt.tasks import cli
from mnemosyne_lopt.tasks import memory
from mnemosyne_lopt.tasks import registry


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


# Published sizes (timm's vit_*_224 models, 1,000 classes, no pre-logits layer).
@pytest.mark.parametrize("name,expected", [("vit_b16", 86_567_656), ("vit_l16", 304_326_632),
                                           ("vit_h14", 632_045_800)])
def test_paper_scale_vit_counts(name, expected):
  trainable, frozen = registry.param_shapes(name)
  assert _count(trainable) == expected and frozen is None


def test_paper_36_layer_vit_h_is_vit_h14_plus_four_blocks():
  d, f = 1280, 5120
  block = 2 * 2 * d + 4 * (d * d + d) + d * f + f + f * d + d
  assert _count(registry.param_shapes("vit_h14_36l")[0]) == 632_045_800 + 4 * block


def test_shapes_allocate_nothing():
  before = sum(x.nbytes for x in jax.live_arrays())
  trainable, _ = registry.param_shapes("vit_h14")
  report = memory.memory_report(trainable, "8")
  after = sum(x.nbytes for x in jax.live_arrays())
  assert after - before < 1 << 20  # 632M parameters would be 2.5 GB
  assert report.params == 632_045_800 * 4 // 8 + _replicated_bytes_vit_h14(trainable, 8)


def _replicated_bytes_vit_h14(trainable, n):
  # Each tensor is split by n if one of its dimensions is divisible by n, else replicated: the
  # extra bytes of replication are (n - 1) / n of those tensors on every device.
  extra = 0
  for leaf in jax.tree_util.tree_leaves(trainable):
    if not any(s % n == 0 for s in leaf.shape):
      extra += int(np.prod(leaf.shape)) * 4 * (n - 1) // n
  return extra


def test_partition_spec_rule():
  assert memory.partition_spec((64, 32), (8, 1)) == ("data", None)
  assert memory.partition_spec((32, 64), (8, 4)) == ("model", "data")
  assert memory.partition_spec((10,), (4, 2)) == ("model",)
  assert memory.partition_spec((), (8, 1)) == ()
  assert memory.parse_mesh("16x16") == (16, 16) and memory.parse_mesh("8") == (8, 1)
  with pytest.raises(ValueError, match="DATAxMODEL"):
    memory.parse_mesh("8x")


def test_memory_against_hand_computation(capsys):
  # MLP[32] on 8x8 images: w0 [64, 32], b0 [32], w1 [32, 10], b1 [10], float32.
  trainable, _ = registry.param_shapes("image_mlp_fashion_mnist8_32")
  assert _count(trainable) == 64 * 32 + 32 + 32 * 10 + 10
  # Mesh 8 (data only): w0 split on 64, b0 on 32, w1 on 32, b1 (10) replicated.
  p8 = (64 * 32 * 4) // 8 + (32 * 4) // 8 + (32 * 10 * 4) // 8 + 10 * 4
  # Mesh 4x2: w0 split 4 x 2, b0 by 4, w1 [32, 10] 4 x 2, b1 by 2 over the model axis.
  p42 = (64 * 32 * 4) // 8 + (32 * 4) // 4 + (32 * 10 * 4) // 8 + (10 * 4) // 2
  # Mnemosyne's CAM memory: each tensor is under 1 meta-token, so the tree's memory has S = 4
  # streams, N [4, r, d] and Psi [4, r] (too few streams to be padded); split along S over the
  # mesh axes whose sizes divide 4: none of mesh 8 (replicated), the data axis of mesh 4x2.
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  lopt = mnemosyne_lopt.MnemosyneLOpt()
  r, d = lopt.cam_features, lopt.model_dim
  cam8 = 4 * (r * d + r) * 4
  cam42 = 4 * (r * d + r) * 4 // 4
  # v2 (the default) carries no per-chunk moment sums (v1 carries S x 16 rows of 2 floats).
  assert lopt.num_moment_rows([(64, 32)]) == 0
  moments = 0
  for mesh, p, cam in (("8", p8, cam8), ("4x2", p42, cam42)):
    rep = memory.memory_report(trainable, mesh)
    assert rep.params == rep.grads == p
    assert rep.adam_state == 2 * p + 4  # mu, nu and an int32 count
    assert rep.mnemosyne_state == 2 * p + cam + moments + 3 * 4  # m, v, CAM, moments, 3 counters
  assert cli.main(["memory", "--task", "image_mlp_fashion_mnist8_32", "--mesh", "8"]) == 0
  out = capsys.readouterr().out
  assert f"params: {memory.human(p8)}" in out and f"Adam state: {memory.human(2 * p8 + 4)}" in out
  assert memory.human(p8) == "1.21 KiB"


def test_cli_list_and_errors(capsys):
  assert cli.main(["list", "--family", "vit"]) == 0
  out = capsys.readouterr().out
  assert "vit_b16" in out and "86,567,656" in out and "vit_tiny_finetune" in out
  assert cli.main(["memory", "--task", "no_such_task", "--mesh", "8"]) == 1
  assert "mnemosyne-tasks list" in capsys.readouterr().err


@pytest.mark.parametrize("name,h,layers,i,published", [("bert_base", 768, 12, 3072, 110e6),
                                                        ("bert_large", 1024, 24, 4096, 335e6)])
def test_paper_scale_bert_counts(name, h, layers, i, published):
  pytest.importorskip("mnemosyne_lopt.tasks.text_tasks")
  from mnemosyne_lopt.tasks import bert  # pylint: disable=g-import-not-at-top
  n = _count(registry.param_shapes(name)[0])
  # Encoder without pooler (closed form) + masked-LM head: transform H^2 + H, LayerNorm 2H, bias V.
  expected = bert.param_count(30522, h, layers, i, 512, 2, pooler=False) + h * h + 3 * h + 30522
  assert n == expected and abs(n - published) / published < 0.01


def test_vit_h_cam_memory_splits_over_256_devices():
  # ViT-H/14's memory has thousands of streams, padded to a multiple of 1024: at 256 devices each
  # holds 1/256 of it, like its 1/256 of m and v.
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  lopt = mnemosyne_lopt.MnemosyneLOpt()
  trainable, _ = registry.param_shapes("vit_h14")
  shapes = [tuple(l.shape) for l in jax.tree_util.tree_leaves(trainable)]
  streams = lopt.num_memory_streams(shapes)
  assert streams % 1024 == 0 and streams < 1.2 * sum(lopt.num_streams(s) for s in shapes)
  rep = memory.memory_report(trainable, "256")
  cam_bytes = streams * (lopt.cam_features * lopt.model_dim + lopt.cam_features) * 4
  assert rep.mnemosyne_state == 2 * rep.params + cam_bytes // 256 + 3 * 4   # v2: no moment sums
  assert rep.mnemosyne_state < 1.1 * rep.adam_state
