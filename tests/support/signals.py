"""Child processes that a test interrupts with a real SIGINT."""
import signal


def ctrl_c_deliverable() -> None:
    """``preexec_fn`` of a child the test sends SIGINT: its default action, unblocked.

    A process started in the background by a non-interactive shell (``cmd &``, as some CI
    runners start their jobs) has SIGINT ignored, and an ignored signal stays ignored across
    ``exec``: Python would then never raise KeyboardInterrupt in the child, and the test
    would measure the shell's job control instead of the harness's handling of Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
