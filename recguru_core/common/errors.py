"""The one exception type users see: a clear, one-line message naming the file/field at fault."""


class RecGuruError(Exception):
    """Bad input or state the user can fix. The CLI prints `error: <message>` and exits 2;
    the app shows it with st.error. Messages are one line and name the file or field."""


class DataError(RecGuruError):
    """A data file or source spec is missing, malformed, or empty after filtering."""


class CheckpointError(RecGuruError):
    """A checkpoint file is missing, foreign, too new, or inconsistent."""
