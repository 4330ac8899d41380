"""Shared test fixtures: tiny datasets in the Hugging Face hub schemas, written from the registry.

``tiny_data_dir`` (session scope) writes a data dir laid out like ``../shared/data`` — one folder per
task of :data:`nlpdiff.tasks.TASKS` (and the test-only pair task :data:`TINY_NLI`),
``<folder>/<split>.parquet`` — so that any test can call
``load_split(task, split, data_dir=tiny_data_dir)`` on a fresh machine with no network and no
``/work/shared``.

The data is made from each task's declarations (:func:`write_task`): its kind, roles, label names,
splits and columns. A classification task gets balanced labels over all its classes and texts whose
words reveal the class (sentiment words for negative/positive tasks, class cue words otherwise; for
a pair task the cue words sit in the second text), so that even a bag-of-words model learns them;
QA gets questions on a few facts with correct answer offsets (validation: several annotators);
summarization gets short dialogues and their summaries. Columns without a role are filled by name
(``idx``: positions; ``id``: ``<split>-<i>``; anything else: short strings). Only tasks whose columns
mean something of their own have a writer of their own (:data:`SPECIAL_WRITERS`: IMDB with the label
errors that join it on ``id``, the human-rating tasks, ChaosNLI, NoisyAG-News). Adding a dataset to the registry therefore
needs no change here.

Row counts are in :data:`TINY_ROWS` (also the ``tiny_rows`` fixture): the explicit counts below,
else the defaults of :data:`DEFAULT_ROWS` by kind and split role. Everything is deterministic; the
tasks are written in registry order from one seeded generator. Do not modify the files in tests:
the directory is shared by the whole session.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nlpdiff.tasks import TASKS, TaskSpec

#: A test-only sentence-pair, three-class task in SNLI's schema (premise, hypothesis, label 0
#: entailment / 1 neutral / 2 contradiction). Not a study task: tests register it with
#: ``nlpdiff.tasks.register_task`` and read it from ``tiny_data_dir``.
TINY_NLI = TaskSpec(
    name="tiny_nli",
    kind="classification",
    roles={"text": "premise", "text_pair": "hypothesis", "label": "label"},
    label_names=("entailment", "neutral", "contradiction"),
    splits=("train", "validation"),
    train_split="train",
    eval_split="validation",
    description="Tiny learnable sentence pairs in SNLI's schema (tests only).",
    columns=("premise", "hypothesis", "label"),
    local_rows=(("train", 120), ("validation", 40)),
)

POSITIVE_WORDS = (
    "wonderful", "brilliant", "moving", "delightful", "superb", "charming", "funny",
    "beautiful", "gripping", "heartfelt", "excellent", "enjoyable",
)
NEGATIVE_WORDS = (
    "boring", "awful", "dull", "terrible", "tedious", "clumsy", "painful", "bland",
    "dreadful", "lifeless", "poor", "messy",
)
_SUBJECTS = ("the film", "this movie", "the plot", "the acting", "the script", "the ending",
             "the cast", "the story", "the direction", "every scene")
_TEMPLATES = (
    "{s} is {a} .",
    "{s} was {a} and {b} .",
    "a {a} , {b} piece of work .",
    "{s} feels {a} from start to finish .",
    "what a {a} experience .",
    "i found {s} {a} .",
)

#: Rows of a split by kind and split role, for a task with no explicit count below.
DEFAULT_ROWS = {
    "classification": {"train": 120, "eval": 40},
    "extractive_qa": {"train": 8, "eval": 6},
    "summarization": {"train": 12, "eval": 6},
}
_EXPLICIT_ROWS = {
    ("sst2", "train"): 200,
    ("sst2", "validation"): 60,
    ("sst2", "test"): 40,
    ("imdb", "train"): 40,
    ("imdb", "test"): 40,
    ("imdb_label_errors", "test"): 6,
    ("imdb_label_errors", "cleanlab_cv_pred_probs"): 40,
    ("rt_human_ratings", "train"): 80,
    ("tweets_human_ratings", "train"): 40,
    ("chaosnli_snli", "validation"): 30,
    ("chaosnli_mnli", "validation"): 30,
}


def tiny_rows_of(spec: TaskSpec, split: str) -> int:
    """Rows that ``tiny_data_dir`` writes for a task's split."""
    if (spec.folder, split) in _EXPLICIT_ROWS:
        return _EXPLICIT_ROWS[(spec.folder, split)]
    return DEFAULT_ROWS[spec.kind]["train" if split == "train" else "eval"]


