"""Seeded numeric regression of both denoisers and the image encoder against stored outputs.

A change in these numbers means checkpoints trained before the change no longer behave the same.
If the change is intended, regenerate the stored values with
``python src/dp_core/test/test_models_regression.py`` and paste its output over ``EXPECTED``.
"""

import torch

from dp_core.models import (
    EncoderConfig,
    ObservationEncoder,
    TransformerConfig,
    UNetConfig,
    build_denoiser,
)
from dp_core.spec import ObsKeySpec, PolicySpec

torch.set_num_threads(1)

EXPECTED = {
    # film_init="split": the initialization before film_init existed; same numbers as then.
    "unet": [0.3042123, 1.368556, 0.5135765, 0.8411286, 0.6630423, 1.234996, 0.5193562, 0.5806451],
    # the default film_init="original" (the original's FiLM init distribution): new seeded weights.
    "unet_film_original": [0.6972225, 0.6658671, 1.062015, 0.8753911, 0.5587967, 0.6822469, 0.2239587, 0.3537643],
    "transformer": [
        -0.07938263,
        0.01087729,
        0.02475482,
        0.02872839,
        -0.05224525,
        -0.05559471,
        -0.04884973,
        -0.01700648,
    ],
    "encoder": [0.1145901, -0.3266822, -0.1570315, 0.2081351, 0.1070604, -0.4012634, -0.1337355, 0.1895907],
}


def outputs() -> dict[str, list[float]]:
    """Eight output values of each model, built and fed from fixed seeds."""
    gen = torch.Generator().manual_seed(123)
    sample, obs = torch.randn(2, 8, 3, generator=gen), torch.randn(2, 2, 5, generator=gen)
    steps = torch.tensor([7, 80])
    result = {}
    unet = {"down_dims": (16, 32), "n_groups": 4, "diffusion_step_embed_dim": 16}
    configs = {
        "unet": UNetConfig(**unet, film_init="split"),
        "unet_film_original": UNetConfig(**unet),
        "transformer": TransformerConfig(n_layer=2, n_head=2, n_emb=16, n_cond_layers=1),
    }
    for kind, config in configs.items():
        torch.manual_seed(0)
        model = build_denoiser(kind.split("_")[0], config, 3, 5, 2, 8).eval()  # type: ignore[arg-type]
        with torch.inference_mode():
            result[kind] = model(sample, steps, obs).flatten()[::6][:8].tolist()
    spec = PolicySpec(obs=(ObsKeySpec("cam", "rgb", (3, 40, 40)), ObsKeySpec("pos", "low_dim", (2,))), action_dim=2)
    torch.manual_seed(0)
    encoder = ObservationEncoder(
        spec, EncoderConfig(crop_shape=(36, 36), num_keypoints=4, feature_dim_per_camera=6)
    ).eval()
    images = torch.rand(1, 2, 3, 40, 40, generator=gen) * 2 - 1
    with torch.inference_mode():
        result["encoder"] = encoder({"cam": images, "pos": torch.zeros(1, 2, 2)})[0, :, :4].flatten().tolist()
    return result


def test_outputs_match_stored_values() -> None:
    actual = outputs()
    for name, expected in EXPECTED.items():
        assert torch.allclose(torch.tensor(actual[name]), torch.tensor(expected), rtol=1e-4, atol=1e-5), (
            f"{name} outputs changed: {actual[name]} != {expected}; see the module docstring"
        )


if __name__ == "__main__":
    for key, values in outputs().items():
        print(f'    "{key}": [{", ".join(f"{v:.7g}" for v in values)}],')
