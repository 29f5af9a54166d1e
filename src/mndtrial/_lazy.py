"""Public names of a package imported on first use (PEP 562 module `__getattr__`).

The heavy parts of a package (matplotlib pages, the analysis stack, scipy's optimisers) cost
seconds to import; a caller that uses one light module of the package must not pay for the rest.

Example:
    >>> namespace = {}
    >>> getattr_, dir_ = lazy_names("json", namespace, {"JSONDecoder": "decoder"})
    >>> getattr_("JSONDecoder").__name__, "JSONDecoder" in namespace, "JSONDecoder" in dir_()
    ('JSONDecoder', True, True)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, Mapping


def lazy_names(package: str, namespace: dict[str, Any], names: Mapping[str, str], submodules: bool = False
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for `package`: `names` maps a public name to the submodule
    (relative to the package) that defines it; the value is imported on first access and kept in
    `namespace` (the package's globals). `submodules`: any other attribute is tried as a submodule
    not imported yet (`package.cox`)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(import_module(f".{names[name]}", package), name)
            namespace[name] = value
            return value
        if submodules and not name.startswith("__"):
            try:
                return import_module(f".{name}", package)
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
