# Two commands on a fresh machine:  `make demo` (train + classify real digits)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch build this project is tested with (pip takes it from the local wheel cache where present).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH_SPEC)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,openvino,serve,ray,onnx]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# The browser tests drive Debian's chromium: installed here when missing and we are root.
test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "the browser tests need Debian's chromium: sudo apt-get install chromium"; fi; }
	$(BIN)/python -m pytest -q

# Formatting, lint and the layer contracts (the tests run lint-imports too).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/infer_speed.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/infer_memory.py

clean:
	rm -rf $(VENV) demo_output runs .pytest_cache
