"""Registry of the project's inner tasks and task families, by name.

Every module can add its tasks: ``register(Entry(name, family, factory, ...))``.  An entry names a
factory as ``"module:callable"`` (imported only when the entry is used, so listing does not
import every model) and optionally a gin file under ``gin_configs/`` whose bindings are scoped by
the entry's name::

  # gin_configs/tasks/vit_b16.gin
  vit_b16/ViTClassifier.hidden_size = 768

``build(name)`` parses that file and calls the factory inside ``gin.config_scope(name)``, so all
paper-scale files can be loaded side by side.  The same file works in a user's own gin set-up:
``gin.parse_config_file(gin_configs.path("tasks/vit_b16.gin"))`` then
``with gin.config_scope("vit_b16"): task = ViTClassifier()``.

``param_shapes(name)`` returns (trainable, frozen) trees of ``jax.ShapeDtypeStruct`` from
``jax.eval_shape`` (nothing allocated): ``task.init`` for a task, ``task_fn(sample(key)).init``
for a family; a task that keeps frozen parameters (prompt-tuning's body) exposes them as
``task.frozen_param_shapes()``.
"""

import dataclasses
import importlib
from typing import Any, Callable, Dict, List, Optional, Tuple

import gin
import jax

from mnemosyne_lopt import gin_configs


@dataclasses.dataclass(frozen=True)
class Entry:
  """A registered task or task family.

  Attributes:
    name: registry name (also the gin scope of ``gin_file``'s bindings).
    family: model family shown by ``mnemosyne-tasks list`` ("image_mlp", "vit", "t5", ...).
    factory: "module:callable" returning a learned_optimization Task or TaskFamily.
    gin_file: path under gin_configs/ (e.g. "tasks/vit_b16.gin"), or None.
    kwargs: keyword arguments of the factory (besides gin).
    description: one line.
    runs_here: False for paper-scale entries (shapes only on this machine).
  """
  name: str
  family: str
  factory: str
  gin_file: Optional[str] = None
  kwargs: Tuple[Tuple[str, Any], ...] = ()
  description: str = ""
  runs_here: bool = True


_REGISTRY: Dict[str, Entry] = {}
_PARSED = set()


def register(entry: Entry) -> Entry:
  if entry.name in _REGISTRY and _REGISTRY[entry.name] != entry:
    raise ValueError(f"A task named {entry.name!r} is already registered; choose another name.")
  _REGISTRY[entry.name] = entry
  return entry


def names() -> List[str]:
  return list(_REGISTRY)


def get(name: str) -> Entry:
  if name not in _REGISTRY:
    raise KeyError(f"No task named {name!r}; `mnemosyne-tasks list` shows the registered ones.")
  return _REGISTRY[name]


def _factory(entry: Entry) -> Callable:
  module, attr = entry.factory.split(":")
  return getattr(importlib.import_module(module), attr)


def build(name: str):
  """The Task or TaskFamily of entry ``name`` (data are read when the task first needs them)."""
  entry = get(name)
  factory = _factory(entry)
  if entry.gin_file is None:
    return factory(**dict(entry.kwargs))
  path = gin_configs.path(entry.gin_file)
  if path not in _PARSED:
    with gin.unlock_config():
      gin.parse_config_file(path)
    _PARSED.add(path)
  with gin.config_scope(name):
    return factory(**dict(entry.kwargs))


def param_shapes(name_or_task) -> Tuple[Any, Any]:
  """(trainable, frozen) parameter shapes of a registered name or a built task / family."""
  task = build(name_or_task) if isinstance(name_or_task, str) else name_or_task
  key = jax.random.PRNGKey(0)
  if hasattr(task, "task_fn"):  # a TaskFamily: shapes of one sampled task
    trainable = jax.eval_shape(lambda k: task.task_fn(task.sample(k)).init(k), key)
    frozen = None
  else:
    trainable = jax.eval_shape(task.init, key)
    frozen = task.frozen_param_shapes() if hasattr(task, "frozen_param_shapes") else None
  return trainable, frozen


# ----------------------------------------------------------------------------- the project's entries

