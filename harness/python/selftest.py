#!/usr/bin/env python3
"""Development driver: runs ect_impl.py over the harness protocol against a vector directory.

Usage: ``python3 selftest.py [VECTORS_DIR] [--profile NAME] [--xfails FILE] [--impl CMD]``
(default directory the repository's ``vectors``, default every profile, default implementation
this directory's ``ect_impl.py``). Each profile's vectors are in its own directory: draft-00's
in ``VECTORS_DIR``, draft-01's in ``VECTORS_DIR/draft-01``. Every ``*.json`` file but
``schema.json`` of that directory is loaded; each vector becomes one case line (its id and case
fields), sent to one long-running implementation process (started afresh for each profile: the
profiles share vector ids), one line in, one line out. Judged as the Rust harness does in strict scoring: ``valid`` must be
answered valid (a valid ``http`` case with the vector's ``tokens``, in order); ``invalid``
invalid with the vector's ``code`` or one of its ``alt_codes``; ``acceptable`` valid, or
invalid with one of those codes; ``unmapped`` is a failure; ``skip`` is a failure here. Listed
expected failures (``--xfails``, default ``xfails.json`` next to this file: ``"xfails"`` lists
draft-00's, ``"profiles": {"draft-01": {...}}`` any profile's, as ``ect conformance --xfails``
reads them) must fail, or the run fails. Exit status 0 when nothing failed unexpectedly and
every profile had vectors. (Simpler than the Rust harness:
answers are read one line per case, with no timeout and no matching by id.)
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
#: Every profile, and where its vector files are under the vectors directory.
PROFILE_DIRS = {"draft-00": ".", "draft-01": "draft-01"}
#: The members of a vector that form its case (``Case`` in crates/conformance/src/vector.rs).
CASE_FIELDS = ("kind", "jwks", "settings", "token", "mode", "before", "store", "field_lines", "ledger")


@dataclass
class Loaded:
    """A vector and the file it came from."""

    file: str
    vector: dict[str, Any]


def load_vectors(directory: Path) -> list[Loaded]:
    """Every vector of every ``*.json`` file (except ``schema.json``), in file-name order."""
    out = []
    for path in sorted(directory.glob("*.json")):
        if path.name == "schema.json":
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        out.extend(Loaded(path.name, v) for v in data.get("vectors", []))
    return out


def case_line(vector: dict[str, Any]) -> str:
    """The protocol line for a vector: its id and case fields, nothing about the result."""
    case = {"id": vector["id"]}
    case.update({k: vector[k] for k in CASE_FIELDS if k in vector})
    return json.dumps(case, ensure_ascii=False, separators=(",", ":"))


def judge(vector: dict[str, Any], answer: dict[str, Any]) -> tuple[bool, Optional[str]]:
    """``(passed, note or reason)`` as the Rust harness judges an answer."""
    expected = vector["result"]
    codes = ([vector["code"]] if "code" in vector else []) + vector.get("alt_codes", [])
    expected_code = " or ".join(codes)
    result, code = answer.get("result"), answer.get("code")
    if result == "skip":
        return False, "skipped"
    if result == "valid":
        if expected not in ("valid", "acceptable"):
            return False, f"accepted, expected invalid {expected_code}"
        if vector.get("kind") == "http" and "tokens" in vector:
            if answer.get("tokens") != vector["tokens"]:
                return False, "tokens missing, different or out of order"
        return True, None
    if result == "invalid":
        if expected == "valid":
            return False, f"rejected ({code or 'no code'}), expected valid"
        if code in codes:
            return True, None
        if code == "unmapped":
            return False, f"unmapped code, expected {expected_code}"
        return False, f"rejected with {code}, expected {expected_code}"
    return False, f"not an answer: {answer!r}"


class Implementation:
    """The implementation under test, one long-running process."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.proc: Optional[subprocess.Popen[str]] = None

    def _start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                encoding="utf-8", bufsize=1,
            )
        return self.proc

    def ask(self, line: str) -> dict[str, Any]:
        """Sends one case line, returns the parsed answer (or a failure description)."""
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            reply = proc.stdout.readline()
        except (BrokenPipeError, OSError) as e:
            self.proc = None
            return {"result": "error", "why": f"implementation died: {e}"}
        if not reply:
            self.proc = None
            return {"result": "error", "why": "implementation exited"}
        try:
            return json.loads(reply)
        except ValueError:
            return {"result": "error", "why": f"not JSON: {reply[:120]!r}"}

    def close(self) -> None:
        """Ends the process (closing stdin ends its loop)."""
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


