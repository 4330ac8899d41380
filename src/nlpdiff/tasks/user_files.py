"""A user's delimited file of labelled texts as a task (:func:`from_csv`): its encoding and field separator
found or checked, then :func:`nlpdiff.tasks.users.from_frame`."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.tasks.spec import DEFAULT_HELDOUT_FRACTION, ROW_INDEX, TaskSpec  # noqa: F401
from nlpdiff.tasks.loading import _to_frame  # noqa: F401
from nlpdiff.tasks.sampling import _check_seed, subsample  # noqa: F401
from nlpdiff.tasks.users import _as_frame, from_frame  # noqa: F401


_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


#: Field separators :func:`from_csv` recognises, with the words its messages use for them.
SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _sep_flag(sep: str) -> str:
    return "--sep '\\t'" if sep == "\t" else f"--sep '{sep}'"


def _decode_csv(file: Path, encoding: str | None, param: str) -> tuple[str, str]:
    """The text of ``file`` and the encoding it was read with.

    ``encoding=None``: UTF-8, without a leading byte-order mark (``utf-8-sig``). A file that is not
    valid UTF-8 is refused with a hint naming the likely encoding (Latin-1 / Windows-1252, UTF-16),
    never read with a guess.
    """
    raw = file.read_bytes()
    if encoding is None or str(encoding).lower().replace("_", "-") in ("utf-8", "utf8"):
        if raw.startswith(_UTF16_BOMS) and encoding is None:
            raise ParameterError("encoding", "utf-8", "the file's encoding",
                                 hint=f"{file.name} starts with a UTF-16 byte-order mark: pass --encoding utf-16 "
                                      "(encoding='utf-16')")
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig" if raw.startswith(_UTF8_BOM) else "utf-8"
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            hint = (f"{file.name} is not UTF-8: byte 0x{raw[exc.start]:02x} in line {line}")
            try:
                raw.decode("cp1252")
                hint += ("; it reads as Latin-1 / Windows-1252: pass --encoding latin-1 "
                         "(or cp1252; encoding='latin-1')")
            except UnicodeDecodeError:
                hint += "; pass its encoding with --encoding (encoding=...), e.g. latin-1"
            raise ParameterError("encoding", encoding or "utf-8",
                                 "the file's encoding", hint=hint) from exc
    import codecs

    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise ParameterError("encoding", encoding, "an encoding Python knows, such as utf-8, latin-1, cp1252 "
                             "or utf-16") from exc
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ParameterError("encoding", encoding, "the file's encoding",
                             hint=f"byte 0x{raw[exc.start]:02x} in line {line} of {file.name} is not {encoding}; "
                                  "UTF-8 files need no --encoding") from exc
    return text.lstrip("\ufeff"), encoding


def _header(text: str, sep: str) -> list[str]:
    """The first record of ``text`` split at ``sep`` (quotes honoured)."""
    import csv
    import io

    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(text[:65536]), delimiter=sep), [])]
    except csv.Error:
        return []


def _guess_sep(text: str, file: Path, columns: Sequence[str]) -> str:
    """The field separator of a delimited text: ``.tsv``/``.tab`` files are tab-separated; otherwise
    the first of :func:`csv.Sniffer`'s guess, comma, tab, semicolon and pipe whose header row holds
    every column in ``columns``; else the sniffer's guess, else a comma."""
    import csv

    candidates = list(SEPARATORS)
    if file.suffix.lower() in (".tsv", ".tab"):
        candidates = ["\t", *candidates]
    sniffed = None
    try:
        sample = "\n".join(text[:65536].splitlines()[:50])
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(SEPARATORS)).delimiter
        candidates.insert(0 if file.suffix.lower() not in (".tsv", ".tab") else 1, sniffed)
    except csv.Error:
        pass
    wanted = [c for c in columns if c]
    for sep in dict.fromkeys(candidates):
        if all(c in _header(text, sep) for c in wanted):
            return sep
    if file.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    return sniffed or ","


def _sep_hint(text: str, sep: str, columns: Sequence[str]) -> str | None:
    """ "the file looks tab-separated: pass --sep '\\t'" when another separator than ``sep`` splits the
    header into the wanted ``columns`` (or into more fields), else None."""
    wanted = [c for c in columns if c]
    here = _header(text, sep)
    for other, word in SEPARATORS.items():
        if other == sep:
            continue
        fields = _header(text, other)
        if (wanted and all(c in fields for c in wanted)) or (not wanted and len(fields) > max(len(here), 1)):
            return f"the file looks {word}-separated: pass {_sep_flag(other)} (sep={other!r})"
    return None