_T = "mnemosyne_lopt.tasks"
for _e in (
    Entry("image_mlp_fashion_mnist8_32", "image_mlp", f"{_T}.image_mlp:ImageMLP",
          kwargs=(("dataset", "fashion_mnist"), ("image_size", 8), ("hidden_sizes", (32,))),
          description="MLP[32] ReLU on 8x8 Fashion-MNIST"),
    Entry("image_mlp_mnist_5k_128x64", "image_mlp", f"{_T}.image_mlp:ImageMLP",
          kwargs=(("dataset", "mnist_5k"), ("image_size", 28), ("hidden_sizes", (128, 64))),
          description="MLP[128, 64] ReLU on 28x28 MNIST (5k)"),
    Entry("image_mlp_family_fashion_mnist8_32", "image_mlp", f"{_T}.image_mlp:ImageMLPFamily",
          kwargs=(("dataset", "fashion_mnist"), ("image_size", 8), ("hidden_sizes", (32,))),
          description="family: MLP[32] on 8x8 Fashion-MNIST, sampled activation and init scale"),
    Entry("image_conv_family_fashion_mnist28_16x32", "image_conv",
          f"{_T}.families:image_conv_family",
          kwargs=(("dataset", "fashion_mnist"), ("image_size", 28), ("hidden_sizes", (16, 32))),
          description="family: learned_optimization's ParametricImageConv, conv[16, 32] stride 2, "
                      "28x28 Fashion-MNIST, sampled activation and initialiser"),
    Entry("digits_mlp_family_32x32", "image_mlp", f"{_T}.digits:DigitsMLPFamily",
          kwargs=(("hidden_sizes", (32, 32)),),
          description="family: MLP[32, 32] on scikit-learn 8x8 digits"),
    Entry("vit_tiny", "vit", f"{_T}.vit:ViTClassifier", "tasks/vit_tiny.gin",
          description="tiny ViT (P7, D32, 2 layers) on 28x28 Fashion-MNIST"),
    Entry("vit_tiny_finetune", "vit", f"{_T}.vit:ViTFineTune", "tasks/vit_tiny_finetune.gin",
          description="shipped tiny ViT (Fashion-MNIST 0-4) fine-tuned on classes 5-9, new head"),
    Entry("vit_b16", "vit", f"{_T}.vit:ViTClassifier", "tasks/vit_b16.gin",
          description="ViT-B/16, 224x224x3, 1000 classes", runs_here=False),
    Entry("vit_l16", "vit", f"{_T}.vit:ViTClassifier", "tasks/vit_l16.gin",
          description="ViT-L/16, 224x224x3, 1000 classes", runs_here=False),
    Entry("vit_h14", "vit", f"{_T}.vit:ViTClassifier", "tasks/vit_h14.gin",
          description="ViT-H/14, 224x224x3, 1000 classes", runs_here=False),
    Entry("vit_h14_36l", "vit", f"{_T}.vit:ViTClassifier", "tasks/vit_h14_36l.gin",
          description="the paper's ViT-H: 36 layers, 16 heads (width 1280, MLP 5120)",
          runs_here=False),
    Entry("t5_tiny_pretrain", "t5", f"{_T}.t5:T5SpanCorruption", "tasks/t5_tiny_pretrain.gin",
          description="tiny byte-level T5, span corruption on the KJV and Austen"),
    Entry("t5_tiny_prompt", "t5", f"{_T}.t5:T5PromptTune", "tasks/t5_tiny_prompt.gin",
          description="soft prompt (8 vectors) on the shipped frozen tiny T5: KJV or Austen?"),
    Entry("t5_base_prompt", "t5", f"{_T}.t5:T5PromptTune", "tasks/t5_base_prompt.gin",
          description="soft prompt (100) on a frozen T5-base (v1.0)", runs_here=False),
    Entry("t5_xxl_prompt", "t5", f"{_T}.t5:T5PromptTune", "tasks/t5_xxl_prompt.gin",
          description="soft prompt (100) on a frozen T5-XXL (v1.1)", runs_here=False),
    Entry("bert_base", "bert", f"{_T}.text_tasks:BertMLMTask", "tasks/bert_base.gin",
          description="BERT-base masked LM, WordPiece, 512 positions", runs_here=False),
    Entry("bert_large", "bert", f"{_T}.text_tasks:BertMLMTask", "tasks/bert_large.gin",
          description="BERT-large masked LM, WordPiece, 512 positions", runs_here=False),
):
  register(_e)
