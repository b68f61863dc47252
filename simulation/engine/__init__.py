"""The simulation engine: the LangGraph session and course graphs, their state, the campaign's agents
(``components``) and where checkpoints live.

Inside: ``components`` -> ``course_graph`` -> ``session_graph`` -> ``states`` (state, runtime context, and
the seam where plain state becomes typed values); ``checkpointers`` (SQLite or Postgres, strictly read).
"""
