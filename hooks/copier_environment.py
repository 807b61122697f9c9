"""A Jinja extension that makes cookiecutter's environment behave as Copier's does.

The cookiecutter export lists it in cookiecutter.json's `_extensions`; cookiecutter and
cruft import it from the exported template's folder. Cookiecutter's environment treats
an undefined name as an error (StrictUndefined), and its settings cannot change that;
Copier's, which the templates are written for, renders an undefined name or attribute as
empty and false (`{% if setting.env %}` for a setting without one), so this puts Jinja's
default back while the environment is being built.
"""

from __future__ import annotations

from jinja2 import Environment, Undefined
from jinja2.ext import Extension


class CopierUndefined(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.undefined = Undefined
