"""Long-term counseling memory: embeddings and a Chroma-backed store.

Importing this package is cheap: chromadb and the MiniLM weights load lazily.
"""

from muspsy_sim.memory.base import DEFAULT_TOP_K, SessionStore
from muspsy_sim.memory.embeddings import Embedder, MiniLMEmbedder, shared_embedder
from muspsy_sim.memory.store import MemoryStore

__all__ = ["DEFAULT_TOP_K", "Embedder", "MemoryStore", "MiniLMEmbedder", "SessionStore", "shared_embedder"]
