"""Shared by the benchmark scripts: which code a measurement was made with."""

import os

def code_version() -> dict:
  """Which code was measured: git HEAD, whether mnemosyne_lopt/ has uncommitted changes, and a
  sha256 (first 12 hex digits) over the package's .py files (the package is edited often)."""
  import hashlib
  import subprocess
  pkg = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mnemosyne_lopt")
  digest = hashlib.sha256()
  for name in sorted(os.listdir(pkg)):
    if name.endswith(".py"):
      with open(os.path.join(pkg, name), "rb") as f:
        digest.update(name.encode() + b"\0" + f.read())
  info = dict(package_sha256=digest.hexdigest()[:12])
  try:
    root = os.path.dirname(pkg)
    info["git_head"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                      capture_output=True, text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "mnemosyne_lopt"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.strip()
    info["package_modified_since_head"] = bool(dirty)
  except (OSError, subprocess.CalledProcessError):
    pass
  return info


def memory_stats(compiled) -> dict:
  """Buffer sizes XLA assigned to a compiled computation (``compiled.memory_analysis()``), bytes.

  ``peak_bytes`` = argument + output + temp - alias: the inputs, the outputs that could not be
  written into donated inputs, and the scratch space, all live at once at worst.  Nothing is
  allocated to find it.
  """
  m = compiled.memory_analysis()
  out = dict(argument_bytes=int(m.argument_size_in_bytes), output_bytes=int(m.output_size_in_bytes),
             temp_bytes=int(m.temp_size_in_bytes), alias_bytes=int(m.alias_size_in_bytes))
  out["peak_bytes"] = (out["argument_bytes"] + out["output_bytes"] + out["temp_bytes"]
                       - out["alias_bytes"])
  return out
