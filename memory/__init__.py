"""Long-term counseling memory: embeddings and a Chroma-backed store.

Importing this package is cheap: chromadb and the MiniLM weights load lazily.
"""

from .base import DEFAULT_TOP_K, SessionStore
from .embeddings import Embedder, MiniLMEmbedder, shared_embedder
from .store import MemoryStore

__all__ = ["DEFAULT_TOP_K", "Embedder", "MemoryStore", "MiniLMEmbedder", "SessionStore", "shared_embedder"]
