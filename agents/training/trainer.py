"""LoRA supervised fine-tuning of a counselor model on recorded counselor turns.

The loss covers the target counselor turn only: each record becomes a
conversational prompt/completion example (prompt = every message but the last,
completion = the last), for which TRL's ``SFTTrainer`` masks the prompt tokens
(label -100). The result is a self-contained adapter directory that the
simulator loads as ``local/<dir>``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from muspsy_sim.simulation.core.errors import InputError
from muspsy_sim.simulation.core.provenance import package_versions

from ..llm.environment import configure_offline_environment
from ..llm.local.loading import dense_copy_of_gguf
from ..llm.local.resolution import (
    EMBEDDED_MODEL,
    LocalModelNotFound,
    LocalModelSpec,
    resolve_local_model,
)
from .data import (
    FitReport,
    TrainingData,
    fit_to_length,
    load_training_data,
)
from .loss_reporting import LossBar, StepCallback, loss_recorder, plot_loss_curve

LORA_ALPHA_PER_R = 2  # lora_alpha = 2 * r, the usual scaling
LORA_DROPOUT = 0.05
LORA_TARGETS = "all-linear"  # every linear layer of the blocks; PEFT leaves the output head out

@dataclass
class TrainingResult:
    out_dir: Path
    losses: list[tuple[int, float]]
    validation_loss: float | None
    device: str
    seconds: float
    validation_loss_before: float | None = None  # the base model's, on the same validation set
    records: int = 0
    dataset_report: dict = field(default_factory=dict)


@dataclass
class BaseModel:
    """The model a LoRA adapter is trained on, and how the adapter will name it."""

    model: str  # as given, e.g. "local/smollm2-135m-instruct"
    reference: str  # adapter_config.json's base_model_name_or_path: the alias or an absolute path
    spec: LocalModelSpec

    def weights_directory(self) -> Path:
        return dense_copy_of_gguf(self.spec) if self.spec.gguf_file else self.spec.directory


def resolve_base_model(base: str) -> BaseModel:
    """``local/<alias-or-path>`` (the ``local/`` prefix may be left out) to a trainable base model."""
    provider, slash, rest = base.partition("/")
    name = rest if slash and provider == "local" else base
    if slash and provider != "local" and not Path(base).expanduser().exists():
        raise InputError(base, "base", "only local models (local/<alias-or-path>) can be fine-tuned")
    try:
        spec = resolve_local_model(name)
    except LocalModelNotFound as error:
        raise InputError(base, "base", str(error)) from None
    if spec.adapter_of is not None:
        raise InputError(base, "base", "is a LoRA adapter; fine-tune its base model instead "
                                       f"(adapter_config.json names '{spec.adapter_of.name}')")
    if name == EMBEDDED_MODEL:
        reference = EMBEDDED_MODEL
    else:
        reference = str(Path(name).expanduser().resolve())
    return BaseModel(base, reference, spec)


@contextmanager
def _quiet():
    """Hide the library's own bars (model loading, dataset mapping) and one deprecation warning.

    PEFT 0.21 and TRL 1.16 read ``model.is_gradient_checkpointing``, which
    transformers 5 deprecates; the rename is theirs to make.
    """
    # lazy: datasets and transformers take seconds to import; only training needs them
    import datasets
    from transformers.utils import logging as transformers_logging

    datasets_bars = datasets.is_progress_bar_enabled()
    transformers_bars = transformers_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        if datasets_bars:
            datasets.enable_progress_bars()
        if transformers_bars:
            transformers_logging.enable_progress_bar()


def _device() -> str:
    import torch  # lazy: torch takes seconds to import; only training needs it

    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_arguments(steps: int, learning_rate: float, lora_r: int, batch_size: int, max_length: int,
                     threads: int | None = None) -> None:
    for name, value, low in (("steps", steps, 1), ("lora_r", lora_r, 1), ("batch_size", batch_size, 1),
                             ("max_length", max_length, 32), ("threads", 1 if threads is None else threads, 1)):
        if not isinstance(value, int) or value < low:
            raise InputError("train", name, f"must be an integer of at least {low}, got {value!r}")
    if not learning_rate > 0:
        raise InputError("train", "learning_rate", f"must be positive, got {learning_rate!r}")


def _prepare(data: TrainingData, tokenizer, max_length: int) -> tuple[list[dict], FitReport]:
    examples, report = fit_to_length(data.examples, tokenizer, max_length)
    if not examples:
        raise InputError(data.path, "max_length",
                         f"no record fits in {max_length} tokens: every system prompt alone is too long")
    return examples, report


def build_trainer(data: Path, base: str, work_dir: Path, *, steps: int = 30, learning_rate: float = 2e-4,
                  lora_r: int = 8, batch_size: int = 4, max_length: int = 768, seed: int = 0,
                  validation: Path | None = None, callbacks: list | None = None):
    """Check the inputs, load the base model with a fresh LoRA adapter and return a ready ``SFTTrainer``.

    Returns ``(trainer, context)`` where context holds the parsed data and the base model.
    Nothing is trained; ``trainer.train_dataset`` holds the tokenized examples with their labels.
    """
    with _quiet():
        return _build_trainer(data, base, work_dir, steps=steps, learning_rate=learning_rate, lora_r=lora_r,
                              batch_size=batch_size, max_length=max_length, seed=seed, validation=validation,
                              callbacks=callbacks)


def _build_trainer(data, base, work_dir, *, steps, learning_rate, lora_r, batch_size, max_length, seed,
                   validation, callbacks):
    configure_offline_environment()
    _check_arguments(steps, learning_rate, lora_r, batch_size, max_length)
    train_data = load_training_data(Path(data))
    validation_data = load_training_data(Path(validation)) if validation is not None else None
    base_model = resolve_base_model(base)

    # lazy: torch, datasets, peft, transformers and trl take seconds to import; only training needs them
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    device = _device()
    weights = base_model.weights_directory()
    tokenizer = AutoTokenizer.from_pretrained(weights)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    train_examples, train_report = _prepare(train_data, tokenizer, max_length)
    validation_examples, validation_report = (
        _prepare(validation_data, tokenizer, max_length) if validation_data else (None, None))

    # fp32 weights everywhere (the adapter trains in fp32); on a GPU the matmuls
    # run under bf16 autocast where the card supports it.
    model = AutoModelForCausalLM.from_pretrained(weights, dtype=torch.float32)
    use_bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    args = SFTConfig(
        output_dir=str(work_dir),
        max_steps=steps,
        learning_rate=learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=0,
        optim="adamw_torch",
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=1,
        max_length=max_length,
        completion_only_loss=True,  # prompt tokens get label -100
        packing=False,
        activation_checkpointing=False,  # a 135M model: recomputation only costs time
        bf16=use_bf16,
        fp16=False,
        use_cpu=device == "cpu",
        seed=seed,
        data_seed=seed,
        logging_steps=1,
        logging_strategy="steps",
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        label_names=["labels"],
        dataloader_num_workers=0,
        dataset_num_proc=None,
    )
    peft_config = LoraConfig(
        r=lora_r,
        lora_alpha=LORA_ALPHA_PER_R * lora_r,
        lora_dropout=LORA_DROPOUT,
        target_modules=LORA_TARGETS,
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_examples),
        eval_dataset=Dataset.from_list(validation_examples) if validation_examples else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    # Our own callback reports progress; the default printer would dump every log dict.
    from transformers.trainer_callback import PrinterCallback, ProgressCallback  # lazy: transformers is slow

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    context = {
        "train_data": train_data,
        "train_report": train_report,
        "validation_data": validation_data,
        "validation_report": validation_report,
        "base_model": base_model,
        "weights": weights,
        "device": device,
        "precision": "fp32 weights, bf16 autocast" if use_bf16 else "fp32",
        "peft_config": peft_config,
        "args": args,
    }
    return trainer, context


def _token_counts(dataset) -> dict:
    if dataset is None:
        return {}
    total = sum(len(ids) for ids in dataset["input_ids"])
    target = sum(sum(1 for label in labels if label != -100) for labels in dataset["labels"])
    return {"examples": len(dataset), "tokens": total, "target_tokens": target}


def _staging_directory(out: Path, overwrite: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError(out, "", "exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(out, "", "already exists and is not empty; choose another output directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.training-"))


def train_counselor(data: Path, base: str, out: Path, *, steps: int = 30, learning_rate: float = 2e-4,
                    lora_r: int = 8, batch_size: int = 4, max_length: int = 768, seed: int = 0,
                    validation: Path | None = None, on_step: StepCallback | None = None,
                    progress: bool = False, overwrite: bool = False, threads: int | None = None) -> TrainingResult:
    """Fine-tune a LoRA adapter on counselor turns and write it, self-contained, to ``out``.

    ``on_step(step, loss)`` is called after every optimizer step; ``progress`` shows
    a rich progress bar. ``out`` must not exist or be empty unless ``overwrite``;
    it is written in a staging directory and renamed at the end, so a failed run
    leaves no partial adapter. ``threads`` sets torch's CPU threads for the run
    (restored afterwards); on a busy machine 1 thread can be ~10x faster than 2.
    """
    started = time.perf_counter()
    out = Path(out).expanduser().resolve()
    arguments = {"data": str(Path(data).resolve()), "base": base, "out": str(out), "steps": steps,
                 "learning_rate": learning_rate, "lora_r": lora_r, "batch_size": batch_size,
                 "max_length": max_length, "seed": seed, "threads": threads,
                 "validation": str(Path(validation).resolve()) if validation is not None else None}
    _check_arguments(steps, learning_rate, lora_r, batch_size, max_length, threads)
    staging = _staging_directory(out, overwrite)
    import torch  # lazy: torch takes seconds to import; only training needs it

    threads_before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with _quiet():
            result = _train_into(staging, arguments, started, on_step=on_step, progress=progress)
        _make_readable(staging)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        torch.set_num_threads(threads_before)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    result.out_dir = out
    return result


def _make_readable(directory: Path) -> None:
    """mkdtemp and some writers create owner-only modes; give the usual umask-derived ones."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.iterdir():
        if path.is_file():
            path.chmod(0o666 & ~umask)


