"""The functions' settings as the dev tools set and report them: by environment variable."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError


def variable(model: type[BaseModel], field: str) -> str:
    """The environment variable a settings field is read from: its alias."""
    return model.model_fields[field].alias or field


def invalid_setting(error: ValidationError) -> str:
    """One line naming each variable that failed and why (never its value: it may be a secret)."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return "invalid setting: " + "; ".join(problems)
