"""Mutation testing of the privacy rules with mutmut (`make mutate`, not CI).

Each group below pairs the modules that hold one privacy rule with the fast
tests that prove it. mutmut has a single configuration per project, so every
group runs in its own copy of the repository (under .mutmut/GROUP, kept between
runs so an interrupted run resumes; a change to the group's modules or tests
starts it afresh) with a [tool.mutmut]
section written for that group: each mutant then runs only the tests of its
group that touch the mutated function (mutmut's own per-function selection),
never a browser test.

Survivors judged equivalent are listed, one line of reason each, in the table
"Equivalent mutants" of bench/README.md: that table is the one list, read here.

Usage:  python bench/mutate.py [GROUP ...]   (no argument: every group, in order)
Prints killed / survived / no tests / equivalent / other (timeouts count as
killed; "other": suspicious, segfault, not checked) per group and module, then
the survivors (and mutants no test runs) not judged equivalent, and exits 1
while any remain.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutmut"
README = ROOT / "bench" / "README.md"

# The deny-by-default rules first, then the groups whose tests are fast, the
# groups proven by real face detection (slow per mutant) last.
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "decisions": (
        ["consentflow/review/rules.py", "consentflow/photos/decisions.py"],
        ["tests/unit/test_decisions.py", "tests/unit/test_decisions_exact.py",
         "tests/services/test_review_decisions.py", "tests/services/test_review_rules_exact.py",
         "tests/services/test_review_bulk.py"],
    ),
    "effective": (
        ["consentflow/consent/effective.py"],
        ["tests/services/test_consent_effective.py", "tests/services/test_consent_effective_exact.py",
         "tests/services/test_signing_date.py"],
    ),
    "signer": (
        ["consentflow/consent/signer.py"],
        ["tests/unit/test_signer_rules.py", "tests/services/test_signing_date.py", "tests/services/test_year_links.py",
         "tests/web/test_turning_16.py"],
    ),
    "audit": (
        ["consentflow/audit/chain.py"],
        ["tests/unit/test_audit_chain_rules.py", "tests/services/test_audit_chain.py",
         "tests/services/test_audit_tamper.py"],
    ),
    "access": (
        ["consentflow/auth/access.py"],
        ["tests/services/test_access_rules.py", "tests/web/test_access.py"],
    ),
    "matching": (
        ["consentflow/faces/matching.py"],
        ["tests/unit/test_matching_exact.py", "tests/unit/test_matching.py",
         "tests/services/test_match_thresholds_config.py"],
    ),
    "takedown": (
        ["consentflow/publish/takedown.py"],
        ["tests/services/test_takedown_exact.py", "tests/services/test_takedown_withdrawal.py",
         "tests/services/test_withdrawal_scope.py"],
    ),
    "links": (
        ["consentflow/consent/links.py", "consentflow/consent/submit.py"],
        ["tests/services/test_links_exact.py", "tests/services/test_year_links.py",
         "tests/web/test_consent_public.py"],
    ),
    "privacy": (
        ["consentflow/privacy/service.py", "consentflow/privacy/retention.py"],
        ["tests/services/test_privacy_exact.py", "tests/services/test_privacy_erasure.py",
         "tests/services/test_erasure_leftovers.py", "tests/services/test_consent_rule_followers.py"],
    ),
    "redact": (
        ["consentflow/publish/redact.py"],
        ["tests/unit/test_redact_exact.py", "tests/unit/test_redact.py",
         "tests/services/test_publish_redaction_choice.py"],
    ),
    "verify": (
        ["consentflow/publish/verify.py", "consentflow/publish/redaction.py"],
        ["tests/unit/test_find_leaks.py", "tests/services/test_redaction_choice_exact.py",
         "tests/unit/test_redact.py",
         "tests/services/test_publish_redaction_choice.py", "tests/services/test_publish_group.py"],
    ),
    "publish": (
        ["consentflow/publish/service.py"],
        # test_publish_group.py (module fixtures of 2-5 s of real detection)
        # proves verify.py; here it would cost that much per mutant.
        ["tests/services/test_publish_exact.py", "tests/services/test_publish_service.py"],
    ),
}

# What a copy needs to import and test the app (node_modules: the OIDC tests
# are not in any group).
_IGNORE = shutil.ignore_patterns(".venv", ".mutmut", "mutants", "node_modules", "__pycache__", ".pytest_cache",
                                 ".git", "instance", "dist", "build", "test-results")


def equivalent_mutants() -> dict[str, str]:
    """Mutant name -> reason, from the table in bench/README.md."""
    found: dict[str, str] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`(consentflow\.[\w.]+__mutmut_\d+)`\s*\|\s*(.+?)\s*\|\s*$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def prepare(group: str) -> Path:
    """A fresh copy of the code and tests (mutmut's cache survives in mutants/)."""
    modules, tests = GROUPS[group]
    copy = WORK / group
    copy.mkdir(parents=True, exist_ok=True)
    # mutmut keeps a survivor's verdict while its function is unchanged, even
    # when a new test would now kill it: any change to the group's code or
    # tests (or the test helpers) starts the group afresh.
    digest = hashlib.sha256()
    for path in [*modules, *tests, "tests/conftest.py", "tests/factories.py"]:
        digest.update(path.encode() + (ROOT / path).read_bytes())
    stamp = copy / "inputs.sha256"
    if not stamp.exists() or stamp.read_text() != digest.hexdigest():
        shutil.rmtree(copy / "mutants", ignore_errors=True)
        stamp.write_text(digest.hexdigest())
    for name in ("consentflow", "tests"):
        shutil.rmtree(copy / name, ignore_errors=True)
        shutil.copytree(ROOT / name, copy / name, ignore=_IGNORE)
    for name in ("uv.lock", "babel.cfg"):
        shutil.copy2(ROOT / name, copy / name)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["consentflow"]\n'
        f"only_mutate = {_toml_list(modules)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        # -p no:cacheprovider: the copies share nothing with the real tree.
        'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-x"]\n'
        # Mutants are forked from a process that has only collected the tests:
        # forked from the one that ran them (face models, onnxruntime and
        # detection threads loaded), children aborted with std::system_error
        # and then hung in mutmut's shutdown, waiting for our encoding helper.
        'process_isolation = "forkserver"\n'
    )
    (copy / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return copy


def run_group(group: str, max_children: int) -> dict[str, str]:
    """Mutant name -> status after running mutmut for one group."""
    copy = prepare(group)
    # Each mutant's test run starts from a copy of one migrated database
    # (tests/conftest.py), made afresh for every group run; and its imports
    # come from bytecode written by the runs before it.
    template = copy / "template.db"
    template.unlink(missing_ok=True)
    env = dict(os.environ, TEST_DATABASE_URL="sqlite", TEST_DB_TEMPLATE=str(template))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([*mutmut, "run", "--max-children", str(max_children)], cwd=copy, env=env,
                   stdout=subprocess.DEVNULL, check=False)
    out = subprocess.run([*mutmut, "results", "--all", "true"], cwd=copy, env=env, capture_output=True,
                         text=True, check=True).stdout
    statuses: dict[str, str] = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            statuses[name] = status
    return statuses


def module_of(mutant: str) -> str:
    return mutant.split(".x_")[0].split(".xǁ")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="*", help="groups to run: " + ", ".join(GROUPS))
    parser.add_argument("--max-children", type=int, default=2)
    args = parser.parse_args()
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    equivalent = equivalent_mutants()
    open_survivors: list[str] = []
    print(f"{'group':<10} {'module':<40} {'killed':>6} {'survived':>8} {'no tests':>8} {'equiv.':>6} {'other':>5}")
    started = time.monotonic()
    for group in args.groups or list(GROUPS):
        group_started = time.monotonic()
        statuses = run_group(group, args.max_children)
        print(f"{group:<10} ({(time.monotonic() - group_started) / 60:.1f} min)", flush=True)
        by_module: dict[str, Counter[str]] = {}
        for mutant, status in sorted(statuses.items()):
            counts = by_module.setdefault(module_of(mutant), Counter())
            if status in ("killed", "timeout"):
                counts["killed"] += 1
            elif status == "survived" and mutant in equivalent:
                counts["equivalent"] += 1
            elif status in ("survived", "no tests"):
                # A mutant no test of the group runs is not killed either.
                counts["survived" if status == "survived" else "no tests"] += 1
                open_survivors.append(mutant)
            else:
                counts["other"] += 1
        for module, counts in by_module.items():
            print(f"{group:<10} {module:<40} {counts['killed']:>6} {counts['survived']:>8} {counts['no tests']:>8} "
                  f"{counts['equivalent']:>6} {counts['other']:>5}", flush=True)
    print(f"\nall groups: {(time.monotonic() - started) / 60:.1f} min (a group resumed from its cache counts "
          "only the mutants left)")
    if open_survivors:
        print("\nSurvivors neither killed nor listed as equivalent in bench/README.md "
              "(see one with: cd .mutmut/GROUP && python -m mutmut show NAME):")
        for mutant in open_survivors:
            print(f"  {mutant}")
    return 1 if open_survivors else 0


if __name__ == "__main__":
    sys.exit(main())
