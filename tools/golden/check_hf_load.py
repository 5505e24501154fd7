#!/usr/bin/env python3
"""Checks that a checkpoint saved by retort loads in transformers and gives retort's numbers.

  python3 tools/golden/check_hf_load.py MODEL_DIR RETORT_LOGPROBS.jsonl OUT.json
RETORT_LOGPROBS.jsonl is `retort logprobs --model MODEL_DIR --input ...` output: one record per
line with "ids" and "logprobs". Loads MODEL_DIR with AutoModelForCausalLM (strictly: missing or
unexpected weights fail), recomputes the log-probs in fp32 and writes the max |difference| and
transformers' own log-probs (kept as a fixture for a CPU test of the saved directory).
Exit status 1 if it exceeds 1e-4.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM


def main():
    model_dir, retort_path, out_path = sys.argv[1:4]
    model, info = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    model.eval()
    worst = 0.0
    reference = []
    records = [json.loads(line) for line in open(retort_path) if line.strip()]
    for rec in records:
        ids = torch.tensor([rec["ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
        ref = logp[:-1].gather(1, ids[0, 1:, None])[:, 0]
        reference.append({"ids": rec["ids"], "logprobs": ref.tolist()})
        got = torch.tensor(rec["logprobs"])
        worst = max(worst, (ref - got).abs().max().item() if len(got) else 0.0)
    result = {"model_dir": model_dir, "records": len(records), "max_abs_diff": worst,
              "loading_problems": {k: list(map(str, v)) for k, v in problems.items()},
              "architectures": model.config.architectures,
              "transformers_logprobs": reference}
    json.dump(result, open(out_path, "w"), indent=1)
    print(json.dumps(result))
    sys.exit(0 if worst <= 1e-4 and not problems else 1)


if __name__ == "__main__":
    main()
