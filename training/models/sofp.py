"""SOFP: symmetric region encoders + SRAF fusion over u/v/strain flow images.

Input: (N, 3, 28, 28) float32 in [0, 1], channels (u, v, strain). Output: logits (N, classes).

Choices where the paper's text is unknown (each switchable for ablations):
- Encoders yield 3 x 3 token grids through fixed pooling (7 -> 3 with a 3 x 3 window, stride 2):
  AdaptiveAvgPool 14 -> 3 does not export to ONNX with the TorchScript exporter.
- Right-hand quadrants are mirrored at the input (columns flipped, u -> 1 - u) and mirror partners
  share encoder weights (``tie_mirror``), so a mirror-symmetric face gives identical tokens on both
  sides and L_sym = 0 exactly; left/right differences are what L_sym lets through.
- "Attention-guided" local encoder: a sigmoid spatial gate (conv -> 1 map) multiplies the stem's
  features before the token conv.
- Batch normalisation after each encoder conv (``conv_norm``): on a subject-grouped 4-fold tuning
  split it lifted UF1 from 0.61 to 0.70 (README, "How the defaults were chosen"). Under the
  vectorised trainer each fold is its own model, so its statistics come from that fold's own
  training batches only; at inference the running statistics are used (and fold into the conv).
- Position encodings: a learned embedding per region (4 quadrants + global) plus one per grid cell.
- Structure-guided self-attention: per head, a learned scalar bias for each face-layout relation
  between tokens (same region, mirror partner, vertical neighbour, diagonal, same grid cell).
- Adaptive cross-attention: global tokens query the attended region tokens; a per-token sigmoid
  gate computed from the global token scales the cross-attention output before it is added.
- Fusion: gated cross-attention output + the global tokens + a residual from the stacked region
  tokens (mean over the four regions per grid cell), then a feed-forward block, mean over tokens,
  and an MLP head.
- Input conditioning (README, "How the defaults were chosen"; 3 seeds on the tuning split, UF1 0.695
  -> 0.717 together): each channel is re-centred on its image mean (``center``: the min-max scaled zero
  of the flow differs per image), and the strain channel is ignored (``use_strain=False``: two flow
  implementations' strain maps correlate at 0.1-0.5, so a label that leans on it changes with the
  flow). The input format stays (u, v, strain), so every exported graph and the runtime are unchanged.
- ``encoder="maxpool"``: shallow STSTNet-like max-pooled encoders inside the same layout (tried; UF1
  0.655 without centring, 0.697 with it: not adopted).
- ``blur``: a Gaussian of sigma ``blur`` px over the centred channels, meant to discard the fine detail in
  which two flow implementations differ (tried at 0.7 and 1.2 px: UF1 0.713 and 0.711 against 0.717 on the
  tuning split; not adopted).
- ``center_stat="median"``: centre each channel on its median (the mean of the two middle values, so the mirror
  identity stays exact) instead of its mean (tried: UF1 0.708 against 0.717 on the tuning split; not adopted).
- ``magnitude``: the flow magnitude |(u, v)| of the centred channels in the ignored strain channel's place, a
  nonlinear feature the convolutions would otherwise have to build (tried: UF1 0.701 against 0.717 on the
  tuning split, 3 seeds; not adopted).
- ``strain_from_flow``: optical strain recomputed inside the graph from the centred (and blurred) u, v by
  central differences, in the ignored strain channel's place, computed the same way from whatever flow the
  runtime gives (tried: UF1 0.698 against 0.718 on the tuning split, and the built-in recipe with it keeps only
  0.64-0.76 of its labels when the flow changes; not adopted).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sofp.training.models.attention import Attention, FeedForward
from sofp.training.models.configs import SofpConfig

GRID = 3  # tokens per side of each encoder's grid
TOKENS = GRID * GRID
QUADRANTS = ("tl", "tr", "bl", "br")
MIRROR_PAIRS = ((0, 1), (2, 3))  # (tl, tr), (bl, br)


def mirror_flow(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Left-right mirror of (N, 3, H, W) flow in [0, 1]: columns reversed, u -> 1 - u.

    ``flip`` is the W x W anti-identity; the flip is a MatMul (exact, and a plain op for TensorRT).
    """
    x = x @ flip
    return torch.cat([1.0 - x[:, :1], x[:, 1:]], dim=1)


