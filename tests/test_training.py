"""LoRA fine-tuning of the counselor on the embedded SmolLM2 model: a few CPU steps on a tiny dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from muspsy_sim.agents.training.data import fit_to_length, load_training_data
from muspsy_sim.agents.training.trainer import build_trainer, resolve_base_model, train_counselor
from muspsy_sim.simulation.core.errors import InputError

pytestmark = pytest.mark.real_model

BASE = "local/smollm2-135m-instruct"
SYSTEM = "You are a warm, skilled psychological counselor."
TARGET = "It sounds really hard. What helps you feel a little calmer?"
CLIENT_LINES = [
    "I can't sleep before exams.", "My boss yells at me and I freeze.", "I feel lonely since moving.",
    "My heart races in crowds.", "I keep arguing with my sister.", "I put off everything until the last minute.",
    "I worry about my health all the time.", "I feel like a failure at work.", "My panic attacks come at night.",
    "I can't stop checking my phone.", "I miss my dad.", "Grades stress me out.",
]
VALIDATION_LINES = ["Mornings feel heavy lately.", "I get anxious before calls.", "My chest feels tight at work."]


def chat_record(client_line: str, index: int, target: str = TARGET) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": client_line},
                         {"role": "assistant", "content": target}],
            "client_id": f"client-{index}", "session_index": 1}


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    data = write_jsonl(root / "train.jsonl", [chat_record(line, i) for i, line in enumerate(CLIENT_LINES)])
    validation = write_jsonl(root / "validation.jsonl", [chat_record(line, i) for i, line in enumerate(VALIDATION_LINES)])
    steps_seen = []
    # One thread: on a shared 2-core machine two torch threads contend with other
    # processes and run several times slower.
    result = train_counselor(data, BASE, root / "adapter", steps=12, learning_rate=1e-3, batch_size=4,
                             max_length=256, seed=0, validation=validation, threads=1,
                             on_step=lambda step, loss: steps_seen.append((step, loss)))
    return result, steps_seen, data


def test_training_loss_falls_and_validation_improves(trained):
    result, steps_seen, _ = trained
    assert [step for step, _ in result.losses] == list(range(1, 13))
    assert steps_seen == result.losses
    first = sum(loss for _, loss in result.losses[:3]) / 3
    last = sum(loss for _, loss in result.losses[-3:]) / 3
    assert last < first * 0.7, result.losses
    assert result.validation_loss is not None and result.validation_loss_before is not None
    assert result.validation_loss < result.validation_loss_before
    assert result.device == "cpu" and result.seconds > 0


def test_adapter_directory_is_self_contained_and_documented(trained):
    result, _, data = trained
    out = result.out_dir
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "tokenizer_config.json",
                 "training_config.json", "loss_curve.json", "loss_curve.png"):
        assert (out / name).is_file(), name
    assert not list(out.parent.glob(".adapter.training-*"))  # staging renamed away
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == "smollm2-135m-instruct"
    assert adapter_config["r"] == 8
    config = json.loads((out / "training_config.json").read_text())
    assert config["arguments"]["steps"] == 12 and config["arguments"]["learning_rate"] == 1e-3
    assert config["base_model"]["model"] == BASE
    assert config["dataset"]["records"] == 12 and len(config["dataset"]["sha256"]) == 64
    assert config["dataset"]["path"] == str(data.resolve())
    assert config["validation"]["records"] == 3
    assert set(config["versions"]) >= {"torch", "transformers", "peft", "trl"}
    curve = json.loads((out / "loss_curve.json").read_text())
    assert [point["step"] for point in curve] == list(range(1, 13))
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_trained_adapter_is_a_model_string_that_generates(trained):
    import torch

    from muspsy_sim.agents.llm import ModelSpec, Sampling
    from muspsy_sim.agents.llm.routing import LiteLLMModel, servable

    model_string = "local/" + str(trained[0].out_dir)
    spec = servable(ModelSpec.parse(model_string))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see `trained`
    try:
        completion = LiteLLMModel(spec).complete(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Work is too much lately."}],
            Sampling(max_tokens=8, seed=1),
        )
    finally:
        torch.set_num_threads(threads)
    assert completion.text.strip() and completion.completion_tokens > 0


def test_loss_is_on_the_target_turn_only(trained, tmp_path):
    data = trained[2]
    trainer, _ = build_trainer(data, BASE, tmp_path / "work", steps=1, max_length=256)
    tokenizer = trainer.processing_class
    example = trainer.train_dataset[0]
    labels, input_ids = example["labels"], example["input_ids"]
    first_target = next(i for i, label in enumerate(labels) if label != -100)
    assert first_target > 0 and all(label == -100 for label in labels[:first_target])
    assert labels[first_target:] == input_ids[first_target:]
    assert tokenizer.decode(input_ids[:first_target]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(input_ids[first_target:]).strip() == TARGET + "<|im_end|>"
    assert CLIENT_LINES[0] in tokenizer.decode(input_ids[:first_target])
    # The collator pads labels with -100 and keeps the prompt masked.
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    for row, ids in zip(batch["labels"].tolist(), batch["input_ids"].tolist()):
        targets = [token for token, label in zip(ids, row) if label != -100]
        assert tokenizer.decode(targets).strip() == TARGET + "<|im_end|>"


def test_long_context_drops_oldest_turns_and_keeps_the_system_prompt(tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(BASE).weights_directory())
    history = []
    for turn in range(30):
        history += [{"role": "user", "content": f"Client turn {turn}: " + "worry " * 20},
                    {"role": "assistant", "content": f"Counselor turn {turn}: tell me more."}]
    record = {"messages": [{"role": "system", "content": SYSTEM}, *history,
                           {"role": "user", "content": "Latest client turn."},
                           {"role": "assistant", "content": TARGET}]}
    data = load_training_data(write_jsonl(tmp_path / "long.jsonl", [record]))
    (fitted,), report = fit_to_length(data.examples, tokenizer, 256)
    assert report.trimmed == 1 and report.dropped == 0 and report.truncated == 0
    prompt = fitted["prompt"]
    assert prompt[0]["content"] == SYSTEM and prompt[-1]["content"] == "Latest client turn."
    assert prompt[1]["role"] == "user"  # whole exchanges dropped: the context still opens with the client
    assert "Client turn 0:" not in json.dumps(prompt) and "Client turn 29:" in json.dumps(prompt)
    assert len(tokenizer.apply_chat_template(prompt + fitted["completion"], tokenize=True, return_dict=True)
               ["input_ids"]) <= 256


def test_muspsy_and_sharegpt_records_become_chat_examples(tmp_path):
    record = {"instruction": "You are a counselor.", "input": "Still anxious.", "output": "What happens first?",
              "history": [["Hello.", "Welcome. What brings you here?"], ["Work stress.", "Tell me more."]]}
    sharegpt = {"conversations": [{"from": "system", "value": SYSTEM}, {"from": "human", "value": "Hi."},
                                  {"from": "gpt", "value": TARGET}]}
    data = load_training_data(write_jsonl(tmp_path / "mixed.jsonl", [record, chat_record("Hi.", 1), sharegpt]))
    assert data.formats == {"messages": 1, "muspsy": 1, "sharegpt": 1}
    example = data.examples[0]
    assert [m["role"] for m in example["prompt"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert example["prompt"][0]["content"] == "You are a counselor." and example["prompt"][-1]["content"] == "Still anxious."
    assert example["completion"] == [{"role": "assistant", "content": "What happens first?"}]
    assert data.examples[2] == data.examples[1]


@pytest.mark.parametrize(
    ("lines", "field", "words"),
    [
        ([json.dumps(chat_record("a", 0)), "{not json"], "line 2", "not valid JSON"),
        ([json.dumps(chat_record("a", 0)), "", json.dumps({"client_id": "x"})], "line 3", "needs 'messages'"),
        ([json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]})],
         "line 1", "last message must be the assistant"),
        ([json.dumps({"messages": [{"role": "coach", "content": "s"}]})], "line 1: messages[0].role", "expected one of"),
        ([json.dumps({"instruction": "s", "input": "hi", "output": ""})], "line 1: output", "missing or empty"),
        (["[1, 2]"], "line 1", "JSON object"),
        ([json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
                                   {"role": "assistant", "content": "a", "weight": 0.5}]})],
         "line 1: messages[2].weight", "must be 0 or 1"),
        ([json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi", "weight": 1},
                                   {"role": "assistant", "content": "a"}]})],
         "line 1: messages[1].weight", "only read on assistant messages"),
        ([json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
                                   {"role": "assistant", "content": "a", "weight": 0}]})],
         "", "no message to learn"),
    ],
)
def test_bad_records_name_the_line(tmp_path, lines, field, words):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        train_counselor(path, BASE, tmp_path / "out", steps=1)
    assert caught.value.field == field and words in caught.value.message
    assert caught.value.source == str(path)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.training-*"))


def test_weights_say_which_assistant_messages_are_learnt(tmp_path):
    """As OpenAI reads them: weight 0 is context; in a weighted record an unmarked assistant message is learnt."""
    session = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
                            {"role": "assistant", "content": "template", "weight": 0},
                            {"role": "user", "content": "ok"}, {"role": "assistant", "content": "mine", "weight": 1},
                            {"role": "user", "content": "and"}, {"role": "assistant", "content": "unmarked"}]}
    context_only = {"conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "y", "weight": 0}]}
    data = load_training_data(write_jsonl(tmp_path / "w.jsonl", [session, context_only, chat_record("a", 0)]))
    assert [e["completion"][0]["content"] for e in data.examples][:2] == ["mine", "unmarked"]
    assert [m["content"] for m in data.examples[1]["prompt"]] == [m["content"] for m in session["messages"][:6]]
    assert "weight" not in data.examples[1]["prompt"][2]
    assert data.describe()["records"] == 3 and len(data.examples) == 3
    assert data.describe()["records_with_nothing_to_learn"] == 1


def test_missing_or_empty_data_and_unknown_base_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        train_counselor(tmp_path / "missing.jsonl", BASE, tmp_path / "out")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="no training records"):
        train_counselor(empty, BASE, tmp_path / "out")
    data = write_jsonl(tmp_path / "ok.jsonl", [chat_record("a", 0)])
    for base in ("local/no-such-model", "openai/gpt-4o-mini"):
        with pytest.raises(InputError) as caught:
            train_counselor(data, base, tmp_path / "out")
        assert caught.value.field == "base"
    with pytest.raises(InputError, match="steps"):
        train_counselor(data, BASE, tmp_path / "out", steps=0)


def test_an_adapter_is_not_a_base_and_an_existing_output_is_kept(trained, tmp_path):
    result, _, data = trained
    with pytest.raises(InputError, match="is a LoRA adapter"):
        resolve_base_model("local/" + str(result.out_dir))
    with pytest.raises(InputError, match="not empty"):
        train_counselor(data, BASE, result.out_dir, steps=1)
    assert (result.out_dir / "adapter_model.safetensors").is_file()
