"""The copier-mlops template repository's own code, shared by its tests, docs, benchmarks
and scripts.

One job per module:

- `config`: copier.yml as Copier reads it, with its `!include`d files;
- `ladder`: components.yml's stages, team sizes and components, and the ladder rule
  (which components a set of answers switches on), as copier.yml's `components` states it;
- `service`: the prediction service's contract (service.yml);
- `processes`: running commands in a generated project's environment, with this
  repository's uv, and serving;
- `docker_replay`: a generated Dockerfile parsed and replayed without a Docker engine;
- `cookiecutter_export`: the template written out as a cookiecutter template.
"""

from pathlib import Path

#: The template repository this package belongs to. A script that may run with another
#: clone's environment (docs/stage_matrix.py in a test's clone) passes its own root.
ROOT = Path(__file__).resolve().parent.parent
