"""Inner tasks for Mnemosyne (installed as ``mnemosyne_lopt.tasks``).

learned_optimization ``Task`` objects on real data that installs with the project
(``mnemosyne-data fetch``).  Importing this package also applies the JAX compatibility layer
(through ``mnemosyne_lopt``).
"""

import mnemosyne_lopt  # noqa: F401  (compat layer before learned_optimization)
from mnemosyne_lopt.tasks.datasets import image_datasets, load_images
from mnemosyne_lopt.tasks.digits import DigitsMLP, DigitsMLPFamily, digits_datasets
from mnemosyne_lopt.tasks.families import image_conv_family, sampled_image_families
from mnemosyne_lopt.tasks.image_mlp import ImageMLP, ImageMLPFamily
from mnemosyne_lopt.tasks.regression import LossScaleFamily, TeacherStudent, TeacherStudentFamily
from mnemosyne_lopt.tasks.text import austen_novels, load_text, text_datasets

__all__ = ["DigitsMLP", "DigitsMLPFamily", "digits_datasets", "image_datasets", "load_images",
           "ImageMLP", "ImageMLPFamily", "LossScaleFamily", "TeacherStudent", "TeacherStudentFamily", "image_conv_family", "sampled_image_families", "austen_novels", "load_text", "text_datasets"]
