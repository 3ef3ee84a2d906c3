"""The project's own error types.

Every problem a user can cause (bad input file, bad setting, broken checkpoint) is raised as a
`GPTStudioError` whose message is one plain sentence naming the problem and the fix. Front ends show
`str(error)` as is: the CLI prints it on one line and exits 2, the GUI shows it in a dialog.
"""


class GPTStudioError(Exception):
    """A problem the user can understand and fix; the message says what and how."""


class DatasetError(GPTStudioError):
    """Input text or a prepared dataset is unusable."""


class ConfigError(GPTStudioError):
    """Training settings are invalid. `problems` lists every one of them."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class CheckpointError(GPTStudioError):
    """A checkpoint is missing, truncated, of an unknown shape or unsafe to load."""


class WorkspaceError(GPTStudioError):
    """A name, folder or lock in the workspace is unusable."""


class TokenizerError(GPTStudioError):
    """Text cannot be encoded with this tokenizer (e.g. characters outside a char vocabulary)."""


class Cancelled(GPTStudioError):
    """The user asked the job to stop; nothing half-written was left behind."""

    def __init__(self, message: str = "Cancelled by the user."):
        super().__init__(message)
