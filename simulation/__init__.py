"""Simulation: the campaign config, the engine (LangGraph session and course graphs), the run record,
running campaigns, and the analyses that read runs.

Layers, top to bottom (a module imports only from layers below it; ``|`` separates independent ones):

    cli
    practice                              (a person in the counselor's chair: the web page)
    fork | studio | summary | progress
    campaign | inspection | export | validity   (run campaigns; look inside runs; training data;
                                                 the client against real help-seekers)
    evaluation                            (metrics of recorded sessions)
    engine                                (graphs, their state, the campaign's agents, checkpointers)
    record                                (the run record: schema, writer, reader, migration)
    config | seeding
"""
