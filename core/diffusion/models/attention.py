"""Attention building blocks with Hallo's key names, computed with `scaled_dot_product_attention`.

The modules here are deliberately small and explicit (no processor indirection, no global
hooks) so that the reference-bank read/write and the decoupled text cross-attention are plain
arguments of `forward`. Key names match diffusers' `Attention` / `FeedForward` as Hallo's
checkpoint stores them: `to_q`, `to_k`, `to_v`, `to_out.0`, `ff.net.0.proj`, `ff.net.2`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention (diffusers' `Attention` keys, no biases on q/k/v).

    `forward(x, context)` attends from `x` [N, Lq, query_dim] to `context` [N, Lk, ctx_dim]
    (self-attention when `context` is None). `project_out=False` returns the per-head mix
    before `to_out`, so callers can add a decoupled branch first (IP-Adapter style).
    """

    def __init__(
        self,
        query_dim: int,
        heads: int,
        dim_head: int,
        cross_attention_dim: int | None = None,
        bias: bool = False,
    ):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.dim_head = dim_head
        ctx = query_dim if cross_attention_dim is None else cross_attention_dim
        self.to_q = nn.Linear(query_dim, inner, bias=bias)
        self.to_k = nn.Linear(ctx, inner, bias=bias)
        self.to_v = nn.Linear(ctx, inner, bias=bias)
        # ModuleList [Linear, Dropout] so the key is `to_out.0.*` like diffusers.
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Dropout(0.0)])

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """sdpa over already-projected q [N,Lq,inner], k/v [N,Lk,inner] → [N,Lq,inner]."""
        n = q.shape[0]
        h, d = self.heads, self.dim_head
        q = q.view(n, -1, h, d).transpose(1, 2)
        k = k.view(n, -1, h, d).transpose(1, 2)
        v = v.view(n, -1, h, d).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=False)
        return out.transpose(1, 2).reshape(n, -1, h * d).to(q.dtype)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, project_out: bool = True
    ) -> torch.Tensor:
        ctx = x if context is None else context
        out = self.attend(self.to_q(x), self.to_k(ctx), self.to_v(ctx))
        return self.to_out[0](out) if project_out else out


class GEGLU(nn.Module):
    """Gated GELU input projection (`proj` holds both halves, value first, gate second)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    """GEGLU feed-forward with 4x inner width; keys `net.0.proj.*`, `net.2.*`."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        inner = dim * mult
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class TextProjection(nn.Module):
    """The decoupled text branch of one cross-attention: `to_k_text`, `to_v_text`.

    Lives outside the Hallo module tree (in `TextAdapter`) so a strict Hallo load never sees
    it; the owning `Attention` is passed in at call time.
    """

    def __init__(self, text_dim: int, inner_dim: int):
        super().__init__()
        self.to_k_text = nn.Linear(text_dim, inner_dim, bias=False)
        self.to_v_text = nn.Linear(text_dim, inner_dim, bias=False)


def decoupled_cross_attention(
    attn: Attention,
    x: torch.Tensor,
    context: torch.Tensor,
    text: TextProjection | None = None,
    text_tokens: torch.Tensor | None = None,
    text_scale: float = 0.0,
) -> torch.Tensor:
    """attn(q, k_ctx, v_ctx) + text_scale * attn(q, k_text, v_text), then `to_out`.

    With no adapter, no tokens or a zero scale this is exactly `attn(x, context)`: the text
    branch is not computed at all, so the result is bit-identical to the plain module.
    """
    if text is None or text_tokens is None or text_scale == 0.0:
        return attn(x, context)
    q = attn.to_q(x)
    out = attn.attend(q, attn.to_k(context), attn.to_v(context))
    text_out = attn.attend(q, text.to_k_text(text_tokens), text.to_v_text(text_tokens))
    return attn.to_out[0](out + text_scale * text_out)


class SpatialTransformerBlock(nn.Module):
    """Hallo's (Temporal)BasicTransformerBlock: self-attn, cross-attn, GEGLU feed-forward.

    One class serves both UNets; the reference bank is explicit:
    * `bank_out` (a list) receives `norm1(x)` before self-attention (the ReferenceNet write).
    * `ref_tokens` [N, Lr, C] (or None) are appended to the self-attention keys/values of the
      rows named by `ref_index` (the AnimateNet read). Rows outside `ref_index` get plain
      self-attention, like Hallo's uncond half.
    """

    def __init__(self, dim: int, heads: int, dim_head: int, cross_attention_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, dim_head, cross_attention_dim=cross_attention_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        bank_out: list[torch.Tensor] | None = None,
        ref_tokens: torch.Tensor | None = None,
        ref_index: torch.Tensor | None = None,
        text: TextProjection | None = None,
        text_tokens: torch.Tensor | None = None,
        text_scale: float = 0.0,
    ) -> torch.Tensor:
        norm = self.norm1(x)
        if bank_out is not None:
            bank_out.append(norm)
        if ref_tokens is None or ref_index is None or ref_index.numel() == 0:
            attn = self.attn1(norm)
        else:
            sel = norm[ref_index]
            with_ref = self.attn1(sel, torch.cat([sel, ref_tokens.to(norm.dtype)], dim=1))
            if ref_index.numel() == norm.shape[0]:
                attn = with_ref.index_select(0, torch.argsort(ref_index))
            else:
                keep = torch.ones(norm.shape[0], dtype=torch.bool, device=norm.device)
                keep[ref_index] = False
                plain_index = keep.nonzero().squeeze(1)
                attn = norm.new_empty(norm.shape[0], norm.shape[1], with_ref.shape[-1])
                attn = attn.index_copy(0, plain_index, self.attn1(norm[plain_index]))
                attn = attn.index_copy(0, ref_index, with_ref)
        x = attn + x
        x = (
            decoupled_cross_attention(
                self.attn2, self.norm2(x), context, text, text_tokens, text_scale
            )
            + x
        )
        return self.ff(self.norm3(x)) + x
