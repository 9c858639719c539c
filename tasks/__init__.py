"""Inner tasks for Mnemosyne (installed as ``mnemosyne_lopt.tasks``).

learned_optimization ``Task`` objects on real data that installs with the project.  Importing this
package also applies the JAX compatibility layer (through ``mnemosyne_lopt``).
"""

import mnemosyne_lopt  # noqa: F401  (compat layer before learned_optimization)
from mnemosyne_lopt.tasks.digits import DigitsMLP, digits_datasets

__all__ = ["DigitsMLP", "digits_datasets"]
