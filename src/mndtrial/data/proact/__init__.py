"""Import PRO-ACT exports (current download or the 2016 archive) into the mndtrial data model.

See docs/proact.md for the file and column mapping, the rules and the import-log reasons.
"""

from .files import FORMS, ProactFiles, find_proact_files
from .importer import ProactImport, baseline_alsfrs_r, import_proact
from .labs import DEFAULT_LAB_TESTS
from .log import REASONS, ImportLog, LogEntry

__all__ = ["DEFAULT_LAB_TESTS", "FORMS", "REASONS", "ImportLog", "LogEntry", "ProactFiles", "ProactImport",
           "baseline_alsfrs_r", "find_proact_files", "import_proact"]
