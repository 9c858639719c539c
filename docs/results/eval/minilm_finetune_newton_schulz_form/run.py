"""MiniLM fine-tuning with mnemosyne() as shipped, Newton-Schulz form forced (direct|gram), seeds given."""
import json, sys, time
import mnemosyne_lopt
from mnemosyne_lopt import orthogonalize, evaluation

form, seeds, out = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], sys.argv[3]
if form == "direct":
  orthogonalize._newton_schulz_gram = orthogonalize._newton_schulz_direct
opt = evaluation.make_optimizer("mnemosyne:pretrained/orthogonal")
spec = [s for s in evaluation.suite("held_out") if s.name == "minilm_finetune_austen"][0]
cache, res = {}, {}
for seed in seeds:
  t = time.time()
  r = evaluation.run_one(opt, opt.hyper, spec, seed, spec.num_steps, cache)
  res[seed] = {"final_test": r["final_test"], "final_valid": r["final_valid"], "test": r.get("test")}
  print(form, seed, "test", r["final_test"], "valid", r["final_valid"], f"{time.time()-t:.0f}s", flush=True)
  json.dump(res, open(out, "w"), indent=1, default=float)