def load_xfails(path: Path) -> dict[str, dict[str, str]]:
    """Expected failures by profile: ``"xfails"`` is draft-00's, ``"profiles"`` any profile's
    (draft-00 in both forms is refused, as by ``ect conformance``)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, dict[str, str]] = {}
    if "xfails" in data:
        out["draft-00"] = data["xfails"]
    for name, listed in data.get("profiles", {}).items():
        if name not in PROFILE_DIRS:
            raise SystemExit(f"{path}: unknown profile {name!r}")
        if name in out:
            raise SystemExit(f"{path}: {name}'s expected failures are given twice")
        out[name] = listed
    return out


def run_profile(profile: str, vectors: list[Loaded], xfails: dict[str, str], command: list[str], verbose: bool) -> int:
    """Runs one profile's vectors; prints its failures and summary; returns the failures."""
    imp = Implementation(command)
    counts = {"pass": 0, "fail": 0, "xfail": 0, "skip": 0}
    notes = 0
    try:
        for loaded in vectors:
            v = loaded.vector
            answer = imp.ask(case_line(v))
            if answer.get("id") != v["id"] and answer.get("result") != "error":
                ok, why = False, f"answer for {answer.get('id')!r} instead"
            elif answer.get("result") == "error":
                ok, why = False, answer["why"]
            else:
                ok, why = judge(v, answer)
            listed = xfails.get(v["id"])
            if answer.get("result") == "skip" and listed is None:
                status = "skip"
            elif ok and listed is None:
                status = "pass"
            elif not ok and listed is not None:
                status, why = "xfail", listed
            elif ok:
                status, why = "fail", f"unexpected pass (listed as expected failure: {listed})"
            else:
                status = "fail"
            counts[status] += 1
            notes += status == "pass" and why is not None
            if status == "fail" or verbose or (status == "pass" and why):
                print(f"{status.upper():5} {profile} {loaded.file} {v['id']} (tcId {v.get('tcId')}, {', '.join(v.get('rules', []))}): {why or ''}")
    finally:
        imp.close()
    ids = {l.vector["id"] for l in vectors}
    unknown = sorted(set(xfails) - ids)
    for x in unknown:
        print(f"FAIL  {profile}: listed as expected failure, but no such vector: {x}")
    failed = counts["fail"] + len(unknown)
    if not vectors:
        print(f"FAIL  {profile}: no vectors")
        failed += 1
    print(
        f"{profile}: {len(vectors)} vectors in {len({l.file for l in vectors})} files: {counts['pass']} passed "
        f"({notes} with notes), {failed} failed, {counts['xfail']} expected failures, {counts['skip']} skipped"
    )
    return failed


def main(argv: list[str]) -> int:
    """Runs the vectors of every profile (or ``--profile``'s) and prints failures and summaries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=str(HERE.parent.parent / "vectors"))
    parser.add_argument("--profile", choices=sorted(PROFILE_DIRS), help="run one profile only")
    parser.add_argument("--xfails", default=str(HERE / "xfails.json"))
    parser.add_argument("--impl", dest="impl", default=f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'ect_impl.py'))}")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = parser.parse_args(argv)

    xfails = load_xfails(Path(args.xfails))
    profiles = [args.profile] if args.profile else list(PROFILE_DIRS)
    failed = 0
    for profile in profiles:
        directory = Path(args.directory) / PROFILE_DIRS[profile]
        vectors = load_vectors(directory) if directory.is_dir() else []
        failed += run_profile(profile, vectors, xfails.get(profile, {}), shlex.split(args.impl), args.verbose)
    print(f"{len(profiles)} profile(s): {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