#: Every task written by ``tiny_data_dir``, in writing order: the registry, then the test tasks.
TINY_TASKS = (*TASKS.values(), TINY_NLI)
#: (folder, split) -> number of rows written by ``tiny_data_dir``.
TINY_ROWS = {
    **{(spec.folder, split): tiny_rows_of(spec, split) for spec in TINY_TASKS for split in spec.splits},
    ("imdb_label_errors", "cleanlab_cv_pred_probs"): _EXPLICIT_ROWS[("imdb_label_errors", "cleanlab_cv_pred_probs")],
}


def sentiment_sentence(rng: random.Random, label: int) -> str:
    """One short English sentence whose sentiment words all match ``label`` (1 pos, 0 neg)."""
    words = POSITIVE_WORDS if label == 1 else NEGATIVE_WORDS
    a, b = rng.sample(words, 2)
    return rng.choice(_TEMPLATES).format(s=rng.choice(_SUBJECTS), a=a, b=b)


def balanced_labels(n: int, rng: random.Random, k: int = 2) -> list[int]:
    """n labels over k classes in equal shares (the first classes get one more when k does not
    divide n), shuffled."""
    labels = [i % k for i in range(n)]
    rng.shuffle(labels)
    return labels


#: Cue words of the classes of a task that is not negative/positive (class c: _CUES[c]).
_CUES = (
    ("alpha", "amber", "apple", "anchor"), ("bravo", "brass", "birch", "bell"),
    ("charlie", "cedar", "cobalt", "cloud"), ("delta", "denim", "dune", "drum"),
    ("echo", "ember", "elm", "easel"), ("foxtrot", "fern", "flint", "flute"),
    ("golf", "garnet", "grove", "gong"), ("hotel", "hazel", "harbor", "harp"),
)
_ACTIVITIES = ("reading a book", "riding a bike", "playing chess", "cooking dinner", "walking a dog",
               "painting a wall", "singing a song", "fixing a car")


def class_text(rng: random.Random, spec: TaskSpec, label: int) -> str:
    """A text whose words reveal class ``label`` of ``spec``: sentiment words for a
    negative/positive task, else the class's cue words."""
    if spec.label_names == ("negative", "positive"):
        return sentiment_sentence(rng, label)
    a, b = rng.sample(_CUES[label % len(_CUES)], 2)
    return f"{rng.choice(_SUBJECTS)} is {a} and {b} ."


def premise_text(rng: random.Random) -> str:
    """A first text of a pair that says nothing about the class."""
    return f"{rng.choice(_PEOPLE)} is {rng.choice(_ACTIVITIES)} in the {rng.choice(_PLACES)} ."


def _write(path: Path, columns: dict, schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path)


_S = pa.string()


def _column_types(spec: TaskSpec) -> dict[str, pa.DataType]:
    """Arrow type of each column of a task: its roles' by kind, ``idx`` int32, the rest strings."""
    types = {c: pa.string() for c in (*spec.columns, *spec.roles.values())}
    if "idx" in types:
        types["idx"] = pa.int32()
    if spec.kind == "classification":
        types[spec.column("label")] = pa.int64()
    if spec.kind == "extractive_qa":
        types[spec.column("answers")] = pa.struct([("text", pa.list_(pa.string())),
                                                   ("answer_start", pa.list_(pa.int64()))])
    return types


def _extra_value(column: str, split: str, i: int):
    """The value of a column without a role, by its name."""
    if column == "idx":
        return i
    if column == "id":
        return f"{split}-{i:04d}"
    return f"{column} {i}"


def _write_roles(root: Path, spec: TaskSpec, split: str, rows: list[dict]) -> None:
    """Write rows (role -> value) of a split, with every column of the task."""
    types = _column_types(spec)
    by_column = {column: role for role, column in spec.roles.items()}
    columns = {c: [row[by_column[c]] if c in by_column else _extra_value(c, split, i) for i, row in enumerate(rows)]
               for c in types}
    _write(root / spec.folder / f"{split}.parquet", columns, pa.schema(list(types.items())))


