"""vlmgym_rl: train vision-language models on vlmgym games with TRL (``pip install vlmgym[rl]``).

Placeholder until the trainer issue lands: G0 (GRPO from the base model) and G1 (perception cold
start, then GRPO) will live here, importing only vlmgym's public API.
"""

__all__: list[str] = []
