"""Slow, obviously-correct reference implementations of game rules (test oracles)."""
