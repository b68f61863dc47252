"""How the trainers that read an export honour its ``weight`` marks: written beside the data (NAME.trainers.json).

Every assistant (``gpt``) message of an ``openai`` or ``sharegpt`` export carries ``weight``: 1 to
learn it, 0 for context (earlier turns, and turns the program wrote). Trainers differ in what they
read, so the export says it for each:

* OpenAI's fine-tuning reads ``weight`` on assistant messages (it trains every one without ``weight: 0``).
* Axolotl's ``chat_template`` datasets read it with ``message_field_training: weight``; ShareGPT's
  ``from``/``value`` keys map with ``message_property_mappings``.
* LLaMA-Factory ignores the field and trains every assistant turn of a ShareGPT or OpenAI-style
  record, and every ``history`` answer of an Alpaca (``muspsy``) record, unless ``mask_history: true``
  (then only the last turn, the per-turn form's target). It has no per-turn mask, so the per-session
  form cannot be trained with it as marked.
* This project's ``train`` reads the same ``weight`` marks (``agents/training/data.py``).
"""

from __future__ import annotations

NOTE = ("Every assistant message carries weight 1 (learn it) or 0 (context: earlier turns, and turns the program "
        "wrote from a template, a safety step or a fallback). Train only what is marked 1.")


def trainer_settings(fmt: str, form: str, files: list[str]) -> dict:
    """What to tell each trainer so that it learns only the messages marked to learn."""
    settings: dict = {"format": fmt, "form": form, "files": files, "note": NOTE if fmt != "muspsy" else
                      "Each record's output is its target; its history is context (earlier turns, the program's too)."}
    if fmt == "muspsy":
        settings["llama_factory"] = {
            "dataset_info": {"formatting": "alpaca", "columns": {"prompt": "instruction", "query": "input",
                                                                  "response": "output", "history": "history"}},
            "training_args": {"mask_history": True},
            "why": "LLaMA-Factory trains the answers in history too unless mask_history is true."}
        settings["muspsy_sim_train"] = "run_sim.py train reads the output as the only target."
        return settings
    messages, tags = ("messages", {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                   "assistant_tag": "assistant", "system_tag": "system"}) if fmt == "openai" else \
        ("conversations", {})
    axolotl = {"type": "chat_template", "field_messages": messages, "roles_to_train": ["assistant"],
               "message_field_training": "weight"}
    if fmt == "sharegpt":
        axolotl.update(message_property_mappings={"role": "from", "content": "value"},
                       roles={"system": ["system"], "user": ["human"], "assistant": ["gpt"]})
    settings["axolotl"] = {"datasets": [{"path": name, **axolotl} for name in files]}
    if fmt == "openai":
        settings["openai"] = "OpenAI's fine-tuning reads weight on assistant messages as written: nothing to set."
    settings["llama_factory"] = {
        "dataset_info": {"formatting": "sharegpt", "columns": {"messages": messages}, **({"tags": tags} if tags else {})},
        "training_args": {"mask_history": True},
        "why": ("LLaMA-Factory ignores weight and trains every assistant turn unless mask_history is true (then the "
                "last turn only, the per-turn form's target).")
        + (" It has no per-turn mask: train the per-session form with another trainer, or export --form turn."
           if form == "session" else "")}
    settings["muspsy_sim_train"] = "run_sim.py train reads weight: one example per message marked 1."
    return settings
