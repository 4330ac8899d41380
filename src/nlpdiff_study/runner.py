"""Execute a notebook source (a jupytext percent script) with papermill.

The notebooks under ``notebooks/`` (shipped in the wheel as ``nlpdiff_study/notebooks``) are the only notebook sources; the book shows their executed
copies under ``book/results/``. :func:`run_notebook` converts the script to a notebook, injects the
parameters (papermill), executes it, folds the code of every other cell in the book (``hide-input``:
the reader expands it), removes the parameter cells from the page and ends it with a collapsed
"Reproduce this page" box (the parameters and the commands that re-execute the page), and moves
the result into place only when every cell succeeded. A failed execution is kept next
to the output as ``<name>.failed.ipynb`` (showing the failed cell) and raises
:class:`NotebookFailed`, so a published page is never replaced by a broken one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

def _notebooks_dir() -> Path:
    """The notebook sources: ``notebooks/`` of the checkout (an editable install, the study's own
    tree), else the copy the wheel ships as ``nlpdiff_study/notebooks`` (so that ``nlpdiff run
    sentiment`` works from any folder)."""
    here = Path(__file__).resolve().parent
    checkout = here.parents[1] / "notebooks"
    if (checkout / "sentiment.py").is_file():
        return checkout
    return here / "notebooks"


#: The folder of the notebook sources (jupytext percent scripts), one per page.
NOTEBOOKS_DIR = _notebooks_dir()

PARAMETER_TAGS = ("parameters", "injected-parameters")
#: Tag that folds a code cell's source in the book (its outputs stay visible; the reader can expand it).
HIDE_INPUT_TAG = "hide-input"
#: Tags that already decide how a cell shows (left as they are).
VISIBILITY_TAGS = ("hide-input", "hide-cell", "remove-input", "remove-cell", "hide-output", "remove-output")


def ipc_kernel_manager(socket_dir: str | os.PathLike | None = None):
    """The kernel manager papermill starts each notebook's kernel with: local IPC sockets, not TCP.

    A kernel on TCP logs "Kernel is running over TCP without encryption" at every start (ipykernel
    6.30 and later); a kernel on the same machine needs no network port at all, so the notebooks
    run over Unix domain sockets instead (no warning, no open port). Each kernel gets sockets of its
    own in ``socket_dir`` (default: a new temporary folder): jupyter_client's default IPC path is
    ``kernel-ipc-N`` in the working folder, which two kernels started side by side there (the
    workflow runs two smoke runs at once) would share.
    """
    import tempfile

    from jupyter_client import AsyncKernelManager

    folder = Path(socket_dir) if socket_dir is not None else Path(tempfile.mkdtemp(prefix="nlpdiff-kernel-"))

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(folder / "kernel"))
            super().__init__(**kwargs)

    return IPCKernelManager


class NotebookFailed(RuntimeError):
    """A notebook raised during execution; ``failed_path`` holds the executed copy with the error."""

    def __init__(self, message: str, failed_path: Path, ename: str | None = None, evalue: str | None = None):
        super().__init__(message)
        self.failed_path = failed_path
        self.ename, self.evalue = ename, evalue


def find_notebook(name: str | os.PathLike, notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR) -> Path:
    """Resolve ``sentiment`` (a notebook of ``notebooks/``) or a path to an existing
    notebook source."""
    candidates = [Path(name), Path(notebooks_dir) / f"{name}.py", Path(notebooks_dir) / str(name)]
    for c in candidates:
        if c.is_file():
            return c
    available = sorted(p.stem for p in Path(notebooks_dir).glob("*.py")) if Path(notebooks_dir).is_dir() else []
    from nlpdiff.errors import ParameterError

    raise ParameterError("notebook", str(name), f"a notebook source file or one of {available}")


def notebook_parameters(source: str | os.PathLike) -> dict[str, Any]:
    """The parameters a notebook source declares (its cell tagged ``parameters``): name -> default value
    (None where the default is not a literal)."""
    import jupytext

    nb = jupytext.read(Path(source))
    out: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            out.update(_cell_assignments(cell.source, missing=None))
    return out


def default_run_dir(notebook: str, parameters: dict[str, Any], output: str | os.PathLike | None = None,
                    root: str | os.PathLike = "runs") -> Path:
    """The run directory of ``nlpdiff run`` when none is given: ``runs/<output name>`` with ``-o``, else
    ``runs/<notebook>-<8 hex digits of the parameters' SHA-256>``, so that runs with other parameters
    never share a folder (and the same command finds its finished run again)."""
    import hashlib
    import json

    if output is not None:
        return Path(root) / Path(output).stem
    text = json.dumps({k: v for k, v in sorted(parameters.items()) if k != "run_dir"}, sort_keys=True, default=str)
    return Path(root) / f"{Path(notebook).stem}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def parse_parameter(text: str) -> Any:
    """Parse a command-line parameter value as YAML (``64`` -> int, ``null`` -> None, ``a`` -> str)."""
    return yaml.safe_load(text)


#: Metadata key of the "Reproduce this page" cell that :func:`finish_page` appends (replaced, not added, when run again).
REPRODUCE_KEY = "nlpdiff_reproduce"


def _cell_assignments(source: str, missing: Any = ...) -> dict[str, Any]:
    """``name = literal`` lines of a parameter cell; a name whose value is not a literal is left out, or
    given ``missing`` when one is passed. A cell that does not parse gives an empty mapping."""
    import ast

    out: dict[str, Any] = {}
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return out
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    try:
                        out[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        if missing is not ...:
                            out[target.id] = missing
    return out


def reproduce_markdown(notebook: str, page: str, defaults_source: str, injected: dict[str, Any]) -> str:
    """The collapsed "Reproduce this page" box: the notebook's parameter cell (its defaults, with their
    comments), the values injected for this page, and the two commands that re-execute it
    (``nlpdiff run`` and jupytext + papermill)."""
    import json

    given = json.dumps(injected, separators=(", ", ": "), default=str)
    quoted = "'" + given.replace("'", "'\\''") + "'"
    run = f"nlpdiff run {notebook} -o book/results/{page}.ipynb" + (f" --parameters-json {quoted}" if injected else "")
    pm = (f"jupytext --to ipynb notebooks/{notebook}.py && papermill notebooks/{notebook}.ipynb "
          f"book/results/{page}.ipynb" + (f" -y {quoted}" if injected else ""))
    values = ("\n".join(f"{k} = {v!r}" for k, v in injected.items()) if injected
              else "# none: the notebook's defaults")
    return (
        "::::{admonition} Reproduce this page\n:class: dropdown\n\n"
        f"This page is `notebooks/{notebook}.py` executed with papermill. The parameters given to it:\n\n"
        f"```python\n{values}\n```\n\n"
        "Re-execute it from the root of a checkout (the study's tools: `pip install -e \".[study]\"`):\n\n"
        f"```bash\n{run}\n```\n\nor with papermill directly:\n\n```bash\n{pm}\n```\n\n"
        f"The notebook's parameters and their defaults:\n\n```python\n{defaults_source.strip()}\n```\n"
        "::::\n"
    )


def finish_page(path: str | os.PathLike, drop_stderr: bool = True, title: str | None = None,
                notebook: str | None = None, page: str | None = None) -> None:
    """Make an executed notebook a page: the parameter cells are removed from the page (tag
    ``remove-cell``: nothing but prose comes between the title and the finding) and, when
    ``notebook`` (the source's name) is given, a collapsed "Reproduce this page" box at the end
    shows them with the commands that re-execute the page (:func:`reproduce_markdown`; ``page``: the
    page's name under ``book/results/``, default the output's name, or its folder's for the
    workflow's ``<name>/notebook.ipynb``); every other code cell's source is folded (``hide-input``;
    its outputs show, the reader can expand the code), and (``drop_stderr``) the stderr streams
    (progress bars, library warnings), which a reader of the book does not need, are dropped.

    Failed notebooks keep their stderr (``drop_stderr=False``): it is what explains the failure.
    ``title`` (the notebook parameter ``page_title``) replaces the page's first H1, so two pages
    executed from one notebook (clean and noisy sentiment) have their own titles. Applying it twice
    changes nothing.
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if title:
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
                first, _, rest = cell.source.lstrip().partition("\n")
                cell.source = f"# {title}\n{rest}"
                break
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.get("metadata", {}).get("tags", []))
        if any(t in tags for t in PARAMETER_TAGS):
            tags = [t for t in tags if t not in VISIBILITY_TAGS] + ["remove-cell"]  # shown in the box at the end
        elif not any(t in tags for t in VISIBILITY_TAGS):
            tags.append(HIDE_INPUT_TAG)
        cell.metadata["tags"] = tags
        if drop_stderr:
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    if notebook:
        nb.cells = [c for c in nb.cells if REPRODUCE_KEY not in c.get("metadata", {})]
        tagged = lambda tag: [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]
        defaults = "\n".join(c.source for c in tagged("parameters"))
        injected: dict[str, Any] = {}
        for c in tagged("injected-parameters"):
            injected.update(_cell_assignments(c.source))
        if page is None:
            page = path.parent.name if path.stem == "notebook" else path.stem.lstrip(".").removesuffix(".running")
        cell = nbformat.v4.new_markdown_cell(reproduce_markdown(notebook, page, defaults, injected))
        cell.metadata[REPRODUCE_KEY] = True
        nb.cells.append(cell)
    nbformat.write(nb, path)


def run_notebook(
    source: str | os.PathLike,
    output: str | os.PathLike,
    parameters: dict[str, Any] | None = None,
    kernel_name: str = "python3",
    cwd: str | os.PathLike | None = None,
    progress_bar: bool = False,
) -> Path:
    """Execute ``source`` (jupytext script or .ipynb) with ``parameters`` into ``output`` (.ipynb).

    Returns the output path. Raises :class:`NotebookFailed` if a cell raised; the executed copy
    with its error is then written to ``<output stem>.failed.ipynb`` and ``output`` is untouched.
    """
    import jupytext
    import papermill

    source = Path(source)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    failed = output.with_name(output.stem + ".failed.ipynb")
    with tempfile.TemporaryDirectory(prefix="nlpdiff-run-") as tmp:
        tmp_in = Path(tmp) / f"{source.stem}.ipynb"
        nb = jupytext.read(source)
        jupytext.write(nb, tmp_in, fmt="ipynb")
        tmp_out = output.with_name(f".{output.stem}.running.ipynb")
        try:
            papermill.execute_notebook(
                str(tmp_in),
                str(tmp_out),
                parameters=dict(parameters or {}),
                kernel_name=kernel_name,
                cwd=str(cwd) if cwd is not None else None,
                progress_bar=progress_bar,
                kernel_manager_class=ipc_kernel_manager(tmp),
            )
        except papermill.PapermillExecutionError as exc:
            if tmp_out.exists():
                finish_page(tmp_out, drop_stderr=False)
                os.replace(tmp_out, failed)
            raise NotebookFailed(
                f"{source} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"the executed notebook with the error is {failed}",
                failed, ename=exc.ename, evalue=exc.evalue,
            ) from None
        except BaseException:
            if tmp_out.exists():
                tmp_out.unlink()
            raise
        finish_page(tmp_out, title=(parameters or {}).get("page_title"), notebook=source.stem,
                    page=output.parent.name if output.stem == "notebook" else output.stem)
        os.replace(tmp_out, output)
    if failed.exists():
        failed.unlink()
    return output
