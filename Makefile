# Two commands do all set-up on a fresh machine (see README):
#   make demo   - create .venv, install ridgeline (core only), run the headline analysis
#   make test   - create .venv, install the test extra (torch CPU pin first), run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

.PHONY: demo test install install-test docs-cli
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

demo: install
	$(BIN)/ridgeline fit llama-3-70b --gpu h100 --weights bf16
	$(BIN)/ridgeline fit llama-3-70b --gpu h100 --weights int8 --batch 8 --context 8k
	$(BIN)/ridgeline infer llama-3-70b --gpu h100 --tp 4 --batch 64 --prompt 2048 --gen 256

# torch first, pinned to the CPU build: an open-ended torch requirement pulls a multi-GB CUDA build.
install-test: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,hub]'
	@# the browser tests drive Debian's chromium (playwright's own download cannot work offline);
	@# installed only when missing, with apt-get, as root. Without it those tests skip and say why.
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (apt-get) for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "chromium install failed: the browser tests will skip"; \
	fi

test: install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider

docs-cli: install
	$(BIN)/python scripts/gen_cli_docs.py > docs/cli.md
