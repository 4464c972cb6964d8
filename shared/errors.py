"""One exception type for problems the user can fix (bad input, missing files).

Command-line entry points catch it and print its message on one line with a non-zero exit;
anything else is a bug and keeps its traceback.
"""


class DanceError(Exception):
    """A user-facing error whose message names the problem and, where possible, the fix."""
