import pytest
import torch

from sofp.runtime.errors import UsageError
from sofp.training.data.augment import mirror
from sofp.training.models import build_model
from sofp.training.models.sofp import layout_masks


def symmetric(x: torch.Tensor) -> torch.Tensor:
    """Make (N, 3, 28, 28) input mirror-symmetric: right half = mirror of the left half."""
    out = x.clone()
    out[..., 14:] = mirror(x)[..., 14:]
    return out


@pytest.mark.parametrize("name", ["sofp", "ststnet"])
def test_shapes(name):
    model = build_model(name).eval()
    assert model(torch.rand(5, 3, 28, 28)).shape == (5, 3)


def test_sym_loss_zero_on_symmetric_input_and_not_otherwise():
    torch.manual_seed(0)
    model = build_model("sofp").eval()
    x = torch.rand(4, 3, 28, 28)
    _, sym = model(symmetric(x), with_sym=True)
    assert sym.item() < 1e-10
    _, sym_random = model(x, with_sym=True)
    assert sym_random.item() > 1e-4


def test_mirror_is_an_involution_and_negates_u():
    x = torch.rand(2, 3, 28, 28)
    assert torch.allclose(mirror(mirror(x)), x)
    assert torch.allclose(mirror(x)[:, 0], 1 - x[:, 0].flip(-1))
    assert torch.allclose(mirror(x)[:, 1:], x[:, 1:].flip(-1))


def test_layout_masks_partition_region_pairs():
    m = layout_masks()
    assert m.shape == (5, 36, 36)
    assert torch.equal(m[:4].sum(0), torch.ones(36, 36))  # every region pair has exactly one relation
    assert m[1, 0, 9] == 1 and m[2, 0, 18] == 1 and m[3, 0, 27] == 1  # tl-tr mirror, tl-bl vertical, tl-br diagonal


@pytest.mark.parametrize("switch", ["use_global", "use_self_attention", "use_cross_attention", "tie_mirror"])
def test_ablations_build_and_run(switch):
    model = build_model("sofp", **{switch: False}).eval()
    assert model(torch.rand(2, 3, 28, 28)).shape == (2, 3)


def test_unknown_model_or_setting_is_one_line():
    with pytest.raises(UsageError, match="known: ensemble, sofp, ststnet"):
        build_model("resnet")
    with pytest.raises(UsageError, match="no setting width"):
        build_model("sofp", width=3)
