"""Helpers of the template's tests, one job per module: `generated_project` (a rendered
project and the stages it is built at), `template_repo` (clones of the template and the
commands its docs give), `python_versions` (the Pythons copier.yml offers, found here).

What benchmarks/ and scripts/ use too lives in the copier_mlops package at the root.
"""
