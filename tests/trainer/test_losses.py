import pytest
import torch

from trainer.vgg import VGG19Features
from trainer.losses import (
    VGG_LAYER_WEIGHTS,
    DiscriminatorLosses,
    GeneratorLosses,
    VGGLoss,
    feature_matching_loss,
    gradient_l1,
    lsgan_loss,
)


def full(value: float, shape=(1, 1, 2, 2), requires_grad: bool = False) -> torch.Tensor:
    return torch.full(shape, float(value), requires_grad=requires_grad)


@pytest.fixture(scope="module")
def vgg_loss() -> VGGLoss:
    torch.manual_seed(0)
    return VGGLoss(VGG19Features())


def test_lsgan_known_values():
    prediction = torch.tensor([0.5, 1.5]).view(1, 1, 1, 2)
    scales = [[full(99.0), prediction]]  # the intermediate feature must be ignored
    assert lsgan_loss(scales, target_is_real=True).item() == pytest.approx((0.25 + 0.25) / 2)
    assert lsgan_loss(scales, target_is_real=False).item() == pytest.approx((0.25 + 2.25) / 2)


def test_lsgan_averages_over_scales():
    scales = [[full(5.0), full(0.0)], [full(-5.0), full(2.0, shape=(1, 1, 1, 1))]]
    # real target 1: scale 0 gives 1, scale 1 gives 1; fake target 0: 0 and 4
    assert lsgan_loss(scales, True).item() == pytest.approx(1.0)
    assert lsgan_loss(scales, False).item() == pytest.approx((0.0 + 4.0) / 2)


def test_feature_matching_weights_layers_and_skips_predictions():
    # 2 scales of (feature, feature, prediction); feature gaps 1, 2 and 3, 4; prediction gaps 100
    fake = [[full(1), full(2), full(100)], [full(3), full(4), full(100)]]
    real = [[full(0), full(0), full(0)], [full(0), full(0), full(0)]]
    loss = feature_matching_loss(fake, real, num_D=2, n_layers=3, lambda_feat=10.0)
    assert loss.item() == pytest.approx(10.0 * (1 / 2) * (4 / 4) * (1 + 2 + 3 + 4))
    loss_n1 = feature_matching_loss(fake, real, num_D=2, n_layers=1, lambda_feat=10.0)
    assert loss_n1.item() == pytest.approx(loss.item() * 2)  # 4 / (1 + 1) vs 4 / (3 + 1)


def test_feature_matching_gradient_reaches_fake_only():
    fake = [[full(1, requires_grad=True), full(0)]]
    real = [[full(0, requires_grad=True), full(0)]]
    feature_matching_loss(fake, real, num_D=1, n_layers=3).backward()
    assert fake[0][0].grad is not None and fake[0][0].grad.abs().sum() > 0
    assert real[0][0].grad is None


def test_feature_matching_rejects_wrong_number_of_scales():
    fake = [[full(1), full(0)]]
    with pytest.raises(ValueError, match="2 discriminator scales"):
        feature_matching_loss(fake, fake, num_D=2, n_layers=3)


def test_vgg_loss_zero_for_identical_images(vgg_loss):
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    assert vgg_loss(image, image.clone()).item() == pytest.approx(0.0, abs=1e-7)


def test_vgg_loss_is_weighted_l1_of_features(vgg_loss):
    torch.manual_seed(2)
    fake, real = torch.rand(2, 1, 3, 32, 32) * 2 - 1
    loss = vgg_loss(fake, real)
    expected = sum(
        w * (f - r).abs().mean()
        for w, f, r in zip(VGG_LAYER_WEIGHTS, vgg_loss.vgg(fake), vgg_loss.vgg(real))
    )
    assert loss.item() > 0
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert VGG_LAYER_WEIGHTS == (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def test_vgg_loss_gradient_reaches_fake_only(vgg_loss):
    fake = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_()
    real = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_()
    vgg_loss(fake, real).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert real.grad is None
    assert all(p.grad is None for p in vgg_loss.parameters())


def test_generator_losses_total_and_dict_skip_switched_off_terms():
    losses = GeneratorLosses(gan=torch.tensor(1.0), feat=torch.tensor(2.0), vgg=None)
    assert losses.total().item() == pytest.approx(3.0)
    assert losses.as_dict() == {"gan": 1.0, "feat": 2.0}
    losses.temporal_gan = torch.tensor(0.5)
    assert losses.total().item() == pytest.approx(3.5)
    assert set(losses.as_dict()) == {"gan", "feat", "temporal_gan"}


def test_generator_total_keeps_the_graph():
    gan = torch.tensor(1.0, requires_grad=True)
    GeneratorLosses(gan=gan * 2, vgg=gan * 3).total().backward()
    assert gan.grad.item() == pytest.approx(5.0)


def test_gradient_l1_asks_for_the_edge_not_the_brightness():
    """A step edge: shifting the brightness costs pixel L1 but no gradient L1; blurring the edge
    costs gradient L1 (of each direction the edge runs across); only the fake gets a gradient."""
    real = torch.zeros(1, 3, 8, 8)
    real[..., 4:] = 1.0  # a vertical edge between columns 3 and 4
    brighter = (real + 0.5).requires_grad_()
    assert torch.nn.functional.l1_loss(brighter, real).item() == pytest.approx(0.5)
    assert gradient_l1(brighter, real).item() == pytest.approx(0.0)
    blurred = real.clone()
    blurred[..., 3], blurred[..., 4] = 1 / 3, 2 / 3  # the same step spread over three columns
    # row differences: the real one has a single 1 per row (1 of 7 columns), the blurred one three 1/3s
    assert gradient_l1(blurred, real).item() == pytest.approx((2 / 3 + 1 / 3 + 1 / 3) / 7)
    assert gradient_l1(real, real).item() == 0.0
    gradient_l1(brighter * 2, real).backward()
    assert brighter.grad is not None and real.grad is None


def test_discriminator_losses_total_is_half_sum():
    losses = DiscriminatorLosses(real=torch.tensor(0.4), fake=torch.tensor(1.0))
    assert losses.total().item() == pytest.approx(0.7)
    assert losses.as_dict() == pytest.approx({"real": 0.4, "fake": 1.0})
