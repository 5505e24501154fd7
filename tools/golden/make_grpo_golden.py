#!/usr/bin/env python3
"""Golden values for retort's GRPO update math (rl/advantage, rl/grpo_loss), in pure Python.

  python3 tools/golden/make_grpo_golden.py > tests/fixtures/rl/grpo_golden.json
No torch, no numpy: every number comes from the published formulas written out with `math`, and
every gradient is derived by hand below (not by autograd), so the C++ autograd is checked against
an independent derivation. Inputs are drawn from random.Random(SEED).

Formulas (DESIGN.md §4):
  advantage  A_i = (r_i - mean_g) / (std_g + eps), std unbiased (n - 1) as torch.std in TRL;
             scaling "group" (DeepSeekMath arXiv:2402.03300), "batch" (std of all scorable rewards),
             "none" (Dr. GRPO arXiv:2503.20783: A = r - mean_g). Unscorable samples are left out
             of mean and std and get A = 0; a group with < 2 scorable samples or all-equal scorable
             rewards gets A = 0.
  ratio      token: rho_it = exp(logp_it - old_it); sequence (GSPO arXiv:2507.18071):
             rho_i = exp(sum_t m_it (logp_it - old_it) / L_i), L_i = max(sum_t m_it, 1).
  per token  l_it = -min(rho A_i, clip(rho, 1 - eps_low, 1 + eps_high) A_i) + beta k3_it,
             k3 = exp(ref - logp) - (ref - logp) - 1 (Schulman's k3; DeepSeekMath eq. 4).
  aggregate  total = sum_it w_it l_it with w_it = m_it c_i:
             grpo     c_i = 1 / (D L_i), D = N            (mean over sequences of token means)
             dapo     c_i = 1 / D,       D = sum m        (token mean over the batch, DAPO)
             dr_grpo  c_i = 1 / D,       D = N T_max      (Dr. GRPO's constant normaliser)
             a case's "normalizer" (if > 0) replaces D, as a caller does when it sums the losses
             of several micro-batches.
Gradients with respect to logp:
  d(-min(rho A, clip(rho) A)) / d rho = 0 where the clip binds (rho < 1 - eps_low with A < 0, or
  rho > 1 + eps_high with A > 0: there the clipped term is the smaller and clip' = 0), else -A.
  token level:    d rho_it / d logp_it = rho_it.
  sequence level: d rho_i / d logp_it = rho_i m_it / L_i, and rho_i feeds every token of row i.
  d k3 / d logp = 1 - exp(ref - logp).
"""
import json
import math
import random

SEED = 20250301
N, G, T = 6, 3, 5
GSPO_CLIP = (3e-4, 4e-4)  # the GSPO paper's clip range (sequence-level ratios sit near 1)


def draw_loss_batch(rng):
    lengths = [T, 0] + [rng.randint(1, T) for _ in range(N - 2)]  # a full row and a masked row
    rng.shuffle(lengths)
    mask = [[1 if t < lengths[i] else 0 for t in range(T)] for i in range(N)]
    logp = [[rng.uniform(-3.0, -0.05) for _ in range(T)] for _ in range(N)]
    # Rollout log-probs within ±0.4 of the policy's: ratios in [0.67, 1.49], so both clip
    # boundaries are crossed at token level, and sequence means cross GSPO's narrow range.
    old = [[x + rng.uniform(-0.4, 0.4) for x in row] for row in logp]
    ref = [[x + rng.uniform(-0.5, 0.5) for x in row] for row in logp]
    adv = [rng.uniform(-1.5, 1.5) for _ in range(N)]
    adv[rng.randrange(N)] = 0.0  # a sample without signal
    return {"N": N, "G": G, "T": T, "logp": logp, "old_logp": old, "ref_logp": ref,
            "advantages": adv, "mask": mask}


def k3(ref, lp):
    d = ref - lp
    return math.exp(d) - d - 1.0


