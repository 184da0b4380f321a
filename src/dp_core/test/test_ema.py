"""EMA of the weights: the paper's decay schedule, averaging, copied buffers, DDP, resume."""

import pytest
import torch
import torch.distributed as dist
from torch import nn

from dp_core.training.ema import EMAModel, unwrap_model

torch.set_num_threads(1)


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.norm = nn.BatchNorm1d(2)
        self.frozen = nn.Parameter(torch.zeros(2), requires_grad=False)
        self.register_buffer("stats", torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(x)) + self.frozen + self.stats


def fill(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
        model.stats.fill_(value)


def test_decay_follows_the_paper_schedule():
    ema = EMAModel(Small(), power=0.75, max_value=0.9999)
    # The original counts from the second update: the first two updates copy the weights.
    assert ema.get_decay(0) == 0.0 and ema.get_decay(1) == 0.0
    assert ema.get_decay(2) == pytest.approx(1 - 2**-0.75)  # 0.4054
    assert ema.get_decay(11) == pytest.approx(1 - 11**-0.75)
    assert ema.get_decay(1001) == pytest.approx(1 - 1001**-0.75)  # ~0.9944
    assert ema.get_decay(10**7) == 0.9999  # capped
    delayed = EMAModel(Small(), update_after_step=5, inv_gamma=2.0, min_value=0.1)
    assert delayed.get_decay(6) == 0.0
    assert delayed.get_decay(8) == pytest.approx(1 - (1 + 2 / 2.0) ** -0.75)
    assert delayed.get_decay(7) == pytest.approx(max(0.1, 1 - (1 + 1 / 2.0) ** -0.75))


def test_step_blends_trainable_parameters_and_copies_the_rest():
    model = Small()
    ema = EMAModel(model)
    for _ in range(2):  # decay 0: a plain copy
        fill(model, 1.0)
        ema.step(model)
    fill(model, 3.0)
    with torch.no_grad():
        model.norm.running_mean.fill_(5.0)
    ema.step(model)
    d = 1 - 2**-0.75
    avg = ema.averaged_model
    assert ema.decay == pytest.approx(d)
    torch.testing.assert_close(avg.linear.weight, torch.full((2, 3), d * 1.0 + (1 - d) * 3.0))
    assert torch.equal(avg.frozen, model.frozen)  # requires_grad=False: copied
    assert torch.equal(avg.norm.weight, model.norm.weight)  # BatchNorm parameters: copied (original)
    assert torch.equal(avg.stats, model.stats)  # buffers: copied
    assert torch.equal(avg.norm.running_mean, torch.full((2,), 5.0))
    assert ema.optimization_step == 3


def test_average_converges_to_the_mean_of_noisy_weights():
    torch.manual_seed(0)
    model = Small()
    ema = EMAModel(model)
    target = torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.0, -0.5]])
    for _ in range(2000):
        with torch.no_grad():
            model.linear.weight.copy_(target + 0.1 * torch.randn_like(target))
        ema.step(model)
    error = (ema.averaged_model.linear.weight - target).abs().max().item()
    assert error < 0.02
    assert (model.linear.weight - target).abs().max().item() > 3 * error  # the average is much closer


def test_averaged_model_is_a_frozen_eval_copy():
    model = Small().train()
    ema = EMAModel(model)
    assert ema.averaged_model is not model
    assert not ema.averaged_model.training
    assert not any(p.requires_grad for p in ema.averaged_model.parameters())
    assert model.training and model.linear.weight.requires_grad


def test_state_dict_resume_continues_identically(tmp_path):
    torch.manual_seed(1)
    model = Small()
    uninterrupted, resumed = EMAModel(model), None
    for step in range(20):
        with torch.no_grad():
            model.linear.weight.add_(0.1 * torch.randn(2, 3))
        uninterrupted.step(model)
        if step == 9:
            torch.save(uninterrupted.state_dict(), tmp_path / "ema.pt")
            resumed = EMAModel(Small())
            resumed.load_state_dict(torch.load(tmp_path / "ema.pt"))
            assert resumed.optimization_step == 10
        elif step > 9:
            resumed.step(model)
    for a, b in zip(uninterrupted.averaged_model.state_dict().values(), resumed.averaged_model.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(KeyError, match="optimization_step"):
        resumed.load_state_dict({"averaged_model": {}})


def test_works_with_a_ddp_wrapped_model(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = Small()
        ddp = nn.parallel.DistributedDataParallel(model)
        assert unwrap_model(ddp) is model
        ema = EMAModel(ddp)
        assert not hasattr(ema.averaged_model, "module")
        fill(model, 2.0)
        ema.step(ddp)
        assert torch.equal(ema.averaged_model.linear.weight, model.linear.weight)
    finally:
        dist.destroy_process_group()


def test_bad_settings_and_mismatched_models_are_rejected():
    with pytest.raises(ValueError, match="power"):
        EMAModel(Small(), power=0)
    with pytest.raises(ValueError, match="max_value"):
        EMAModel(Small(), max_value=1.5)
    ema = EMAModel(Small())
    with pytest.raises(ValueError, match="structure differs"):
        ema.step(nn.Linear(3, 2))


def test_replaced_or_retyped_parameters_are_followed():
    model = Small()
    ema = EMAModel(model)
    ema.step(model)
    model.linear.weight = nn.Parameter(torch.full((2, 3), 4.0))  # a new object: the cached pairs must refresh
    ema.step(model)
    assert torch.equal(ema.averaged_model.linear.weight, model.linear.weight)
    model.double()  # sources in float64, the average stays float32
    with torch.no_grad():
        model.linear.weight.fill_(6.0)
    ema.step(model)
    d = 1 - 2**-0.75
    assert ema.averaged_model.linear.weight.dtype == torch.float32
    torch.testing.assert_close(ema.averaged_model.linear.weight, torch.full((2, 3), d * 4.0 + (1 - d) * 6.0))
