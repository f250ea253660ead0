"""What every change that touches Stripe and DynamoDB shares: the Stripe steps done so
far, undone in reverse when a later step fails, and the decision after a failure
(did the commit land after all? then nothing is undone; else undo, and release the
hold only when Stripe is back as it was)."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger

from saas_core import deadline
from saas_core.errors import StripeUnavailable

logger = Logger(child=True)


class Undo:
    """The Stripe steps one change has done, undone in reverse on failure."""

    def __init__(self, subject: str) -> None:
        self.subject = subject  # what is being changed, for the logs
        self._steps: list[tuple[str, Callable[[], object]]] = []
        self.stripe_needs_repair = False  # a repair this change owed failed: its hold must stay

    def add(self, description: str, step: Callable[[], object]) -> None:
        self._steps.append((description, step))

    def run(self) -> bool:
        """True when Stripe is back as it was."""
        complete = not self.stripe_needs_repair
        with deadline.undoing():
            for description, step in reversed(self._steps):
                try:
                    step()
                except StripeUnavailable:
                    logger.warning("could not undo a Stripe change", extra={"subject": self.subject,
                                                                            "step": description})
                    complete = False
        return complete


def undo_unless_landed(undo: Undo, *, landed: Callable[[], bool], release: Callable[[], None]) -> bool:
    """After a failure: True when the change committed anyway (its answer was lost), and
    then nothing is undone. Otherwise undo Stripe and give the hold back, or keep the hold
    when Stripe is not as before (or DynamoDB cannot say what happened): it names the
    change, and whoever holds the record next repairs Stripe first."""
    try:
        if landed():
            return True
    except Exception:
        logger.exception("cannot tell whether the change was stored", extra={"subject": undo.subject})
        return False
    if undo.run():
        release()
    return False
