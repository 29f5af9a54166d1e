"""The browser design explorer (`mndtrial explore`): a Shiny app over `mndtrial.power`.

It is a client of the public API only: `spec` turns the form into design points and the
`mndtrial power` call that reproduces them, `refine` runs them progressively in the background,
`server` is the page. Shiny is an optional dependency (`pip install mndtrial[explore]`), imported
only when the app is built.
"""

from .refine import ConfirmatoryRun, Refinement, Snapshot, stages
from .spec import ExploreSpec, FormError, parse_form

__all__ = ["ExploreSpec", "FormError", "parse_form", "Refinement", "ConfirmatoryRun", "Snapshot", "stages",
           "create_app"]


def create_app(**options):
    """The Shiny app (`shiny.App`); see `mndtrial.app.server.create_app`."""
    from .server import create_app as _create

    return _create(**options)
