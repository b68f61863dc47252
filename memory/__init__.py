"""Long-term counseling memory: embeddings and a Chroma-backed store.

Importing this package is cheap: chromadb and the MiniLM weights load lazily.
"""

from muspsy_sim.memory.base import MemoryHit, SessionStore
from muspsy_sim.memory.embeddings import Embedder, MiniLMEmbedder, shared_embedder
from muspsy_sim.memory.store import MemoryStore, chroma_unreachable

__all__ = ["Embedder", "MemoryHit", "MemoryStore", "MiniLMEmbedder", "SessionStore", "chroma_unreachable",
           "shared_embedder"]
