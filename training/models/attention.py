"""Multi-head attention written with plain matmuls.

``nn.MultiheadAttention`` takes fast paths that ``torch.func.vmap`` and the TorchScript ONNX exporter
handle badly; this version is a few matmuls, vmaps over stacked fold models, and exports to
MatMul/Softmax/Add nodes that TensorRT's ONNX parser takes.
"""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Pre-norm multi-head attention block with an optional additive score bias.

    ``forward(q_tokens (N, Lq, D), kv_tokens (N, Lk, D), bias (H, Lq, Lk) | None) -> (N, Lq, D)``;
    returns the attention output only (the caller adds its residual).
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        n, length, _ = t.shape
        return t.reshape(n, length, self.heads, self.head_dim).transpose(1, 2)

    def forward(
        self, q_tokens: torch.Tensor, kv_tokens: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        q = self._split(self.q(self.norm_q(q_tokens)))
        k, v = self.kv(self.norm_kv(kv_tokens)).chunk(2, dim=-1)
        k, v = self._split(k), self._split(v)
        scores = q @ k.transpose(-1, -2) * self.head_dim**-0.5
        if bias is not None:
            scores = scores + bias
        attn = self.drop(scores.softmax(dim=-1))
        out = (attn @ v).transpose(1, 2)
        return self.out(out.reshape(out.shape[0], out.shape[1], -1))


class FeedForward(nn.Module):
    """Pre-norm two-layer MLP over tokens: (N, L, D) -> (N, L, D), residual left to the caller."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
