"""torch-tvl1: Dual TV-L1 optical flow in PyTorch, on the CPU or a CUDA GPU (no CUDA build of OpenCV needed).

The algorithm of Zach, Pock and Bischof (2007) as detailed by Sanchez, Meinhardt-Llopis and
Facciolo (IPOL 2013) and implemented in OpenCV's ``DualTVL1OpticalFlow`` (the flow the composite
features were made with), step for step, with the same parameters (params.TVL1):

* image pyramid: ``nscales`` levels, each ``scale_step`` x the previous (bilinear, like
  cv2.resize), stopping before a side drops under 16 px; intensities 0..255;
* per level, coarse to fine: ``warps`` times warp I1 (and its centred gradient) by the current
  flow (bicubic), linearise the data term (rho), then iterate until the mean squared update is
  under ``epsilon`` or ``outer x inner`` iterations ran: a 5 x 5 median filter of the flow before
  each outer iteration; thresholding step (v), primal step u = v + theta div p, dual step
  p = (p + tau/theta grad u) / (1 + tau/theta |grad u|) (forward differences, backward-difference
  divergence with the boundary conditions of OpenCV);
* the flow is upsampled bilinearly and scaled by 1/scale_step to the next level.

Batched: ``compute_batch`` takes N pairs at once (training-data preparation); a batch iterates
until all its pairs converged. Imports torch: only when this backend is chosen.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from sofp.runtime.flow.base import FLOWS, check_pair
from sofp.runtime.flow.params import Tvl1Params, resolve_params


def _torch():
    import torch
    import torch.nn.functional as F

    return torch, F


@FLOWS.register("torch-tvl1")
class TorchTvl1Flow:
    """TV-L1 in PyTorch. ``device``: "cpu", "cuda", "cuda:1" or None (CUDA when available)."""

    name = "torch-tvl1"

    @classmethod
    def probe(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("torch") is None:
            return False, "PyTorch is not installed (pip install torch)"
        return True, "PyTorch (CPU, or CUDA when torch.cuda.is_available())"

    def __init__(self, params: Tvl1Params | dict | None = None, device: str | None = None) -> None:
        self.params = resolve_params("torch-tvl1", params, Tvl1Params)
        if self.params.gamma != 0.0:
            raise ValueError("torch-tvl1 implements gamma = 0 only (OpenCV's default)")
        torch, _ = _torch()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.iterations_run = 0  # inner iterations of the last call (all levels and warps)

    def compute(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        """prev, curr H x W uint8 -> H x W x 2 float32 px."""
        check_pair(prev, curr)
        return self.compute_batch(prev[None], curr[None])[0]

    def compute_batch(self, prev: np.ndarray, curr: np.ndarray) -> np.ndarray:
        """prev, curr N x H x W uint8 -> N x H x W x 2 float32 px."""
        if prev.shape != curr.shape or prev.ndim != 3:
            raise ValueError(f"compute_batch needs two N x H x W arrays of one shape, got {prev.shape}, {curr.shape}")
        torch, _ = _torch()
        with torch.no_grad():
            i0 = torch.as_tensor(np.ascontiguousarray(prev), device=self.device).float()[:, None]
            i1 = torch.as_tensor(np.ascontiguousarray(curr), device=self.device).float()[:, None]
            u = self._flow(i0, i1)
        return u.permute(0, 2, 3, 1).contiguous().cpu().numpy().astype(np.float32)

    # -- the algorithm (tensors N x C x H x W, float32) -----------------------------------------
    def _flow(self, i0, i1):
        torch, F = _torch()
        p = self.params
        pyr0, pyr1 = [i0], [i1]
        for _ in range(1, p.nscales):
            h, w = pyr0[-1].shape[-2:]
            size = (round(h * p.scale_step), round(w * p.scale_step))
            if size[0] < 16 or size[1] < 16:
                break
            pyr0.append(F.interpolate(pyr0[-1], size=size, mode="bilinear", align_corners=False))
            pyr1.append(F.interpolate(pyr1[-1], size=size, mode="bilinear", align_corners=False))
        self.iterations_run = 0
        u = torch.zeros((i0.shape[0], 2, *pyr0[-1].shape[-2:]), device=i0.device)
        for s in range(len(pyr0) - 1, -1, -1):
            u = self._one_scale(pyr0[s], pyr1[s], u)
            if s > 0:
                u = F.interpolate(u, size=pyr0[s - 1].shape[-2:], mode="bilinear", align_corners=False)
                u = u / p.scale_step
        return u

    @staticmethod
    def _centred_gradient(img):
        """d/dx, d/dy: central differences inside, one-sided at the borders (OpenCV's centeredGradient)."""
        torch, _ = _torch()
        gx = torch.empty_like(img)
        gy = torch.empty_like(img)
        gx[..., 1:-1] = 0.5 * (img[..., 2:] - img[..., :-2])
        gx[..., 0] = img[..., 1] - img[..., 0]
        gx[..., -1] = img[..., -1] - img[..., -2]
        gy[..., 1:-1, :] = 0.5 * (img[..., 2:, :] - img[..., :-2, :])
        gy[..., 0, :] = img[..., 1, :] - img[..., 0, :]
        gy[..., -1, :] = img[..., -1, :] - img[..., -2, :]
        return gx, gy

    @staticmethod
    def _median5(u):
        """5 x 5 median filter per channel with replicated borders (cv2.medianBlur(u, 5)).

        On the CPU cv2.medianBlur itself (several times faster than a torch median over unfolded
        patches); on a GPU the torch version.
        """
        torch, _ = _torch()
        n, c, h, w = u.shape
        if u.device.type == "cpu":
            import cv2

            planes = u.reshape(n * c, h, w).numpy()
            out = np.stack([cv2.medianBlur(np.ascontiguousarray(p), 5) for p in planes])
            return torch.from_numpy(out).reshape(n, c, h, w)
        return TorchTvl1Flow._median5_torch(u)

    @staticmethod
    def _median5_torch(u):
        """The same 5 x 5 median in torch (unfolded patches), for GPU tensors."""
        _, F = _torch()
        n, c, h, w = u.shape
        padded = F.pad(u.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="replicate")
        patches = F.unfold(padded, 5)  # (n*c, 25, h*w)
        return patches.median(dim=1).values.reshape(n, c, h, w)

    def _one_scale(self, i0, i1, u):
        torch, F = _torch()
        p = self.params
        n, _, h, w = i0.shape
        eps2 = p.epsilon * p.epsilon * h * w
        lt = p.lambda_ * p.theta
        taut = p.tau / p.theta
        i1x, i1y = self._centred_gradient(i1)
        stack = torch.cat([i1, i1x, i1y], dim=1)                      # N x 3 x H x W
        ys, xs = torch.meshgrid(torch.arange(h, device=i0.device, dtype=torch.float32),
                                torch.arange(w, device=i0.device, dtype=torch.float32), indexing="ij")
        dual = torch.zeros((n, 2, 2, h, w), device=i0.device)         # p[:, flow comp, direction x|y]
        zero_col = torch.zeros((n, 2, h, 1), device=i0.device)
        zero_row = torch.zeros((n, 2, 1, w), device=i0.device)
        for _ in range(p.warps):
            gx = 2.0 * (xs + u[:, 0]) / max(w - 1, 1) - 1.0
            gy = 2.0 * (ys + u[:, 1]) / max(h - 1, 1) - 1.0
            warped = F.grid_sample(stack, torch.stack([gx, gy], dim=-1), mode="bicubic",
                                   padding_mode="border", align_corners=True)
            i1w, grad_i = warped[:, :1], warped[:, 1:]                # N x 1, N x 2 (I1wx, I1wy)
            grad2 = (grad_i * grad_i).sum(1, keepdim=True)
            grad2_safe = grad2.clamp_min(1e-10)
            rho_c = i1w - (grad_i * u).sum(1, keepdim=True) - i0
            error = float("inf")
            outer = 0
            while error > eps2 and outer < p.outer_iterations:
                outer += 1
                if p.median_filtering > 1:
                    u = self._median5(u)
                inner = 0
                while error > eps2 and inner < p.inner_iterations:
                    inner += 1
                    # thresholding: v = u + d
                    rho = rho_c + (grad_i * u).sum(1, keepdim=True)
                    # the three cases of the thresholding (rho < -lt g2, rho > lt g2, else) in one clamp
                    coef = (-rho / grad2_safe).clamp_(-lt, lt)
                    v = u + coef * grad_i
                    # divergence of the dual field (backward differences, zero outside)
                    div = (torch.diff(dual[:, :, 0], dim=-1, prepend=zero_col)
                           + torch.diff(dual[:, :, 1], dim=-2, prepend=zero_row))
                    u_new = v + p.theta * div
                    error = float(((u_new - u) ** 2).sum(dim=(1, 2, 3)).max())
                    u = u_new
                    # forward gradient of u (zero at the last column / row), then the dual step
                    ux = torch.diff(u, dim=-1, append=u[..., -1:])
                    uy = torch.diff(u, dim=-2, append=u[..., -1:, :])
                    grad_u = torch.stack([ux, uy], dim=2)            # N x 2 x 2 x H x W
                    norm = 1.0 + taut * torch.sqrt(ux * ux + uy * uy)[:, :, None]
                    dual = (dual + taut * grad_u) / norm
                self.iterations_run += inner
        return u
