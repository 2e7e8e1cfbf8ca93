"""The one error of the machine mechanism."""


class MachineError(RuntimeError):
    """The machine cannot be created, changed or removed as asked; the message says why."""
