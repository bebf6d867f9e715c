"""Stores: where rollouts, attempts, spans, resources and workers live."""

from .base import LATEST, LightningStore
from .memory import InMemoryStore
from .open import default_store_url, open_store

__all__ = ["LATEST", "InMemoryStore", "LightningStore", "default_store_url", "open_store"]