def from_csv(
    path: str | os.PathLike,
    text: str,
    label: str,
    text_pair: str | None = None,
    name: str | None = None,
    label_names: Sequence[Any] | None = None,
    heldout: str | os.PathLike | pd.DataFrame | None = None,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    seed: int = 0,
    sep: str | None = None,
    encoding: str | None = None,
    **read_csv: Any,
) -> TaskSpec:
    """A classification task of a CSV file of labelled texts (see :func:`from_frame`).

    The file is read with :func:`pandas.read_csv` with every column as text and only an empty
    cell counting as missing (``"NA"`` or ``"None"`` stay texts); a label column whose every value
    is an integer (``1`` .. ``5`` stars) is read as integers, so its classes sort as numbers.

    ``sep``: the field separator; None guesses it (:func:`_guess_sep`: a ``.tsv`` file is
    tab-separated, else :class:`csv.Sniffer` and the header row, which must name the ``text`` and
    ``label`` columns: comma, tab, semicolon or pipe). ``encoding``: None reads UTF-8 with or without
    a byte-order mark; a file that is not UTF-8 is refused with a hint (Latin-1: ``encoding="latin-1"``).
    A file that does not parse, or whose header lacks the columns, gets an error naming the likely
    cause ("the file looks tab-separated: pass --sep '\\t'"). ``read_csv`` passes further options.
    ``name`` defaults to the file's stem. ``heldout`` may be a second CSV file (read the same way).
    ``spec.source`` records the file's absolute path and SHA-256, and the separator and encoding
    when they are not comma and UTF-8 (``utf-8-sig``: UTF-8 with a byte-order mark).
    """
    import io

    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError("path", path, "the path of a CSV file")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ParameterError("path", str(path), "an existing CSV file", hint=f"{file.resolve()} does not exist")
    if sep is not None and (not isinstance(sep, str) or not sep or sep == "\n"):
        raise ParameterError("sep", sep, "a field separator such as ',', ';', '\\t' or '|'")
    if name is None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", file.stem).strip("_.-") or "my_data"
    columns = [text, label, *([text_pair] if text_pair else [])]

    def read(f: Path, param: str) -> pd.DataFrame:
        content, used_encoding = _decode_csv(f, encoding, param)
        used = sep if sep is not None else _guess_sep(content, f, columns)
        options = {"dtype": str, "keep_default_na": False, "na_values": [""], "sep": used, **read_csv}
        try:
            df = pd.read_csv(io.StringIO(content), **options)
        except (ValueError, pd.errors.ParserError) as exc:
            first = str(exc).strip().splitlines()[0]
            why = _sep_hint(content, used, columns)
            if why is None and "Expected" in first and "fields" in first:
                why = (f"a row has more fields than the header: a text with an unquoted "
                       f"{SEPARATORS.get(used, repr(used))}? quote such texts, or pass the file's separator "
                       "with --sep")
            raise ParameterError(param, str(f), f"a readable {SEPARATORS.get(used, repr(used))}-separated file",
                                 hint=f"{first}; {why}" if why else first) from exc
        df.columns = [c.strip() if isinstance(c, str) else c for c in df.columns]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            why = _sep_hint(content, used, columns)
            if why:
                raise ParameterError("sep", used, f"the separator of {f.name}",
                                     hint=f"with it the header is {list(df.columns)[:5]}; {why}")
        if label in df.columns:
            col = df[label]
            if len(col.dropna()) and all(_INTEGER.match(v) for v in col.dropna()) and not col.isna().any():
                df[label] = col.astype(np.int64)
        df.attrs.update(sep=used, encoding=used_encoding)
        return df

    frame = read(file, "path")
    held = heldout
    if isinstance(heldout, (str, os.PathLike)):
        held_file = Path(heldout).expanduser()
        if not held_file.is_file():
            raise ParameterError("heldout", str(heldout), "an existing CSV file or None")
        held = read(held_file, "heldout")
    source = {"kind": "csv", "path": str(file.resolve()),
              "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
    if isinstance(heldout, (str, os.PathLike)):
        source["heldout_path"] = str(Path(heldout).expanduser().resolve())
    if frame.attrs["sep"] != ",":  # recorded when not the default, so that runs of comma files stay comparable
        source["sep"] = frame.attrs["sep"]
    if frame.attrs["encoding"] != "utf-8":  # utf-8-sig: UTF-8 that starts with a byte-order mark
        source["encoding"] = frame.attrs["encoding"]
    return from_frame(frame, text=text, label=label, text_pair=text_pair, name=name, label_names=label_names,
                      heldout=held, heldout_fraction=heldout_fraction, seed=seed, _source=source)
