"""The simulation engine: the LangGraph session and course graphs, their state, the campaign's agents
(``components``) and where checkpoints live.

Inside: ``components`` -> ``course_graph`` -> ``session_graph`` -> ``states``, ``run_context``;
``checkpointers`` -> ``checkpoint_serde``.
"""
