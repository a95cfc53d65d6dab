# Incomplete stub: the module exists where it is installed and every name in it is Any (pyproject.toml, [tool.pyright]).
from typing import Any

def __getattr__(name: str) -> Any: ...
