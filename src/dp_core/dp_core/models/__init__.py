"""Denoisers (1D conditional U-Net, causal transformer) and observation encoders."""

from dp_core.models.denoiser import Denoiser, DenoiserKind, build_denoiser
from dp_core.models.obs_encoder import EncoderConfig, ObservationEncoder
from dp_core.models.resnet import ResNet18, load_torchvision_state_dict
from dp_core.models.spatial_softmax import SpatialSoftmax
from dp_core.models.transformer import TransformerConfig, TransformerDenoiser
from dp_core.models.unet1d import ConditionalUnet1D, UNetConfig

__all__ = [
    "ConditionalUnet1D",
    "Denoiser",
    "DenoiserKind",
    "EncoderConfig",
    "ObservationEncoder",
    "ResNet18",
    "SpatialSoftmax",
    "TransformerConfig",
    "TransformerDenoiser",
    "UNetConfig",
    "build_denoiser",
    "load_torchvision_state_dict",
]
