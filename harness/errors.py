"""The harness's own error type: anything a user can fix gets a HarnessError with one
clear message, which the CLI prints without a traceback."""


class HarnessError(Exception):
    """A problem with the input or the environment, explained in one message."""
