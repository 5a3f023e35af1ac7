"""The model registry: registered models, numbered versions, stages, aliases, history."""

from mlcli.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from mlcli.registry.files import ModelRegistry
from mlcli.registry.promotion import Promotion, PromotionRefused, PromotionResult

__all__ = [
    "ModelRegistry",
    "ModelVersion",
    "Promotion",
    "PromotionRefused",
    "PromotionResult",
    "RegisteredModel",
    "RegistryEvent",
    "Stage",
]
