"""The test model's tokenizer: the default BPE, and ``split_cells`` (one token per board cell)."""

from __future__ import annotations

import gymnasium as gym
import pytest

pytest.importorskip("tokenizers")

from tiny_vlm import build_tiny_processor  # noqa: E402

pytestmark = pytest.mark.rl


def _boards(env_id: str, n: int = 4) -> list[str]:
    env = gym.make(env_id, obs_mode="text")
    out = [env.reset(seed=s)[1]["board_text"] for s in range(n)]
    env.close()
    return out


@pytest.mark.parametrize("env_id", ["VLMGym/Sokoban-v0", "VLMGym/2048-v0", "VLMGym/Minesweeper5x5-v0"])
def test_split_cells_gives_one_token_per_character_of_a_board(env_id):
    tok = build_tiny_processor(vocab_size=1000, split_cells=True).tokenizer
    for board in _boards(env_id):
        ids = tok(board, add_special_tokens=False).input_ids
        assert [tok.decode([i]) for i in ids] == list(board)
        assert tok.decode(ids) == board


def test_split_cells_keeps_words_and_special_tokens_whole_and_round_trips_a_prompt():
    tok = build_tiny_processor(vocab_size=1000, split_cells=True).tokenizer
    assert tok.tokenize("answer") == ["answer"]
    assert tok.tokenize("<|im_end|>") == ["<|im_end|>"]
    env = gym.make("VLMGym/Sokoban-v0", obs_mode="text")
    prompt = env.reset(seed=0)[1]["prompt"]
    env.close()
    assert tok.decode(tok(prompt, add_special_tokens=False).input_ids) == prompt


def test_default_bpe_merges_board_symbols_irregularly():
    """Why ``split_cells`` exists: the default BPE joins runs of Sokoban symbols, so the tokens of a
    row do not line up with its cells (docs/performance.md, "Learning")."""
    tok = build_tiny_processor(vocab_size=1000).tokenizer
    board = "######\n#_PO_#\n#____#\n###X_#\n##___#\n######"
    pieces = [tok.decode([i]) for i in tok(board, add_special_tokens=False).input_ids]
    assert "".join(pieces) == board
    assert any(len(p) > 1 for p in pieces) and len(pieces) < len(board)