def _classification(root: Path, rng: random.Random, spec: TaskSpec) -> None:
    for split in spec.splits:
        labels = balanced_labels(tiny_rows_of(spec, split), rng, spec.num_labels)
        rows = []
        for y in labels:
            row = {"label": y}
            if spec.has_role("text_pair"):  # the cue words are in the second text
                row["text"] = premise_text(rng)
                row["text_pair"] = class_text(rng, spec, y)
            else:
                row["text"] = class_text(rng, spec, y)
            rows.append(row)
        _write_roles(root, spec, split, rows)


def _imdb(root: Path, rng: random.Random, spec: TaskSpec) -> None:
    """IMDB, and the label errors of its test split (joined on ``id``) with cleanlab's probabilities."""
    schema = pa.schema([("text", _S), ("label", pa.int64()), ("id", _S)])
    test_ids = []
    for split in ("train", "test"):
        n = TINY_ROWS[("imdb", split)]
        labels = balanced_labels(n, rng)
        texts = [" ".join(sentiment_sentence(rng, y) for _ in range(4)) for y in labels]
        ids = [f"{split}/{'pos' if y else 'neg'}/{i}_{rng.randint(7, 10) if y else rng.randint(1, 4)}"
               for i, y in enumerate(labels)]
        if split == "test":
            test_ids, test_labels = ids, labels
        _write(root / "imdb" / f"{split}.parquet",
               {"text": texts, "label": labels, "id": ids}, schema)
    # label errors: candidates among the test rows, 5 votes each
    cand = list(range(0, TINY_ROWS[("imdb_label_errors", "test")] * 3, 3))
    votes = [(4, 1, 0, 0), (1, 4, 0, 0), (2, 3, 0, 0), (3, 1, 1, 0), (0, 5, 0, 0), (2, 2, 1, 0)]
    err_schema = pa.schema([("id", _S), ("given_label", pa.int64()), ("guessed_label", pa.int64()),
                            ("votes_given", pa.int64()), ("votes_guessed", pa.int64()),
                            ("votes_neutral", pa.int64()), ("votes_off_topic", pa.int64())])
    _write(
        root / "imdb_label_errors" / "test.parquet",
        {"id": [test_ids[i] for i in cand],
         "given_label": [test_labels[i] for i in cand],
         "guessed_label": [1 - test_labels[i] for i in cand],
         "votes_given": [v[0] for v in votes], "votes_guessed": [v[1] for v in votes],
         "votes_neutral": [v[2] for v in votes], "votes_off_topic": [v[3] for v in votes]},
        err_schema,
    )
    p_pos = [round(min(max(0.8 * y + 0.1 + rng.uniform(-0.1, 0.1), 0.0), 1.0), 4)
             for y in test_labels]
    _write(
        root / "imdb_label_errors" / "cleanlab_cv_pred_probs.parquet",
        {"id": test_ids, "p_neg": [1 - p for p in p_pos], "p_pos": p_pos},
        pa.schema([("id", _S), ("p_neg", pa.float64()), ("p_pos", pa.float64())]),
    )


_FACTS = (
    ("Denver Broncos", "Super Bowl 50", "The Denver Broncos defeated the Carolina Panthers 24-10 "
     "to win Super Bowl 50 in Santa Clara, California.", "Who won Super Bowl 50?",
     "Denver Broncos"),
    ("Warsaw", "Warsaw", "Warsaw is the capital and largest city of Poland. It stands on the "
     "Vistula River in east-central Poland.", "On which river does Warsaw stand?",
     "Vistula River"),
    ("Oxygen", "Oxygen", "Oxygen is a chemical element with symbol O and atomic number 8. It was "
     "discovered by Carl Wilhelm Scheele.", "What is the atomic number of oxygen?", "8"),
    ("Normans", "Normans", "The Normans gave their name to Normandy, a region in France, in the "
     "10th and 11th centuries.", "Which region is named after the Normans?", "Normandy"),
)


def _extractive_qa(root: Path, rng: random.Random, spec: TaskSpec) -> None:
    for split in spec.splits:
        rows = []
        for i in range(tiny_rows_of(spec, split)):
            _, _, context, question, answer = _FACTS[i % len(_FACTS)]
            start = context.index(answer)
            repeat = 1 if split == "train" else 2 + i % 2  # several annotators on held-out splits
            rows.append({"question": question, "context": context,
                         "answers": {"text": [answer] * repeat, "answer_start": [start] * repeat}})
        _write_roles(root, spec, split, rows)