def conv_block(in_ch: int, out_ch: int, stride: int, norm: bool) -> nn.Sequential:
    """3 x 3 conv (+ batch norm) + GELU."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)]
    if norm:
        layers.append(nn.BatchNorm2d(out_ch))
    return nn.Sequential(*layers, nn.GELU())


class TokenConv(nn.Module):
    """Conv tail shared by all encoders: (N, C, 2k, 2k) -> stride-2 conv -> 3 x 3 pool -> (N, 9, D)."""

    def __init__(self, in_ch: int, dim: int, norm: bool) -> None:
        super().__init__()
        self.conv = conv_block(in_ch, dim, 2, norm)
        self.pool = nn.AvgPool2d(3, stride=2)  # 7 x 7 -> 3 x 3
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.conv(h))
        return self.norm(h.flatten(2).transpose(1, 2))


class PooledEncoder(nn.Module):
    """Shallow max-pooled encoder (STSTNet-like): one 3 x 3 conv at full resolution, max pooling to a
    3 x 3 grid (overlapping windows that cover the whole input), a 1 x 1 conv to D channels.

    (N, 3, S, S) -> (N, 9, D) for S = 14 (window 6, stride 4) or S = 28 (window 10, stride 9).
    """

    def __init__(self, cfg: SofpConfig, size: int, gated: bool) -> None:
        super().__init__()
        window, stride = {14: (6, 4), 28: (10, 9)}[size]
        self.stem = nn.Sequential(nn.Conv2d(3, cfg.stem, 3, padding=1),
                                  *([nn.BatchNorm2d(cfg.stem)] if cfg.conv_norm else []), nn.ReLU())
        self.gate = nn.Conv2d(cfg.stem, 1, 3, padding=1) if gated else None
        self.pool = nn.MaxPool2d(window, stride=stride)
        self.proj = nn.Conv2d(cfg.stem, cfg.dim, 1)
        self.norm = nn.LayerNorm(cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        if self.gate is not None:
            h = h * torch.sigmoid(self.gate(h))
        h = self.proj(self.pool(h))
        return self.norm(h.flatten(2).transpose(1, 2))


def gaussian_kernel(sigma: float, channels: int = 3) -> torch.Tensor:
    """A normalised 2-D Gaussian of ``sigma`` pixels (radius 2.5 sigma) per channel, for a grouped conv2d:
    (channels, 1, k, k)."""
    radius = max(1, math.ceil(2.5 * sigma))
    g = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, -1, -1).contiguous()


STRAIN_GAIN = 2.0  # recomputed strain's spread is about half a centred u channel's (0.062 against 0.133)


def scale_channels(x: torch.Tensor) -> torch.Tensor:
    """Centred channels divided by their image RMS, x 0.25 (a fixed spread; a zeroed channel stays zero)."""
    return 0.25 * x / (x.pow(2).mean(dim=(-2, -1), keepdim=True) + 1e-4).sqrt()


def optical_strain(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Optical strain magnitude sqrt(u_x^2 + v_y^2 + (u_y + v_x)^2 / 2) of (N, 1, H, W) flow channels, by
    central differences over zero padding (so a mirror of the flow mirrors its strain exactly), x STRAIN_GAIN."""
    def dx(a: torch.Tensor) -> torch.Tensor:
        p = F.pad(a, (1, 1, 0, 0))
        return 0.5 * (p[..., :, 2:] - p[..., :, :-2])

    def dy(a: torch.Tensor) -> torch.Tensor:
        p = F.pad(a, (0, 0, 1, 1))
        return 0.5 * (p[..., 2:, :] - p[..., :-2, :])

    strain = dx(u).pow(2) + dy(v).pow(2) + 0.5 * (dy(u) + dx(v)).pow(2)
    return STRAIN_GAIN * (strain + 1e-8).sqrt()


