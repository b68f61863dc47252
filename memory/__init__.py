"""Long-term counseling memory: embeddings and a Chroma-backed store.

Importing this package is cheap: chromadb and the MiniLM weights load lazily.
"""

from muspsy_sim.memory.embeddings import Embedder, MiniLMEmbedder, shared_embedder
from muspsy_sim.memory.store import MemoryHit, MemoryStore

__all__ = ["Embedder", "MemoryHit", "MemoryStore", "MiniLMEmbedder", "shared_embedder"]