def grpo_case(b, aggregation, level, beta, clip_low, clip_high, normalizer=0.0, t_max=0):
    logp, old, ref, adv, mask = b["logp"], b["old_logp"], b["ref_logp"], b["advantages"], b["mask"]
    lengths = [max(sum(row), 1) for row in mask]
    tokens = sum(sum(row) for row in mask)
    if aggregation == "grpo":
        denom = normalizer or N
        c = [1.0 / (denom * lengths[i]) for i in range(N)]
    elif aggregation == "dapo":
        c = [1.0 / (normalizer or max(tokens, 1))] * N
    elif aggregation == "dr_grpo":
        c = [1.0 / (normalizer or N * (t_max or T))] * N
    else:
        raise ValueError(aggregation)
    w = [[mask[i][t] * c[i] for t in range(T)] for i in range(N)]

    rho = [[0.0] * T for _ in range(N)]
    for i in range(N):
        if level == "token":
            rho[i] = [math.exp(logp[i][t] - old[i][t]) for t in range(T)]
        else:
            s = sum(mask[i][t] * (logp[i][t] - old[i][t]) for t in range(T)) / lengths[i]
            rho[i] = [math.exp(s)] * T

    policy = kl_sum = 0.0
    stats = {"kl": 0.0, "low": 0.0, "high": 0.0, "ratio": 0.0}
    dpol = [[0.0] * T for _ in range(N)]  # d(policy part of l_it) / d rho_it
    for i in range(N):
        a = adv[i]
        for t in range(T):
            r = rho[i][t]
            clipped = min(max(r, 1.0 - clip_low), 1.0 + clip_high)
            pol = -min(r * a, clipped * a)
            kl = k3(ref[i][t], logp[i][t])
            policy += w[i][t] * pol
            kl_sum += w[i][t] * kl
            low = r < 1.0 - clip_low and a < 0
            high = r > 1.0 + clip_high and a > 0
            dpol[i][t] = 0.0 if (low or high) else -a
            m = mask[i][t]
            stats["kl"] += m * kl
            stats["low"] += m * low
            stats["high"] += m * high
            stats["ratio"] += m * r

    grad = [[0.0] * T for _ in range(N)]
    for i in range(N):
        if level == "token":
            for t in range(T):
                grad[i][t] = w[i][t] * dpol[i][t] * rho[i][t]
        else:
            # rho_i appears in every token of row i: collect its total weight first.
            g_rho = sum(w[i][t] * dpol[i][t] for t in range(T)) * rho[i][0]
            for t in range(T):
                grad[i][t] = g_rho * mask[i][t] / lengths[i]
        for t in range(T):
            grad[i][t] += beta * w[i][t] * (1.0 - math.exp(ref[i][t] - logp[i][t]))

    per_token = max(tokens, 1)
    return {"aggregation": aggregation, "importance": level, "beta": beta,
            "clip_low": clip_low, "clip_high": clip_high, "normalizer": normalizer,
            "max_completion_tokens": t_max,
            "total": policy + beta * kl_sum, "policy_loss": policy, "kl_loss": beta * kl_sum,
            "mean_kl": stats["kl"] / per_token, "clip_low_frac": stats["low"] / per_token,
            "clip_high_frac": stats["high"] / per_token, "mean_ratio": stats["ratio"] / per_token,
            "token_count": tokens, "grad": grad}


def advantages(rewards, scorable, group_size, scaling, eps=1e-4):
    n = len(rewards)
    groups = n // group_size
    scored = [r for r, s in zip(rewards, scorable) if s]

    def std(xs):  # unbiased (Bessel), as torch.std
        mu = sum(xs) / len(xs)
        return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1))

    batch_std = std(scored) if len(scored) >= 2 else 0.0
    out, zero_std, too_few = [0.0] * n, 0, 0
    for g in range(groups):
        idx = range(g * group_size, (g + 1) * group_size)
        xs = [rewards[i] for i in idx if scorable[i]]
        if len(xs) < 2:
            too_few += 1
            continue
        if max(xs) == min(xs):
            zero_std += 1
            continue
        mu = sum(xs) / len(xs)
        scale = {"group": std(xs) + eps, "batch": batch_std + eps, "none": 1.0}[scaling]
        for i in idx:
            if scorable[i]:
                out[i] = (rewards[i] - mu) / scale
    return {"scaling": scaling, "advantages": out, "zero_std_groups": zero_std,
            "too_few_scorable_groups": too_few}


def draw_advantage_batch(rng):
    g = 4
    rewards = [rng.choice([0.0, 0.1, 1.0]) + rng.uniform(0.0, 0.5) for _ in range(5 * g)]
    scorable = [True] * len(rewards)
    scorable[1] = False                       # group 0: one unscorable sample
    rewards[2 * g:3 * g] = [1.0] * g          # group 2: all equal (zero std)
    scorable[3 * g:4 * g] = [False, True, False, False]  # group 3: one scorable sample
    rewards[4 * g + 3] = 0.0                  # group 4: plain
    return {"G": g, "rewards": rewards, "scorable": scorable}


def main():
    rng = random.Random(SEED)
    batch = draw_loss_batch(rng)
    cases = []
    for aggregation in ("grpo", "dapo", "dr_grpo"):
        for level in ("token", "sequence"):
            for beta in (0.0, 0.04):
                for clip_low, clip_high in ((0.2, 0.2), (0.2, 0.28), GSPO_CLIP):
                    cases.append(grpo_case(batch, aggregation, level, beta, clip_low, clip_high))
    # Denominator overrides (micro-batch accumulation) and a T_max longer than this batch's T.
    cases.append(grpo_case(batch, "grpo", "token", 0.04, 0.2, 0.28, normalizer=12.0))
    cases.append(grpo_case(batch, "dapo", "token", 0.04, 0.2, 0.28, normalizer=40.0))
    cases.append(grpo_case(batch, "dr_grpo", "sequence", 0.04, 0.2, 0.28, t_max=8))
    # A golden set that never clips would not test the clip: make sure both sides occur.
    assert any(c["clip_low_frac"] > 0 for c in cases if c["importance"] == "token")
    assert any(c["clip_high_frac"] > 0 for c in cases if c["importance"] == "token")
    assert any(c["clip_low_frac"] > 0 for c in cases if c["importance"] == "sequence")
    assert any(c["clip_high_frac"] > 0 for c in cases if c["importance"] == "sequence")

    adv_batch = draw_advantage_batch(rng)
    adv_cases = [advantages(adv_batch["rewards"], adv_batch["scorable"], adv_batch["G"], s)
                 for s in ("group", "batch", "none")]
    out = {"generator": "tools/golden/make_grpo_golden.py", "seed": SEED,
           "loss": dict(batch, cases=cases), "advantage": dict(adv_batch, cases=adv_cases)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
