"""The one place where raretune reads or changes a Keras Tuner oracle's internal queues.

Leases need two things Keras Tuner's ``Oracle`` keeps to itself: which trial each worker is
running (``ongoing_trials``, which only the oracle's own methods change) and which trials it
will hand out again (``_retry_queue``). :class:`OracleQueue` wraps exactly those, for Keras
Tuner 1.4.8; if a later Keras Tuner renames them, only this module changes.
"""

from __future__ import annotations

__all__ = ["OracleQueue"]


class OracleQueue:
    """The running trials and the retry queue of a Keras Tuner oracle.

    Parameters
    ----------
    oracle : keras_tuner.Oracle
        The chief's oracle. The caller holds the lock that serialises calls to it.
    """

    def __init__(self, oracle):
        self._oracle = oracle

    def running(self) -> dict:
        """``{tuner_id: trial_id}`` of the trials handed out and not ended."""
        return {tuner_id: trial.trial_id for tuner_id, trial in self._oracle.ongoing_trials.items()}

    def queued(self) -> list:
        """Trial ids waiting to be handed out again, in order."""
        return list(self._oracle._retry_queue)

    def busy(self) -> bool:
        """Whether any trial runs or waits to run again."""
        return bool(self._oracle.ongoing_trials or self._oracle._retry_queue)

    def will_retry(self, trial_id: str) -> bool:
        """Whether ``trial_id`` waits to be handed out again."""
        return trial_id in self._oracle._retry_queue

    def requeue(self, tuner_id: str) -> str:
        """Take ``tuner_id``'s trial back; the next worker to ask gets it (same id, same values).

        Returns
        -------
        str
            The trial's id.
        """
        trial = self._oracle.ongoing_trials.pop(tuner_id)
        if trial.trial_id not in self._oracle._retry_queue:
            self._oracle._retry_queue.append(trial.trial_id)
        return trial.trial_id

    def forget_ended(self) -> bool:
        """Drop trials that already ended from the running ones and from the retry queue.

        Keras Tuner saves ``oracle.json`` in ``end_trial`` before it forgets the trial as
        running, so a reloaded oracle queues its last finished trial for a retry.

        Returns
        -------
        bool
            Whether anything was dropped (the caller then saves the oracle).
        """
        ended = set(self._oracle.end_order)
        queue = self._oracle._retry_queue
        kept = [t for t in dict.fromkeys(queue) if t not in ended]
        changed = kept != queue
        queue[:] = kept
        for tuner_id, trial in list(self._oracle.ongoing_trials.items()):
            if trial.trial_id in ended:
                del self._oracle.ongoing_trials[tuner_id]
                changed = True
        return changed
