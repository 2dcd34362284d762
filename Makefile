# Two commands for a fresh clone (only Python >= 3.11 needed):
#   make demo   set up .venv and run the bundled sample against the built-in Tango simulator
#   make test   set up .venv, then ruff, mypy --strict and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo serve test postgresql chromium bench bench-stages bench-submit bench-hostile bench-ledger bench-desk clean

$(BIN)/tango-batch: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

demo: $(BIN)/tango-batch
	@# the sample holds a dozen deliberate mistakes: exit 1 (some rows to fix) is the expected result
	@# the demo keeps its ledger (and the simulator's state beside it) in output/, never in the user's state folder
	@# --yes: on a terminal, run shows what it is about to order and asks first; the demo answers for you
	$(BIN)/tango-batch run samples/recipients.xlsx --config samples/campaign.toml --target simulator --output output \
	  --ledger output/ledger.sqlite --yes; \
	  code=$$?; echo "exit code $$code (0 all rows fine, 1 some rows to fix)"; test $$code -le 1

# the HR desk on the sample campaign with approvals on (samples/campaign-desk.toml), against the built-in
# simulator, on http://127.0.0.1:8080/; the demo users' passwords are printed once, when they are made
serve: $(BIN)/tango-batch
	mkdir -p output/inbox
	$(BIN)/python -m pipeline.web.demo --ledger output/ledger.sqlite
	$(BIN)/tango-batch serve --config samples/campaign-desk.toml --inbox output/inbox --output output \
	  --ledger output/ledger.sqlite --target simulator

test: $(BIN)/tango-batch postgresql chromium
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# the tests start PostgreSQL servers of their own from the system's binaries (Debian's postgresql package)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo "installing PostgreSQL (apt-get)" && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    postgresql >/dev/null; } || \
	  { echo "make test needs PostgreSQL's server programs (initdb, pg_ctl): apt-get install postgresql"; exit 1; }

# the HR desk's end-to-end test drives Debian's Chromium with Playwright (never a downloaded browser)
chromium:
	@command -v chromium >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo "installing Chromium (apt-get)" && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium >/dev/null; } || \
	  { echo "make test needs Chromium for the browser test: apt-get install chromium"; exit 1; }

# issue 12's figures, 3 interleaved rounds (about 15 minutes, most of it the test suite); options, e.g.:
#   make bench BENCH_ARGS="--quick --no-suite --repeat 1"
bench: $(BIN)/tango-batch
	$(BIN)/python tests/bench/bench_speed.py $(BENCH_ARGS)

bench-stages: $(BIN)/tango-batch
	$(BIN)/python tests/bench/bench_validate.py

bench-submit: $(BIN)/tango-batch
	$(BIN)/python tests/bench/bench_submit.py

bench-hostile: $(BIN)/tango-batch
	$(BIN)/python tests/bench/bench_hostile.py

# the ledger's cost per row on SQLite and PostgreSQL (a server it starts itself), and run of 10,000 rows with each
bench-ledger: $(BIN)/tango-batch
	$(BIN)/python tests/bench/bench_ledger.py $(BENCH_ARGS)

# the HR desk over real HTTP (tango-batch serve, a temporary folder): a 10,000-row upload to its verdict, and the
# other pages while a 100,000-row file is checked (about a minute); e.g. BENCH_ARGS="--repeat 5"
bench-desk: $(BIN)/tango-batch
	$(BIN)/python tests/bench/bench_desk.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) output/*/ output/ledger.* output/*.json