def _train_into(staging: Path, arguments: dict, started: float, *, on_step: StepCallback | None,
                progress: bool) -> TrainingResult:
    losses: list[tuple[int, float]] = []
    steps = arguments["steps"]
    bar = LossBar(steps) if progress else None
    trainer, context = _build_trainer(
        arguments["data"], arguments["base"], staging / "trainer", steps=steps,
        learning_rate=arguments["learning_rate"], lora_r=arguments["lora_r"], batch_size=arguments["batch_size"],
        max_length=arguments["max_length"], seed=arguments["seed"], validation=arguments["validation"],
        callbacks=[loss_recorder(losses, on_step, bar)],
    )
    validation_loss_before = validation_loss = None
    if trainer.eval_dataset is not None:
        with trainer.model.disable_adapter():
            validation_loss_before = float(trainer.evaluate()["eval_loss"])
    if bar is not None:
        with bar:
            trainer.train()
    else:
        trainer.train()
    if trainer.eval_dataset is not None:
        validation_loss = float(trainer.evaluate()["eval_loss"])

    base_model: BaseModel = context["base_model"]
    trainer.model.save_pretrained(staging)
    trainer.processing_class.save_pretrained(staging)
    shutil.rmtree(staging / "trainer", ignore_errors=True)
    (staging / "README.md").unlink(missing_ok=True)  # PEFT's empty model-card template
    adapter_config_path = staging / "adapter_config.json"
    adapter_config = json.loads(adapter_config_path.read_text())
    adapter_config["base_model_name_or_path"] = base_model.reference
    adapter_config_path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")

    seconds = time.perf_counter() - started
    train_data: TrainingData = context["train_data"]
    validation_data: TrainingData | None = context["validation_data"]
    lora_r = arguments["lora_r"]
    config = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "arguments": arguments,
        "base_model": {"model": arguments["base"], "base_model_name_or_path": base_model.reference,
                       "weights": str(context["weights"])},
        "lora": {"r": lora_r, "alpha": LORA_ALPHA_PER_R * lora_r, "dropout": LORA_DROPOUT,
                 "target_modules": sorted(adapter_config.get("target_modules") or [])},
        "optimizer": {"name": "adamw_torch", "lr_scheduler": "linear", "warmup_steps": 0,
                      "gradient_accumulation_steps": 1},
        "loss": "mean token cross-entropy over the target counselor turn (prompt labels -100)",
        "dataset": {**train_data.describe(), **context["train_report"].describe(),
                    **_token_counts(trainer.train_dataset)},
        "validation": ({**validation_data.describe(), **context["validation_report"].describe(),
                        **_token_counts(trainer.eval_dataset)} if validation_data else None),
        "device": context["device"],
        "precision": context["precision"],
        "versions": {"python": platform.python_version(),
                     **package_versions(("torch", "transformers", "peft", "trl", "datasets"))},
        "results": {"final_loss": losses[-1][1] if losses else None,
                    "validation_loss_before": validation_loss_before,
                    "validation_loss": validation_loss, "seconds": round(seconds, 2)},
    }
    (staging / "training_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (staging / "loss_curve.json").write_text(
        json.dumps([{"step": step, "loss": loss} for step, loss in losses], indent=1) + "\n")
    plot_loss_curve(losses, staging / "loss_curve.png", validation_loss, validation_loss_before)
    return TrainingResult(staging, losses, validation_loss, context["device"], seconds,
                          validation_loss_before=validation_loss_before, records=len(train_data.examples),
                          dataset_report=config["dataset"])
