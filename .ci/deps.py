"""The dependency policy, checked on the resolved graph (`cargo metadata --locked`):

- every package's licence expression must be satisfiable with the licences in ALLOWED
  (an SPDX expression: OR, AND, WITH and parentheses; `/` is the old spelling of OR);
- no crate may be in the graph in two semver-incompatible versions, except those listed
  in KNOWN_DUPLICATES (each says why it is tolerated); a new one fails, and so does a
  listed one that is gone (so the list stays true).

What cargo-deny's `licenses` and `bans.multiple-versions` do, without installing it.
Usage: python3 .ci/deps.py  (from the workspace root; exit 1 on a violation)
"""

import json
import re
import subprocess
import sys
from collections import defaultdict

ALLOWED = {
    "MIT", "MIT-0", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib",
    "0BSD", "Unlicense", "CC0-1.0", "BSL-1.0", "Unicode-3.0", "CDLA-Permissive-2.0",
}
# Exceptions a licence may carry (`WITH`): they only grant more.
ALLOWED_EXCEPTIONS = {"LLVM-exception"}

# name -> why two major versions are in the graph. Each comes from the registry's
# current releases of crates we depend on; none is ours to unify.
KNOWN_DUPLICATES = {
    # A dev-dependency only: influx-tsm-arrow's tests/ffi.rs reads our Arrow C stream with
    # arrow-rs 59 (DataFusion's and pyo3-arrow's), to show the bridge across versions.
    "arrow-array": "arrow 59 (the C stream bridge's test, dev only) and 60 (ours)",
    "arrow-buffer": "arrow 59 (the C stream bridge's test, dev only) and 60 (ours)",
    "arrow-data": "arrow 59 (the C stream bridge's test, dev only) and 60 (ours)",
    "arrow-schema": "arrow 59 (the C stream bridge's test, dev only) and 60 (ours)",
    "block-buffer": "sha2 0.10 (ours) and md-5 0.11 (object_store): the digest 0.10 / 0.11 split",
    "cpufeatures": "sha2 0.10 (ours) and md-5 0.11 (object_store)",
    "crypto-common": "sha2 0.10 (ours) and md-5 0.11 (object_store)",
    "digest": "sha2 0.10 (ours) and md-5 0.11 (object_store)",
    "getrandom": "0.2 in const-random (ahash's), 0.3 in ahash, 0.4 in tempfile",
    "itertools": "0.13 in criterion (benches only), 0.15 in object_store",
    "r-efi": "getrandom 0.3 and 0.4 (UEFI targets only)",
    "syn": "3 in async-trait and clap_derive, 2 in the jni macros of rustls-platform-verifier",
    "windows-sys": "0.52 in ring, 0.61 everywhere else (Windows targets only)",
}


def tokens(expr):
    return re.findall(r"\(|\)|[A-Za-z0-9.+\-]+", expr.replace("/", " OR "))


def satisfiable(expr):
    """Whether the SPDX expression can be met with ALLOWED licences."""
    toks = tokens(expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def term():
        tok = take()
        if tok == "(":
            value = either()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {expr!r}")
        else:
            value = tok in ALLOWED
        if peek() == "WITH":
            take()
            exception = take()
            value = value and exception in ALLOWED_EXCEPTIONS
        return value

    def both():
        value = term()
        while peek() == "AND":
            take()
            value = term() and value
        return value

    def either():
        value = both()
        while peek() == "OR":
            take()
            value = both() or value
        return value

    value = either()
    if pos != len(toks):
        raise ValueError(f"cannot read licence expression {expr!r}")
    return value


def check_evaluator():
    """The evaluator on expressions whose answer is known, so that a broken one cannot
    let a licence through."""
    cases = {
        "MIT": True,
        "GPL-3.0-only": False,
        "MIT OR GPL-3.0-only": True,
        "MIT AND GPL-3.0-only": False,
        "MIT/Apache-2.0": True,
        "Apache-2.0 WITH LLVM-exception OR MIT": True,
        "GPL-2.0-only WITH LLVM-exception": False,
        "(MIT OR Apache-2.0) AND Unicode-3.0": True,
        "(MIT OR GPL-3.0-only) AND (GPL-2.0-only OR LGPL-2.1-only)": False,
    }
    for expr, want in cases.items():
        assert satisfiable(expr) == want, f"deps.py evaluates {expr!r} wrongly"


def main():
    check_evaluator()
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    resolved = {node["id"] for node in meta["resolve"]["nodes"]}
    ours = set(meta["workspace_members"])
    problems = []
    majors = defaultdict(set)
    for package in meta["packages"]:
        if package["id"] not in resolved or package["id"] in ours:
            continue
        name, version = package["name"], package["version"]
        licence = package.get("license")
        if not licence:
            problems.append(f"{name} {version}: no licence expression")
        elif not satisfiable(licence):
            problems.append(f"{name} {version}: licence {licence!r} is not allowed")
        parts = version.split(".")
        majors[name].add(parts[0] if parts[0] != "0" else "0." + parts[1])
    duplicated = {name for name, m in majors.items() if len(m) > 1}
    for name in sorted(duplicated - KNOWN_DUPLICATES.keys()):
        problems.append(f"{name} is in the graph as {sorted(majors[name])}: unify it or list it")
    for name in sorted(KNOWN_DUPLICATES.keys() - duplicated):
        problems.append(f"{name} is listed as a duplicate but no longer is: remove it")
    print(
        f"deps: {len(resolved) - len(ours)} packages, licences checked, "
        f"{len(duplicated)} known duplicate majors"
    )
    for problem in problems:
        print(f"deps: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
