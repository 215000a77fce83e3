# Tandem — the two commands: `make demo` and `make test`. Both set up first.
.PHONY: setup demo test test-fast bench clean

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/tandem demo
	.venv/bin/tandem demo content/songs/hello.toml content/songs/echo-drums.toml content/songs/goodbye.toml --child-model steady

test: setup
	.venv/bin/python -m pytest

# Unit tests only (no JACK rig).
test-fast: setup
	.venv/bin/python -m pytest -m "not rig" -q

# The bench extra: mir_eval, and aubio (GPL, benchmark-only), which pip builds from source:
# scripts/bench-deps.sh installs a C compiler and the Python headers when they are missing.
bench: setup
	@scripts/bench-deps.sh
	.venv/bin/python -m pip install -q -e '.[bench]'
	.venv/bin/python -m benchmarks.latency --json benchmark-latency.json
	.venv/bin/python -m benchmarks.midi --json benchmark-midi.json
	.venv/bin/python -m benchmarks.onsets --json benchmark-onsets.json
	.venv/bin/python -m benchmarks.scoring --json benchmark-scoring.json
	.venv/bin/python -m benchmarks.records --json benchmark-records.json
	.venv/bin/python -m benchmarks.calibration --json benchmark-calibration.json

clean:
	rm -rf .venv build *.egg-info
