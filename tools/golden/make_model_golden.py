#!/usr/bin/env python3
"""Tiny random Hugging Face checkpoints and their reference outputs, for retort's parity tests.

Run where transformers + torch are installed (the GPU machine):
  python3 tools/golden/make_model_golden.py OUT_DIR
For each family (llama, llama31 with llama3 rope scaling, qwen2, qwen3, mistral with a sliding
window) it writes OUT_DIR/<family>/ (config.json + safetensors, as save_pretrained writes them;
llama is saved in shards to cover model.safetensors.index.json) and OUT_DIR/<family>/golden.json:
  sequences[i].ids           token ids (lengths 1 .. 300)
  sequences[i].logprobs      log p(ids[t+1] | ids[:t+1]) for t < T-1, fp32 eager attention on CPU
  sequences[i].last_logprobs the whole log-softmax row at the last position
  greedy[i]                  {prompt, tokens}: generate(do_sample=False, max_new_tokens=24)
Weights are re-drawn with larger spread than the default init (std 0.02 gives near-uniform logits,
which would make the log-prob comparison weak).
"""
import json
import os
import sys

import torch
import transformers
from transformers import (AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config,
                          Qwen3Config)

COMMON = dict(vocab_size=320, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
              bos_token_id=1, eos_token_id=2, pad_token_id=0)

FAMILIES = {
    "llama": LlamaConfig(**COMMON, rms_norm_eps=1e-5, rope_theta=10000.0,
                         tie_word_embeddings=False),
    "llama31": LlamaConfig(**COMMON, rms_norm_eps=1e-5, rope_theta=500000.0,
                           tie_word_embeddings=False,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 64}),
    "qwen2": Qwen2Config(**COMMON, rms_norm_eps=1e-6, rope_theta=1000000.0,
                         tie_word_embeddings=True),
    "qwen3": Qwen3Config(**COMMON, head_dim=32, rms_norm_eps=1e-6, rope_theta=1000000.0,
                         tie_word_embeddings=True, attention_bias=False),
    "mistral": MistralConfig(**COMMON, rms_norm_eps=1e-5, rope_theta=10000.0,
                             tie_word_embeddings=False, sliding_window=48),
}

LENGTHS = [1, 2, 7, 33, 120, 300]


def spread_weights(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen) * (1.5 / fan_in ** 0.5))


def main():
    out_dir = sys.argv[1]
    torch.manual_seed(0)
    for family, config in FAMILIES.items():
        gen = torch.Generator().manual_seed(1234)
        config._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager",
                                                 dtype=torch.float32)
        spread_weights(model, gen)
        model.eval()
        path = os.path.join(out_dir, family)
        shard = "150KB" if family == "llama" else "50MB"
        model.save_pretrained(path, max_shard_size=shard)
        seqs = []
        for length in LENGTHS:
            ids = torch.randint(3, config.vocab_size, (1, length), generator=gen)
            with torch.no_grad():
                logits = model(ids).logits.float()
            logp = torch.log_softmax(logits[0], dim=-1)
            nxt = logp[:-1].gather(1, ids[0, 1:, None])[:, 0] if length > 1 else logp[:0, 0]
            seqs.append({"ids": ids[0].tolist(), "logprobs": nxt.tolist(),
                         "last_logprobs": logp[-1].tolist()})
        greedy = []
        for length in (1, 9):
            prompt = torch.randint(3, config.vocab_size, (1, length), generator=gen)
            with torch.no_grad():
                outs = model.generate(prompt, do_sample=False, max_new_tokens=24, min_new_tokens=24,
                                      attention_mask=torch.ones_like(prompt))
            greedy.append({"prompt": prompt[0].tolist(), "tokens": outs[0, length:].tolist()})
        golden = {"generator": "tools/golden/make_model_golden.py",
                  "transformers_version": transformers.__version__,
                  "torch_version": torch.__version__, "family": family,
                  "sequences": seqs, "greedy": greedy}
        with open(os.path.join(path, "golden.json"), "w") as f:
            json.dump(golden, f)
        print(family, sorted(os.listdir(path)),
              json.load(open(os.path.join(path, "config.json"))))


if __name__ == "__main__":
    main()
