"""The command line's exit codes, and the error for a request it cannot carry out."""

EXIT_FINISHED, EXIT_NOT_FINITE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_DIVERGED = 1  # as a loss that became NaN: the run went unstable


class UsageError(ValueError):
    """A request the command line cannot carry out: clashing paths, a resume that does not fit."""


class GrammarError(UsageError):
    """A command line missing what the grammar needs (the images): told with a pointer to --help."""