_PEOPLE = ("Anna", "Ben", "Chloe", "Dan", "Eve", "Finn")
_PLACES = ("park", "kitchen", "garden", "garage", "library", "street")
_PLANS = ("the cinema", "lunch", "the gym", "the beach", "the library", "a concert")


def _dialogue(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(_PEOPLE, 2)
    plan = rng.choice(_PLANS)
    hour = rng.randint(1, 9)
    dialogue = (f"{a}: Are you coming to {plan} today?\r\n{b}: Yes, what time?\r\n"
                f"{a}: At {hour} pm.\r\n{b}: Great, see you there!")
    return dialogue, f"{b} will join {a} at {plan} at {hour} pm."


def _summarization(root: Path, rng: random.Random, spec: TaskSpec) -> None:
    for split in spec.splits:
        pairs = [_dialogue(rng) for _ in range(tiny_rows_of(spec, split))]
        _write_roles(root, spec, split, [{"document": d, "summary": r} for d, r in pairs])


def _ratings(root: Path, rng: random.Random, spec: TaskSpec) -> None:
    """A human-ratings task: the label follows the mean of 15-25 raters' scores (-4..4)."""
    schema = pa.schema([("id", pa.int64()), ("text", _S), ("label", pa.int64()),
                        ("mean_rating", pa.float64()), ("rating_std", pa.float64()),
                        ("ratings", pa.list_(pa.int64()))])
    for folder in (spec.folder,):
        n = TINY_ROWS[(folder, "train")]
        cols = {k: [] for k in schema.names}
        for i, y in enumerate(balanced_labels(n, rng)):
            center = rng.choice((1, 2, 3)) * (1 if y else -1)
            spread = rng.choice((0, 1, 2))  # rater disagreement
            ratings = [max(-4, min(4, center + rng.randint(-spread, spread)))
                       for _ in range(rng.randint(15, 25))]
            mean = sum(ratings) / len(ratings)
            std = (sum((r - mean) ** 2 for r in ratings) / len(ratings)) ** 0.5
            cols["id"].append(i + 1)
            cols["text"].append(sentiment_sentence(rng, y))
            cols["label"].append(int(mean > 0))
            cols["mean_rating"].append(round(mean, 3))
            cols["rating_std"].append(round(std, 6))
            cols["ratings"].append(ratings)
        _write(root / folder / "train.parquet", cols, schema)


def _chaosnli(root: Path, rng: random.Random, spec: TaskSpec) -> None:
    """ChaosNLI in its schema: 100 crowd labels per pair (``label_count``), their entropy (bits) and
    majority (``chaos_label``), and 5 original labels of which exactly 3 agree (``old_labels``).

    The SNLI part reuses most pairs of the tiny ``snli`` validation split, same text and label (as
    1,507 of the 1,514 real pairs are in SNLI dev), plus a few pairs of its own. The gold label
    differs from the majority of 100 on about a third of the pairs, more often on pairs with high
    entropy. Its own generator (seeded by the folder), so the other tasks' tiny data do not move.
    """
    import math

    import pyarrow.parquet as pq_

    rng = random.Random(f"chaosnli-{spec.folder}")
    n = tiny_rows_of(spec, "validation")
    pairs = []
    snli = root / "snli" / "validation.parquet"
    if spec.folder == "chaosnli_snli" and snli.is_file():
        pool = pq_.read_table(snli).to_pylist()
        pairs = [(r["premise"], r["hypothesis"], r["label"]) for r in pool[: n - 4]]
    while len(pairs) < n:
        y = len(pairs) % 3
        pairs.append((premise_text(rng), class_text(rng, spec, y), y))
    cols = {c: [] for c in spec.columns}
    for i, (premise, hypothesis, y) in enumerate(pairs):
        others = [c for c in range(3) if c != y]
        old = [y, y, y, *rng.sample(others + others, 2)]
        rng.shuffle(old)
        hard = i % 3 == 0  # about a third: the crowd's majority differs from the gold label
        top = rng.choice(others) if hard else y
        share = rng.randint(40, 60) if hard else rng.randint(55, 98)
        counts = [0, 0, 0]
        counts[top] = share
        rest = 100 - share
        second = rng.randint(0, rest)
        o1, o2 = [c for c in range(3) if c != top]
        counts[o1], counts[o2] = second, rest - second
        if max(counts[o1], counts[o2]) >= share:  # keep the majority where it was put
            counts[top], counts[o1], counts[o2] = 100 - 2 * (rest // 2 - 1) - 2, rest // 2 - 1, rest // 2 - 1
            counts[o2] += 100 - sum(counts)
        ps = [c / 100 for c in counts if c]
        cols["uid"].append(f"{spec.folder}-{i:04d}")
        cols["premise"].append(premise)
        cols["hypothesis"].append(hypothesis)
        cols["label"].append(y)
        cols["old_labels"].append(old)
        cols["chaos_label"].append(max(range(3), key=lambda c: counts[c]))
        cols["label_count"].append(counts)
        cols["entropy"].append(-sum(p * math.log2(p) for p in ps))
    schema = pa.schema([("uid", _S), ("premise", _S), ("hypothesis", _S), ("label", pa.int64()),
                        ("old_labels", pa.list_(pa.int64())), ("chaos_label", pa.int64()),
                        ("label_count", pa.list_(pa.int64())), ("entropy", pa.float64())])
    _write(root / spec.folder / "validation.parquet", cols, schema)


def _noisy_agnews(root: Path, rng: random.Random, spec: TaskSpec) -> None:
    """NoisyAG-News in its schema: train with a human ``label`` (wrong on a fifth of the rows, mostly
    towards class 0, as the real errors are), the true ``clean_label`` and ``source_group``; test with
    ``text`` and the clean ``label``. Texts carry the true class's cue words. Its own generator, so the
    other tasks' tiny data do not move."""
    rng = random.Random("noisy_agnews")
    k = len(spec.label_names)
    n = tiny_rows_of(spec, "train")
    clean = balanced_labels(n, rng, k)
    wrong = set(rng.sample(range(n), n // 5))
    human = [((y + 1) % k if y == 0 else 0) if i in wrong else y for i, y in enumerate(clean)]
    _write(root / spec.folder / "train.parquet",
           {"text": [class_text(rng, spec, y) for y in clean], "label": human, "clean_label": clean,
            "source_group": [rng.randint(0, 4) if i in wrong else rng.randint(5, 6) for i in range(n)]},
           pa.schema([("text", _S), ("label", pa.int64()), ("clean_label", pa.int64()), ("source_group", pa.int64())]))
    test = balanced_labels(tiny_rows_of(spec, "test"), rng, k)
    _write(root / spec.folder / "test.parquet", {"text": [class_text(rng, spec, y) for y in test], "label": test},
           pa.schema([("text", _S), ("label", pa.int64())]))


#: Writers by kind, for a task whose columns are its roles (plus ``idx``/``id``-like columns).
KIND_WRITERS = {"classification": _classification, "extractive_qa": _extractive_qa,
                "summarization": _summarization}
#: Tasks with columns that mean something of their own (None: written by another task's writer).
SPECIAL_WRITERS = {"imdb": _imdb, "imdb_label_errors": None, "rt_human_ratings": _ratings,
                   "tweets_human_ratings": _ratings, "chaosnli_snli": _chaosnli, "chaosnli_mnli": _chaosnli,
                   "noisy_agnews": _noisy_agnews, "noisy_agnews_clean": None}


def write_task(root: Path, spec: TaskSpec, rng: random.Random) -> None:
    """Write the tiny splits of one task under ``root/<folder>``."""
    writer = SPECIAL_WRITERS[spec.name] if spec.name in SPECIAL_WRITERS else KIND_WRITERS[spec.kind]
    if writer is not None:
        writer(root, rng, spec)


def write_tiny_data(root: Path, seed: int = 0) -> Path:
    """Write every tiny dataset under ``root`` (see the module docstring) and return ``root``."""
    rng = random.Random(seed)
    for spec in TINY_TASKS:
        write_task(root, spec, rng)
    return root


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """A data dir with tiny parquet copies of every task (layout ``<folder>/<split>.parquet``).

    Pass it as ``data_dir=`` to :func:`nlpdiff.tasks.load_split`, or set ``NLPDIFF_DATA_DIR`` to
    it with ``monkeypatch.setenv``. Read-only by convention: it is shared by the session.
    """
    return write_tiny_data(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture(scope="session")
def tiny_rows() -> dict:
    """(folder, split) -> number of rows written by ``tiny_data_dir``."""
    return dict(TINY_ROWS)


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a busy 2-core machine two spinning OpenMP threads are ~10x slower,
    and the golden runs' float results are those of one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def forget_registered_tasks():
    """Tasks a test registers (users' data) are forgotten after it."""
    from nlpdiff import tasks

    before = set(tasks.registered_tasks())
    yield
    for name in set(tasks.registered_tasks()) - before:
        tasks.unregister_task(name)


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory, tiny_data_dir):
    """The smoke profile run once for the whole test session, as ``nlpdiff study --profile smoke``
    runs it (Snakemake, every stage, its own book), in a copy of the project.

    Returns ``(project, plan, result)``: the project folder (runs under ``runs/smoke/``, the book
    under ``runs/smoke/site``), the profile's :class:`nlpdiff_study.workflow.Plan` and the finished
    ``subprocess.CompletedProcess``. Tests that read one of its pages or runs use this instead of
    executing the notebook again. The data are ``NLPDIFF_DATA_DIR`` when set (CI: the real copies),
    else the tiny test data.
    """
    import os
    import shutil
    import subprocess

    from nlpdiff_study.workflow import load_plan

    if shutil.which("snakemake") is None:
        pytest.skip("snakemake is not installed")
    root = Path(__file__).resolve().parents[1]
    project = tmp_path_factory.mktemp("smoke") / "project"
    project.mkdir()
    for name in ("Snakefile", "_config.yml", "_toc.yml"):
        shutil.copy2(root / name, project / name)
    shutil.copytree(root / "params", project / "params")
    shutil.copytree(root / "notebooks", project / "notebooks")
    shutil.copytree(root / "book", project / "book", ignore=shutil.ignore_patterns("_build", "results"))
    # pages rendered from committed summaries (site files of every profile)
    (project / "book" / "results").mkdir(parents=True, exist_ok=True)
    for page in ("gpu_runs", "conclusions", "noisy_agnews", "model_size"):
        shutil.copy2(root / "book" / "results" / f"{page}.ipynb", project / "book" / "results" / f"{page}.ipynb")
    env = {**os.environ}
    env.setdefault("NLPDIFF_DATA_DIR", str(tiny_data_dir))
    cmd = ["snakemake", "--cores", "2", "--config", "profile=smoke"]
    result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=1500)
    result.cmd, result.env = cmd, env
    plan = load_plan("smoke", project / "params" / "profiles", project / "notebooks")
    return project, plan, result


def smoke_page(smoke_study, name: str) -> Path:
    """The executed notebook of a smoke run or analysis ``name`` (its page when it has one)."""
    project, plan, result = smoke_study
    assert result.returncode == 0, (result.stdout + result.stderr)[-8000:]
    return project / plan.get(name).notebook_output("smoke")


def smoke_run_dir(smoke_study, name: str) -> Path:
    """The run folder (``run.json``, tables) of smoke run ``name``."""
    project, plan, result = smoke_study
    assert result.returncode == 0, (result.stdout + result.stderr)[-8000:]
    return project / plan.get(name).run_dir("smoke")


def page_texts(path: Path) -> list[str]:
    """The text outputs of an executed notebook's code cells (markdown, HTML tables, plain text), charts left
    out (their element ids are random): what a test compares between a committed page and a fresh render."""
    import nbformat

    nb = nbformat.read(path, 4)
    return [o["data"].get("text/markdown") or o["data"].get("text/html") or o["data"].get("text/plain")
            for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "data" in o and "nlpdiff-chart" not in o["data"].get("text/html", "")]


def render_page(name: str, out: Path) -> list[str]:
    """Execute ``notebooks/<name>.py`` from the repository root (its committed tables) into ``out`` with
    ``nlpdiff run``; returns :func:`page_texts` of the result."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    subprocess.run(["nlpdiff", "run", str(root / "notebooks" / f"{name}.py"), "-o", str(out)], cwd=root, check=True,
                   capture_output=True, text=True, timeout=600)
    return page_texts(out)
