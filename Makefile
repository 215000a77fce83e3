# Tandem — the two commands: `make demo` and `make test`. Both set up first.
.PHONY: setup demo test test-fast bench clean

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/tandem demo

test: setup
	.venv/bin/python -m pytest

# Unit tests only (no JACK rig).
test-fast: setup
	.venv/bin/python -m pytest -m "not rig" -q

bench: setup
	.venv/bin/python -m benchmarks.latency --json benchmark-latency.json
	.venv/bin/python -m benchmarks.midi --json benchmark-midi.json

clean:
	rm -rf .venv build *.egg-info
