"""The package has no import cycle: every module imports on its own, and the graph of the
package's module-level imports (not the lazy imports inside functions, not ``TYPE_CHECKING``
blocks) has no cycle."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import nlpdiff

PACKAGE = Path(nlpdiff.__file__).parent


def _modules() -> dict[str, Path]:
    out = {"nlpdiff": PACKAGE / "__init__.py"}
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="nlpdiff."):
        path = PACKAGE.joinpath(*info.name.split(".")[1:])
        out[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return out


def _top_level_imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports when it is executed (module level only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:  # relative import
                    parts = name.split(".")[: -node.level if path.name != "__init__.py" else len(name.split("."))]
                    base = ".".join(parts + [node.module])
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                    visit([child])
                elif isinstance(child, ast.ClassDef):
                    visit(child.body)

    visit(tree.body)
    # a submodule's import of its own parent package is not an edge (the package runs first anyway)
    return {m for m in found if m in modules and m != name and not name.startswith(m + ".")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (a list of modules, first = last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            found = dfs(name)
            if found:
                return found
    return None


def test_no_import_cycle_in_the_module_graph():
    modules = _modules()
    cycle = _cycle({name: _top_level_imports(path, name, modules) for name, path in modules.items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    modules = sorted(_modules())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}

    def run(name):
        proc = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, env=env)
        return name, proc.returncode, proc.stderr[-2000:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        failed = [(n, err) for n, rc, err in pool.map(run, modules) if rc != 0]
    assert not failed, failed


#: What only the study needs (the ``study`` extra): the library imports none of it, at any level.
STUDY_ONLY = ("nlpdiff_study", "snakemake", "jupyter_book", "papermill", "jupytext", "nbformat", "ipykernel",
              "nbclient", "jupyter_client")
#: The third-party tools of the ``study`` extra (``pip install nlpdiff`` does not install them).
STUDY_TOOLS = tuple(m for m in STUDY_ONLY if m != "nlpdiff_study")


def _all_imports(path: Path) -> set[str]:
    """Every module an import statement of the file names, inside functions and classes too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_library_never_imports_the_study():
    """No module of ``nlpdiff`` imports the study or its tools, not even inside a function."""
    offending = {}
    for name, path in _modules().items():
        bad = sorted(m for m in _all_imports(path) if m.split(".")[0] in STUDY_ONLY)
        if bad:
            offending[name] = bad
    assert not offending, offending
    assert "nlpdiff_study" not in str(sorted(_modules()))


_BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: not installed without the study extra)")
        return None
sys.meta_path.insert(0, Block())
"""


@pytest.mark.slow
def test_score_and_callback_run_without_the_study_extra(tmp_path, tiny_data_dir):
    """``pip install nlpdiff`` with no extra: ``nlpdiff score`` and ``DynamicsCallback`` work while
    snakemake, jupyter-book, papermill, jupytext, nbformat and ipykernel cannot be imported (and the
    study's commands say what to install)."""
    import pandas as pd

    blocker = _BLOCKER.format(blocked=STUDY_TOOLS)
    rows = pd.read_parquet(tiny_data_dir / "sst2" / "train.parquet").head(48)
    rows.rename(columns={"sentence": "review"}).to_csv(tmp_path / "mine.csv", index=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    score = blocker + (
        "from nlpdiff.cli import main\n"
        f"code = main(['score', {str(tmp_path / 'mine.csv')!r}, '--text', 'review', '--label', 'label',"
        f" '--backbone', 'scratch', '--epochs', '2', '--learning-rate', '0.05', '-q', '-o', {str(tmp_path / 'out')!r}])\n"
        "assert code == 0, code\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in BLOCKED], 'a study module was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", score], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "audit.csv").is_file()
    # the study's commands say what to install, in one line
    study = blocker + "from nlpdiff.cli import main\nraise SystemExit(main(['book', '.']))\n"
    proc = subprocess.run([sys.executable, "-c", study], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 1 and "pip install 'nlpdiff[study]'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr

    callback = blocker + (
        "import pandas as pd\n"
        "from datasets import Dataset\n"
        "from transformers import DataCollatorWithPadding, Trainer, TrainingArguments\n"
        "from nlpdiff import DynamicsCallback, tasks\n"
        "from nlpdiff.models.hub import load_classifier\n"
        "loaded = load_classifier('minilm', num_labels=2, seed=0)\n"
        f"frame = tasks.load_split('sst2', 'train', data_dir={str(tiny_data_dir)!r}).iloc[:16]\n"
        "ds = Dataset.from_pandas(frame[['idx', 'sentence', 'label']].reset_index(drop=True), preserve_index=False)\n"
        "ds = ds.map(lambda b: loaded.tokenizer(b['sentence'], truncation=True, max_length=16), batched=True)\n"
        f"cb = DynamicsCallback({str(tmp_path / 'cb')!r}, eval_batch_size=8)\n"
        f"args = TrainingArguments(output_dir={str(tmp_path / 'hf')!r}, report_to=[], save_strategy='no', use_cpu=True,"
        " num_train_epochs=1, per_device_train_batch_size=8, logging_strategy='no', disable_tqdm=True, seed=0)\n"
        "Trainer(model=loaded.model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(loaded.tokenizer),"
        " callbacks=[cb]).train()\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in BLOCKED], 'a study module was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", callback], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "cb" / "scores.parquet").is_file()


def _runtime_imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` may import at run time: module level *and* inside functions
    and classes (not ``TYPE_CHECKING`` blocks, which only type hints read)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                parts = name.split(".")[: -node.level if path.name != "__init__.py" else len(name.split("."))]
                base = ".".join(parts + [node.module])
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in modules and m != name and not name.startswith(m + ".")}


def test_no_import_cycle_counting_imports_inside_functions():
    """No cycle hides in a function-level import: the graph of every run-time import is acyclic."""
    modules = _modules()
    graph = {name: _runtime_imports(path, name, modules) for name, path in modules.items()}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle through a function-level import: " + " -> ".join(cycle)
    # the leaves stay leaves
    for leaf in ("nlpdiff.errors", "nlpdiff.schema", "nlpdiff.checks", "nlpdiff.runtime"):
        assert graph[leaf] <= {"nlpdiff.errors"}, (leaf, graph[leaf])
    # the run folder's writer writes; it computes no score (no arrow from rundir up to scores)
    assert not [m for m in graph["nlpdiff.rundir"] if m.startswith("nlpdiff.scores")], graph["nlpdiff.rundir"]
    # the heads never import the configuration (it imports them)
    assert not [m for m in graph if m.startswith("nlpdiff.models") and "nlpdiff.config" in graph[m]]


def test_every_package_is_in_the_wheel():
    """pyproject.toml lists the packages explicitly (the notebooks folder is mapped into the study
    package): a new subpackage that is not listed would be missing from an installed wheel."""
    import tomllib

    root = PACKAGE.parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root / "src").parts) for p in (root / "src").rglob("__init__.py")
             if "egg-info" not in str(p)}
    assert found <= listed, sorted(found - listed)
    assert "nlpdiff_study.notebooks" in listed
