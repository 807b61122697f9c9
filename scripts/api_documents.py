"""Write each problem type's API documents: the OpenAPI document and the client's models.

A software engineer's project commits its API's OpenAPI document (api/openapi.json) and
the typed client's models generated from it (client/src/<package>_client/models.py), and
its tests fail when either falls behind the service. Rendering cannot run the service, so
the template keeps what the project's own commands write, per problem type, in
problem_types/<type>/openapi.json.jinja and client_models.py.jinja, and the project
includes them. They are derived, never typed: this script renders each problem type's
project, runs its `make api-client` (which writes both) and stores the results, with the
project's name and description turned back into the answers they came from.
tests/test_primary_users.py fails when a stored document is not what the service says.

Usage: uv run python scripts/api_documents.py [--check] [problem_type ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import copier

from copier_mlops.config import load_copier_config
from copier_mlops.processes import clean_env, run, uv_executable

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "uv run python scripts/api_documents.py"
# Answers no schema holds by chance, replaced by the Jinja that renders the real ones.
SENTINELS = {
    "Zqx Sentinel Project": "{{ project_name }}",
    "Zqx sentinel description of the project": "{{ description }}",
}
PACKAGE = "zqx_sentinel_project"


def stored(problem_type: str) -> dict[Path, Path]:
    """The template's stored files of `problem_type`, by the project file they hold."""
    folder = ROOT / "problem_types" / problem_type
    return {
        Path("api/openapi.json"): folder / "openapi.json.jinja",
        Path(f"client/src/{PACKAGE}_client/models.py"): folder / "client_models.py.jinja",
    }


def as_template(text: str) -> str:
    """A generated file's text with the sentinel answers turned back into Jinja."""
    if any(delimiter in text for delimiter in ("{{", "{%", "{#")):
        raise ValueError("a generated file holds Jinja delimiters; store it with {% raw %}")
    for sentinel, jinja in SENTINELS.items():
        text = text.replace(sentinel, jinja)
    return text


def derive(problem_type: str, into: Path) -> dict[Path, str]:
    """Render `problem_type`'s software-engineer project and run its `make api-client`."""
    for store in stored(problem_type).values():
        # A first render needs something to include; the command below replaces it.
        if not store.exists():
            store.write_text("", encoding="utf-8")
    project = into / problem_type
    name, description = SENTINELS
    copier.run_copy(
        str(ROOT),
        project,
        data={
            "project_name": name,
            "description": description,
            "package_name": PACKAGE,
            "problem_type": problem_type,
            "primary_user": "software_engineer",
            "maturity_stage": "deploy",
            "team_size": "solo",
        },
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref="HEAD",
    )
    env = clean_env()
    run([uv_executable(), "sync", "--quiet"], project, env=env)
    run(["make", "api-client"], project, env=env)
    return {
        store: as_template((project / generated).read_text(encoding="utf-8"))
        for generated, store in stored(problem_type).items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a stored file is stale")
    parser.add_argument("problem_types", nargs="*", help="default: every problem type")
    args = parser.parse_args()
    types = args.problem_types or load_copier_config(ROOT)["problem_type"]["choices"].values()
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for problem_type in types:
            for store, text in derive(problem_type, Path(tmp)).items():
                if store.read_text(encoding="utf-8") == text:
                    continue
                stale.append(store.relative_to(ROOT))
                if not args.check:
                    store.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path}")
    if args.check and stale:
        print(f"Run `{COMMAND}` and commit the files.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
