#!/usr/bin/env python3
"""Offline `helm lint` / `helm template` through helm-python-sdk (import name `helm_python`).

No helm binary and no cluster are needed: helm-python-sdk bundles Helm's Go SDK as a
native library (libhelm_c, Helm v4) and calls it through ctypes.

Run it with the project venv's interpreter (scripts/test creates it):

    .venv/bin/python tools/helm_offline.py lint CHART_DIR [-f values.yaml] [--strict]
    .venv/bin/python tools/helm_offline.py template CHART_DIR [-f values.yaml]
                                           [--name RELEASE] [--namespace NS]

lint      prints the lint report as JSON; exit 1 when it has errors (with --strict,
          warnings count as errors, like `helm lint --strict`) or no chart was linted.
template  prints the rendered manifests to stdout as `helm template` does
          ("---\\n# Source: <path>\\n<manifest>", sorted by path, NOTES.txt and empty
          output left out); exit 1 with the error on stderr when rendering fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import helm_python as helm
except ImportError:  # pragma: no cover - environment problem, not a chart problem
    sys.exit(
        "helm_offline.py: helm-python-sdk (module helm_python) is not importable by "
        f"{sys.executable}; run scripts/test, which installs it into .venv"
    )


def load_values(files: list[str]) -> dict:
    """Merge -f files left to right (later files win), as helm does for top-level keys."""
    values: dict = {}
    for f in files:
        doc = helm.values_from_yaml(Path(f).read_text(encoding="utf-8"))
        values = _merge(values, doc or {})
    return values


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, val in override.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], val)
        else:
            out[key] = val
    return out


def cmd_lint(args: argparse.Namespace) -> int:
    report = helm.lint(args.chart, load_values(args.values) or None, strict=args.strict)
    print(json.dumps(report, indent=2, sort_keys=True))
    failed = bool(report.get("errors")) or report.get("total_charts_linted", 0) < 1
    if args.strict:
        # severity: 0 unknown, 1 info, 2 warning, 3 error
        failed = failed or any(m.get("severity", 0) >= 2 for m in report.get("messages", []))
    return 1 if failed else 0


def cmd_template(args: argparse.Namespace) -> int:
    try:
        with helm.Chart.load(args.chart) as chart:
            manifests = chart.render(
                load_values(args.values) or None,
                name=args.name,
                namespace=args.namespace,
                is_install=True,
            )
    except helm.HelmError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for path in sorted(manifests):
        body = manifests[path]
        if path.endswith("NOTES.txt") or not body.strip():
            continue
        sys.stdout.write(f"---\n# Source: {path}\n{body.rstrip()}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    lint = sub.add_parser("lint", help="lint a chart directory")
    lint.add_argument("chart")
    lint.add_argument("-f", "--values", action="append", default=[], help="values YAML file")
    lint.add_argument("--strict", action="store_true", help="treat warnings as errors")
    lint.set_defaults(func=cmd_lint)

    tmpl = sub.add_parser("template", help="render a chart's templates offline")
    tmpl.add_argument("chart")
    tmpl.add_argument("-f", "--values", action="append", default=[], help="values YAML file")
    tmpl.add_argument("--name", default="release-name")
    tmpl.add_argument("--namespace", default="default")
    tmpl.set_defaults(func=cmd_template)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