class InputConditioning(nn.Module):
    """Zero the strain channel (``use_strain=False``), re-centre each channel on 0.5 (``center``), smooth
    it with a Gaussian (``blur``) and give it a fixed spread (``scale``); every encoder applies it to the
    whole image first, so a split graph computes what the whole model does. All keep the mirror identity
    u -> 1 - u exact (the Gaussian is symmetric and acts on the centred channels, zero-padded)."""

    channel_mask: torch.Tensor  # buffers, declared for the type checker (nn.Module's attributes are untyped)
    kernel: torch.Tensor

    def __init__(self, cfg: SofpConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("channel_mask", torch.tensor([1.0, 1.0, float(cfg.use_strain)]).view(1, 3, 1, 1),
                             persistent=False)
        if cfg.blur:
            self.register_buffer("kernel", gaussian_kernel(cfg.blur), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.cfg.use_strain:
            x = x * self.channel_mask
        if self.cfg.center:
            if self.cfg.center_stat == "median":  # the mean of the two middle values: u -> 1 - u stays exact
                flat, n = x.flatten(-2).sort(dim=-1).values, x.shape[-2] * x.shape[-1]
                x = x - 0.5 * (flat[..., (n - 1) // 2] + flat[..., n // 2])[..., None, None]
            else:
                x = x - x.mean(dim=(-2, -1), keepdim=True)
            if self.cfg.blur:
                x = F.conv2d(x, self.kernel, padding=self.kernel.shape[-1] // 2, groups=3)
            if self.cfg.scale:
                x = scale_channels(x)
            if self.cfg.magnitude:  # |(u, v)| in the zeroed strain channel: mirror-symmetric, like strain
                x = x + (x[:, :1].pow(2) + x[:, 1:2].pow(2) + 1e-8).sqrt() * (1.0 - self.channel_mask)
            if self.cfg.strain_from_flow:
                x = x + optical_strain(x[:, :1], x[:, 1:2]) * (1.0 - self.channel_mask)
            x = x + 0.5
        return x


class Conditioned(nn.Module):
    """An encoder that sees the conditioned whole image: (N, 3, 28, 28) -> (N, 9, D)."""

    def __init__(self, conditioning: InputConditioning, encoder: nn.Module) -> None:
        super().__init__()
        self.conditioning = conditioning
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.conditioning(x))


class GlobalEncoder(nn.Module):
    """Whole-face encoder: (N, 3, 28, 28) -> (N, 9, D)."""

    def __init__(self, cfg: SofpConfig) -> None:
        super().__init__()
        self.stem = conv_block(3, cfg.stem, 2, cfg.conv_norm)  # 28 -> 14
        self.tokens = TokenConv(cfg.stem, cfg.dim, cfg.conv_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tokens(self.stem(x))


class LocalEncoder(nn.Module):
    """Attention-guided quadrant encoder: (N, 3, 14, 14) -> (N, 9, D)."""

    def __init__(self, cfg: SofpConfig) -> None:
        super().__init__()
        self.stem = conv_block(3, cfg.stem, 1, cfg.conv_norm)
        self.gate = nn.Conv2d(cfg.stem, 1, 3, padding=1)
        self.tokens = TokenConv(cfg.stem, cfg.dim, cfg.conv_norm)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        h = self.stem(q)
        return self.tokens(h * torch.sigmoid(self.gate(h)))


class RegionEncoder(nn.Module):
    """One quadrant of the full input through a local encoder: (N, 3, 28, 28) -> (N, 9, D).

    Right-hand quadrants are mirrored first so their tokens live in their partner's frame.
    """

    flip: torch.Tensor  # a buffer, declared for the type checker

    def __init__(self, quadrant: str, encoder: nn.Module, conditioning: InputConditioning) -> None:
        super().__init__()
        self.conditioning = conditioning
        self.quadrant = quadrant
        self.rows = slice(0, 14) if quadrant[0] == "t" else slice(14, 28)
        self.cols = slice(0, 14) if quadrant[1] == "l" else slice(14, 28)
        self.mirrored = quadrant[1] == "r"
        self.encoder = encoder
        self.register_buffer("flip", torch.eye(14).flip(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.conditioning(x)[:, :, self.rows, self.cols]
        if self.mirrored:
            q = mirror_flow(q, self.flip)
        return self.encoder(q)


def layout_masks() -> torch.Tensor:
    """(5, 36, 36) relation masks between the stacked region tokens (tl, tr, bl, br x 9 cells):
    same region, mirror partner, vertical neighbour, diagonal region, same grid cell."""
    region = torch.arange(4).repeat_interleave(TOKENS)
    cell = torch.arange(TOKENS).repeat(4)
    ri, rj = region[:, None], region[None, :]
    same = ri == rj
    mirror = (ri // 2 == rj // 2) & ~same  # tl-tr, bl-br
    vertical = (ri % 2 == rj % 2) & ~same  # tl-bl, tr-br
    diagonal = ~(same | mirror | vertical)
    same_cell = cell[:, None] == cell[None, :]
    return torch.stack([same, mirror, vertical, diagonal, same_cell]).float()


class SRAF(nn.Module):
    """Symmetric Region-Aware Attention Fusion + MLP head: tokens -> logits."""

    def __init__(self, cfg: SofpConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.cfg = cfg
        self.region_pos = nn.Parameter(torch.zeros(5, 1, d))  # 4 quadrants + global
        self.cell_pos = nn.Parameter(torch.zeros(1, TOKENS, d))
        nn.init.trunc_normal_(self.region_pos, std=0.02)
        nn.init.trunc_normal_(self.cell_pos, std=0.02)
        masks = layout_masks()
        self.register_buffer("masks", masks, persistent=False)
        self.layout_bias = nn.Parameter(torch.zeros(cfg.sa_layers, cfg.heads, masks.shape[0]))
        self.self_attn = nn.ModuleList(Attention(d, cfg.heads, cfg.dropout) for _ in range(cfg.sa_layers))
        self.self_ff = nn.ModuleList(FeedForward(d, d * cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.sa_layers))
        if not cfg.use_global:
            self.queries = nn.Parameter(torch.zeros(1, TOKENS, d))
            nn.init.trunc_normal_(self.queries, std=0.02)
        self.cross_attn = Attention(d, cfg.heads, cfg.dropout)
        self.gate = nn.Linear(d, 1)
        self.fuse_ff = FeedForward(d, d * cfg.mlp_ratio, cfg.dropout)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Sequential(
            nn.Linear(d, cfg.head_hidden),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.head_hidden, cfg.num_classes),
        )

    def forward(self, g: torch.Tensor | None, regions: torch.Tensor) -> torch.Tensor:
        """g: (N, 9, D) global tokens or None (no global branch); regions: (N, 4, 9, D) -> (N, classes)."""
        return self.head(self.pooled(g, regions))

    def pooled(self, g: torch.Tensor | None, regions: torch.Tensor) -> torch.Tensor:
        """The fused tokens' mean, the head's input: (N, D)."""
        n, _, _, d = regions.shape
        stacked = regions + self.region_pos[:4].unsqueeze(0) + self.cell_pos.unsqueeze(0)
        tokens = stacked.reshape(n, 4 * TOKENS, d)
        if self.cfg.use_self_attention:
            for i, (attn, ff) in enumerate(zip(self.self_attn, self.self_ff, strict=True)):
                bias = torch.einsum("ht,tij->hij", self.layout_bias[i], self.masks)
                tokens = tokens + attn(tokens, tokens, bias)
                tokens = tokens + ff(tokens)
        g = self.queries.expand(n, -1, -1) if g is None else g + self.region_pos[4] + self.cell_pos
        fused = g
        if self.cfg.use_cross_attention:
            fused = fused + torch.sigmoid(self.gate(g)) * self.cross_attn(g, tokens)
        fused = fused + tokens.reshape(n, 4, TOKENS, d).mean(dim=1)
        fused = fused + self.fuse_ff(fused)
        return self.norm(fused).mean(dim=1)


class SOFP(nn.Module):
    """The SOFP network. ``forward(x) -> logits``; ``forward(x, with_sym=True) -> (logits, L_sym)``;
    ``forward(x, with_features=True) -> (logits, L_sym, the head's input (N, D))``."""

    def __init__(self, cfg: SofpConfig) -> None:
        super().__init__()
        self.cfg = cfg
        pooled = cfg.encoder == "maxpool"

        def local() -> nn.Module:
            return PooledEncoder(cfg, 14, gated=True) if pooled else LocalEncoder(cfg)

        conditioning = InputConditioning(cfg)
        self.global_encoder = None
        if cfg.use_global:
            glob = PooledEncoder(cfg, 28, gated=False) if pooled else GlobalEncoder(cfg)
            self.global_encoder = Conditioned(conditioning, glob)
        top, bottom = local(), local()
        if cfg.tie_mirror:
            locals_ = {"tl": top, "tr": top, "bl": bottom, "br": bottom}
        else:
            locals_ = {"tl": top, "tr": local(), "bl": bottom, "br": local()}
        self.region_encoders = nn.ModuleList(RegionEncoder(q, locals_[q], conditioning) for q in QUADRANTS)
        self.sraf = SRAF(cfg)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(N, 3, 28, 28) -> global tokens (N, 9, D) or None, region tokens (N, 4, 9, D)."""
        g = self.global_encoder(x) if self.global_encoder is not None else None
        regions = torch.stack([enc(x) for enc in self.region_encoders], dim=1)
        return g, regions

    def fuse(self, g: torch.Tensor | None, tl: torch.Tensor, tr: torch.Tensor, bl: torch.Tensor,
             br: torch.Tensor) -> torch.Tensor:
        """Encoder tokens (each (N, 9, D)) -> logits (N, classes): the SRAF + head half of the model."""
        return self.sraf(g, torch.stack([tl, tr, bl, br], dim=1))

    @staticmethod
    def symmetry_loss(regions: torch.Tensor) -> torch.Tensor:
        """L_sym: mean squared difference between each left quadrant's tokens and its mirrored partner's."""
        losses = [((regions[:, a] - regions[:, b]) ** 2).mean() for a, b in MIRROR_PAIRS]
        return torch.stack(losses).sum() / len(MIRROR_PAIRS)

    def forward(self, x: torch.Tensor, with_sym: bool = False, with_features: bool = False):
        g, regions = self.encode(x)
        if with_features:  # (logits, L_sym, the head's input)
            h = self.sraf.pooled(g, regions)
            return self.sraf.head(h), self.symmetry_loss(regions), h
        logits = self.sraf(g, regions)
        if with_sym:
            return logits, self.symmetry_loss(regions)
        return logits
