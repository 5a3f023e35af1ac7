"""The model registry: registered models, numbered versions, stages, aliases, history."""

from mlcli.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from mlcli.registry.files import ModelRegistry
from mlcli.registry.promotion import Promotion, PromotionRefused, PromotionResult
from mlcli.registry.protocol import Registry

__all__ = [
    "ModelRegistry",
    "ModelVersion",
    "Promotion",
    "PromotionRefused",
    "PromotionResult",
    "RegisteredModel",
    "Registry",
    "RegistryEvent",
    "Stage",
]
