"""Does training improve a policy? G0 vs G1 in miniature, on 2 CPU cores.

Status: a board-conditioned gain is not yet shown (docs/performance.md, "Learning"): at this
scale GRPO gains end at the held-out ``constant`` baseline (the best single answer). With
``--split-cells --vocab 2000`` the model copies Sokoban boards exactly (perception 1.00) but never
learns to locate the player, which the decision needs.

The G1 paper's claim, at a scale a laptop can run: a perception-enhanced cold start (oracle
examples whose perception block is the exact board text, then SFT) followed by GRPO beats GRPO
from the base model (G0), and GRPO raises game success above the cold-start point.

Setting (chosen for a CPU budget; see docs/performance.md#learning): 2048 on a 3x3 board,
``obs_mode="image+text"`` (the prompt holds the board text too), a random Qwen2.5-VL of about
1.6M parameters (tests/tiny_vlm.py; hidden 128, 4 layers) with a byte-level BPE tokenizer trained
on the prompts. The oracle teacher's reasoning is ``think="brief"`` (only its conclusion), so
completions are ~60 tokens.

Stages, each evaluated greedily on the same held-out states (``vlmgym_rl.heldout``), next to the
random, random-legal, constant (best single answer) and best-move baselines computed exactly on
those states:

* base: the random model;
* G0: GRPO from the base model (the paper's rewards: game +1/-1, format 1);
* SFT: the cold start on oracle examples;
* G1: GRPO from the SFT checkpoint, same recipe as G0.

The significance of G1's gain over SFT is McNemar's exact test on the paired per-state outcomes
(same states before and after); ``--runs N`` repeats everything with N seeds and also reports a
sign test over seeds. Prints a table, writes ``learning.json`` and ``learning.png`` (the curves) to
``--out``.

    python benchmarks/bench_learning.py --skip-g0       # G1 only, about 10 minutes on 2 cores
    python benchmarks/bench_learning.py --runs 3 --out runs/learning
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tiny_vlm.py

ENV_ID = "VLMGym/2048-v0"
ENV_KWARGS = {"size": 3}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/bench-learning", help="output folder")
    p.add_argument("--env", default=ENV_ID, help="the game id")
    p.add_argument("--env-kwargs", type=json.loads, default=ENV_KWARGS, help="its kwargs, as JSON")
    p.add_argument("--think", default="brief", choices=("brief", "full"), help="the oracle teacher's reasoning")
    p.add_argument("--runs", type=int, default=1, help="independent seeds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heldout", type=int, default=256, help="held-out states")
    p.add_argument("--k", type=int, default=None, help="random moves after reset (default: the paper's)")
    p.add_argument("--coldstart", type=int, default=512, help="cold-start examples")
    p.add_argument("--sft-epochs", type=float, default=8.0)
    p.add_argument("--sft-lr", type=float, default=2e-3)
    p.add_argument("--grpo-steps", type=int, default=60)
    p.add_argument("--grpo-lr", type=float, default=1e-4)  # 5e-4 destroys the format
    p.add_argument("--states-per-step", type=int, default=16)
    p.add_argument("--generations", type=int, default=8)
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--loss-type", default="bnpo")
    p.add_argument("--eval-every", type=int, default=20, help="held-out evaluation every N GRPO steps")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--max-completion", type=int, default=80)
    p.add_argument("--split-cells", action="store_true",
                   help="one token per board cell (tests/tiny_vlm.py); completions get longer: raise --max-completion")
    p.add_argument("--vocab", type=int, default=1000, help="the test tokenizer's vocabulary (2000 with --split-cells: phrases merge, prompts shrink)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-g0", action="store_true")
    return p.parse_args(argv)


class HeldOutCurve:
    """A TrainerCallback that evaluates the held-out states every N steps (the curve)."""

    def __init__(self, held: Any, processor: Any, every: int, max_new: int, stage: str, log: list):
        from transformers import TrainerCallback

        outer = self

        class _CB(TrainerCallback):
            def on_step_end(self, args, state, control, model=None, **kw):
                if every and state.global_step % every == 0 and state.global_step < state.max_steps:
                    outer.point(model, state.global_step)

        self.callback = _CB()
        self.held, self.processor, self.max_new, self.stage, self.log = held, processor, max_new, stage, log

    def point(self, model: Any, step: int) -> Any:
        res = self.held.evaluate(model, self.processor, max_new_tokens=self.max_new)
        self.log.append({"stage": self.stage, "step": step, **res.summary()})
        print(f"  [{self.stage} step {step}] " + " ".join(f"{k}={v:.3f}" for k, v in res.summary().items()),
              flush=True)
        return res


def run_once(args: argparse.Namespace, seed: int, out: Path) -> dict[str, Any]:
    import torch

    from tiny_vlm import build_tiny_vlm
    from vlmgym_rl.coldstart import OracleTeacher, build_coldstart_dataset
    from vlmgym_rl.heldout import HeldOut, mcnemar
    from vlmgym_rl.recipes import G0Config, build_g0_trainer
    from vlmgym_rl.sft import ColdStartConfig, train_sft
    from vlmgym_rl.states import GameSpec

    torch.manual_seed(seed)
    spec = GameSpec(args.env, args.env_kwargs, k=args.k, obs_mode="image+text")
    held = HeldOut([spec], args.heldout, seed=10_000_000 + seed)
    base = held.baselines()
    print(f"seed {seed}: baselines on {args.heldout} held-out states: "
          + " ".join(f"{k}={v:.3f}" for k, v in base.items()), flush=True)
    curve: list[dict[str, Any]] = []
    result: dict[str, Any] = {"seed": seed, "baselines": base, "curve": curve, "seconds": {}}
    base_dir = out / f"seed{seed}" / "base"
    build_tiny_vlm(seed=seed, save_dir=base_dir, hidden_size=args.hidden, num_layers=args.layers, vocab_size=args.vocab,
                   split_cells=args.split_cells)
    from tiny_vlm import load_tiny_vlm

    def grpo(model_dir: Path, stage: str) -> Any:
        t0 = time.perf_counter()
        model, processor = load_tiny_vlm(model_dir)
        rec = HeldOutCurve(held, processor, args.eval_every, args.max_completion, stage, curve)
        before = rec.point(model, 0)
        cfg = G0Config(
            output_dir=str(out / f"seed{seed}" / stage), env_ids=[args.env], env_kwargs=args.env_kwargs,
            obs_mode="image+text", sampler_k=args.k, states_per_step=args.states_per_step,
            num_generations=args.generations, per_device_train_batch_size=args.states_per_step * args.generations,
            max_steps=args.grpo_steps, learning_rate=args.grpo_lr, beta=args.beta, loss_type=args.loss_type,
            max_completion_length=args.max_completion, bf16=False, use_cpu=True, seed=seed, state_seed=seed,
            env_eval_every=0, env_eval_at_end=False, rollout_log=False, report_to="none", save_strategy="no",
            logging_steps=10, disable_tqdm=True, dataloader_num_workers=0,
            min_pixels=None, max_pixels=None)  # the tiny processor's own small bounds
        trainer = build_g0_trainer(model, cfg, processor=processor, callbacks=[rec.callback])
        trainer.train()
        after = rec.point(trainer.model, args.grpo_steps)
        result["seconds"][stage] = time.perf_counter() - t0
        return before, after, trainer

    res_g0 = None
    if not args.skip_g0:
        b0, a0, _ = grpo(base_dir, "G0")
        res_g0 = a0
        result["G0"] = {"before": b0.summary(), "after": a0.summary(), "p_value": mcnemar(b0.success, a0.success)}

    # -- G1: oracle cold start, SFT, GRPO -----------------------------------------------------------
    t0 = time.perf_counter()
    cs = build_coldstart_dataset([spec], args.coldstart, out / f"seed{seed}" / "coldstart",
                                 teacher=OracleTeacher(think=args.think), seed=seed, overwrite=True)
    model, processor = load_tiny_vlm(base_dir)
    sft_cfg = ColdStartConfig(output_dir=str(out / f"seed{seed}" / "sft"), learning_rate=args.sft_lr,
                              num_train_epochs=args.sft_epochs, per_device_train_batch_size=16,
                              bf16=False, use_cpu=True, seed=seed, report_to="none", save_strategy="no",
                              logging_steps=20, disable_tqdm=True, lr_scheduler_type="cosine", warmup_steps=0.05,
                              min_pixels=None, max_pixels=None)
    train_sft(model, sft_cfg, train_dataset=cs.dataset, processor=processor)
    result["seconds"]["SFT"] = time.perf_counter() - t0
    sft_dir = out / f"seed{seed}" / "sft"
    b1, a1, _ = grpo(sft_dir, "G1")
    curve.append({"stage": "SFT", "step": 0, **b1.summary()})
    result["SFT"] = b1.summary()
    result["G1"] = {"after": a1.summary(), "gain": a1.success_rate - b1.success_rate,
                    "p_value": mcnemar(b1.success, a1.success)}
    if res_g0 is not None:
        result["G1_vs_G0_p"] = mcnemar(res_g0.success, a1.success)
    held.close()
    return result


def plot(results: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = {"G0": "tab:gray", "G1": "tab:blue"}
    for r in results:
        for stage in ("G0", "G1"):
            pts = [c for c in r["curve"] if c["stage"] == stage]
            if pts:
                ax.plot([c["step"] for c in pts], [c["success"] for c in pts], "-o", color=colors[stage],
                        alpha=0.8, label=stage if r is results[0] else None, ms=3)
    b = results[0]["baselines"]
    for name, style in (("random", ":"), ("random_legal", "--"), ("constant", (0, (1, 3))), ("best", "-.")):
        ax.axhline(b[name], color="k", ls=style, lw=1, label=f"{name} ({b[name]:.2f})")
    ax.set_xlabel("GRPO step (G1 starts from the SFT checkpoint)")
    ax.set_ylabel("held-out greedy success")
    ax.set_title(f"{title}, tiny Qwen2.5-VL on CPU: G0 vs G1", fontsize=10)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = [run_once(args, args.seed + i, out) for i in range(args.runs)]
    total = time.perf_counter() - t0
    print(f"\nG0 vs G1 in miniature ({args.env} {args.env_kwargs}, {args.heldout} held-out states, {args.runs} seed(s), "
          f"{total / 60:.1f} min)")
    b = results[0]["baselines"]
    print(f"baselines: random {b['random']:.3f}  random-legal {b['random_legal']:.3f}  "
          f"constant {b['constant']:.3f}  best {b['best']:.3f}")
    print(f"{'seed':>4} {'stage':>6} {'success':>8} {'format':>7} {'percep':>7} {'valid':>6}")
    for r in results:
        for stage, s in (("base", r.get("G0", {}).get("before")), ("G0", r.get("G0", {}).get("after")),
                         ("SFT", r["SFT"]), ("G1", r["G1"]["after"])):
            if s:
                print(f"{r['seed']:>4} {stage:>6} {s['success']:8.3f} {s['format']:7.3f} "
                      f"{s['perception_exact']:7.3f} {s['valid']:6.3f}")
        print(f"     G1 - SFT = {r['G1']['gain']:+.3f}  (McNemar p = {r['G1']['p_value']:.2g})")
    ups = sum(r["G1"]["gain"] > 0 for r in results)
    print(f"G1 > SFT in {ups}/{len(results)} seeds (sign test p = {0.5 ** len(results) if ups == len(results) else 1:.3g})")
    (out / "learning.json").write_text(json.dumps({"args": vars(args), "results": results, "seconds": total},
                                                  indent=1, default=float))
    plot(results, out / "learning.png", f"{args.env} {json.dumps(args.env_kwargs)}")
    print(f"wrote {out / 'learning.json'} and {out / 'learning.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
