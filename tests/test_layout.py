"""The code's layout holds: small modules, stages that import only downward, one spelling of each
status word, a simulator that stands alone, and a command line that answers --help without
loading the data libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.model import Status

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipeline"
SIMULATOR = PIPELINE / "simulator"
# the stages in the order data flows through them: each may import only those before it (staging: the
# normalize stage's query and its warnings)
STAGE_ORDER = ["ingest", "staging", "normalize", "validate", "missing", "check", "plan", "dedupe", "guard", "preflight",
               "follow", "submit", "outcome", "report"]
# where Tango's own status words are mapped to the pipeline's (they share some spellings)
TANGO_WORDS = PIPELINE / "tango" / "answers.py"


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def product_modules() -> list[Path]:
    return [p for p in modules(PIPELINE) if SIMULATOR not in p.parents]


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_simulator_is_over_300_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 300


def stage_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["pipeline", "stages"] else None


def test_stages_import_only_downward():
    wrong = []
    for path in modules(PIPELINE / "stages"):
        here = stage_of(module_name(path))
        for target in imports(path):
            if target.startswith(("pipeline.jobs", "pipeline.cli", "pipeline.lock", "pipeline.logs",
                                  "pipeline.simulator", "pipeline.tango.connect")):
                wrong.append(f"{path.name} imports {target}")
            other = stage_of(target)
            if here and other and other != here and STAGE_ORDER.index(other) > STAGE_ORDER.index(here):
                wrong.append(f"stage {here} imports the later stage {other}")
    assert wrong == []


def test_the_simulator_imports_nothing_else_of_the_pipeline():
    wrong = [f"{p.name} imports {t}" for p in modules(SIMULATOR) for t in imports(p)
             if t.startswith(("pipeline", "rules")) and not t.startswith("pipeline.simulator")]
    assert wrong == []


def test_one_place_builds_a_client_for_the_simulator():
    users = {module_name(p) for p in product_modules() if any(t.startswith("pipeline.simulator") for t in imports(p))}
    # connect: the client factory; cli: the `simulate` command starts the simulator's own server
    assert users == {"pipeline.tango.connect", "pipeline.cli"}


def test_each_status_word_is_spelled_once():
    words = {s.value for s in Status}
    spelled = []
    for path in product_modules():
        if path in (PIPELINE / "model.py", TANGO_WORDS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in words:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert spelled == []


@pytest.mark.parametrize("code", ["import pipeline", "import pipeline.cli",
                                  "from pipeline.cli import main; main(['--help'])"])
def test_the_library_face_and_help_load_no_data_library(code):
    probe = (f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('polars', 'pandera', 'httpx', 'xlsxwriter', 'fastexcel') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_library_face_names_what_it_exports():
    import pipeline
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None
