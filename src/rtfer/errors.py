"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class RtferError(Exception):
    """An error caused by input or configuration, with a message meant for the user."""


class DataError(RtferError):
    """A dataset, image or video that cannot be read or has the wrong shape or labels."""


class WeightsError(RtferError):
    """A weights file or model name that cannot be loaded."""
