"""What happens when a send fails: ONE policy, chosen by the caller, for every entry point.

Each entry point is one call, ``deliver_as(draft, <policy>)``:

- ``NOW_RAISE`` (``zn.send``, ``zn.ask``, the watchdog): a failure is raised (code
  decides); nothing kept. ``delivery.sending.send`` is this policy (``deliver`` itself).
- ``NOW_KEEP`` (``%%zoomchat``, ``%zoomchat send``, the compose form, the CLI's ``send``,
  ``zoom-notebook run``): a failure is shown (the receipt, the form, stderr) and the
  message kept in the outbox when it can succeed later.
- ``QUEUED`` (``notify``, ``progress``, autonotify, the Dask plugin, the JupyterLab bell
  and kernel deaths): the computation never waits; tried in the background, then shown
  and kept.

The same failure gives the same words everywhere: the receipt (``Failed``) carries the
error as the exception says it, and one rule (``core.retry.not_worth_keeping``) decides
what is kept: a message that can succeed as it is (Zoom unreachable, a rate limit, an
expired login) is kept; one that would fail again (HTTP 400/404, bad input, no
credentials) is shown, text included, and not kept.
"""

from __future__ import annotations

import dataclasses
import functools

from zoom_notebook.core.errors import ValidationError, ZoomNotebookError
from zoom_notebook.delivery import sending, state
from zoom_notebook.delivery.draft import Draft
from zoom_notebook.delivery.outbox import Item, get_outbox
from zoom_notebook.delivery.receipts import Failed, Receipt, Sending, SentMessage


@dataclasses.dataclass(frozen=True)
class Policy:
    """``queued``: hand it to the outbox and return at once (else: send now and wait);
    ``keep``: a failure is shown and the message kept (else: raised)."""

    name: str
    queued: bool
    keep: bool


NOW_RAISE = Policy("now, raise", queued=False, keep=False)
NOW_KEEP = Policy("now, keep and show", queued=False, keep=True)
QUEUED = Policy("queued, keep and show", queued=True, keep=True)


@dataclasses.dataclass
class Outcome:
    """What became of a message: ``sent`` (its receipt) or ``failed`` (what was shown),
    ``kept`` (the outbox holds it), ``item`` (the outbox record, queued ones)."""

    sent: SentMessage | None = None
    failed: Failed | None = None
    error: BaseException | None = None
    kept: bool = False
    item: Item | None = None

    @property
    def words(self) -> str:
        """The failure as every entry point says it: the error, then what now."""
        if self.failed is None:
            return ""
        return self.failed.error + (f"\n{self.failed.hint}" if self.failed.hint else "")


def deliver_as(draft: Draft, policy: Policy, *, show: bool = True, claims_last: bool = True,
               reply_ref: Item | None = None) -> Outcome:
    """Deliver ``draft`` as ``policy`` says. ``show``: display the receipt (updated in
    place) in a notebook. For ``QUEUED``: ``claims_last`` — this message becomes what
    ``reply_to="last"`` follows in its conversation (alerts the user started; automatic
    ones pass False); ``reply_ref`` — reply to an outbox item once it is out."""
    if draft.settings.dry_run:  # nothing leaves: the receipt shows the exact request
        sent = sending.deliver(draft)
        if show:
            from zoom_notebook.core.display import show as display

            display(sent)
        return Outcome(sent=sent)
    if policy.queued:
        return _queue(draft, show=show, claims_last=claims_last, reply_ref=reply_ref)
    if not policy.keep:
        return Outcome(sent=sending.deliver(draft))
    receipt = Receipt(Sending(draft.where, draft.payload["message"]), show=show)
    try:
        sent = sending.deliver(draft)
    except ValidationError:
        receipt.update(Failed(draft.where, draft.payload["message"], "invalid input"))
        raise
    except ZoomNotebookError as exc:
        failed, item = keep_failed(draft, exc)
        receipt.update(failed)
        return Outcome(failed=failed, error=exc, kept=item is not None, item=item)
    receipt.update(sent)
    return Outcome(sent=sent)


def keep_failed(draft: Draft, exc: BaseException) -> tuple[Failed, Item | None]:
    """Keep a message that failed now in the outbox (if it can succeed later) and say so:
    the receipt never claims "kept" for what was not written (SECURITY.md 29). Returns
    what was shown and the kept record (None: not kept)."""
    item = Item(payload=draft.payload, user=draft.user,
                thread_key=list(state.thread_key(draft)))
    try:
        kept = get_outbox().keep(item, exc)
    except Exception as err:  # the outbox itself is unusable: say so plainly
        kept, item.save_error = False, str(err)
    failed = Failed.from_error(exc, draft.where, draft.payload["message"], kept=kept,
                               not_kept=item.save_error)
    if not kept and item.hint:  # it would not succeed as it is: shown, not kept
        failed.hint = item.hint
    if draft.files and kept:  # the outbox keeps text only
        failed.hint += (f" Its {len(draft.files)} attachment(s) "
                        f"({', '.join(name for name, _ in draft.files)}) are not kept.")
    return failed, item if kept else None


def _queue(draft: Draft, *, show: bool, claims_last: bool, reply_ref: Item | None
           ) -> Outcome:
    """Into the outbox (on disk before this returns), with a receipt that follows it."""
    settings, payload = draft.settings, draft.payload
    receipt = Receipt(Sending(draft.where, payload["message"], note="queued"), show=show)
    item = Item(payload=payload, user=settings.user if settings.user != "me" else None,
                reply_ref=reply_ref or draft.reply_item,
                thread_key=list(state.thread_key(draft)))
    item.on_done = functools.partial(_follow, receipt, draft.receipt())
    get_outbox().put(item)
    if claims_last:
        state.note_queued(state.thread_key(draft), item)
    if item.save_error and item.status == "queued":
        receipt.update(Sending(draft.where, payload["message"], note=(
            f"queued in memory only — it could not be saved to the outbox "
            f"({item.save_error}); if this kernel dies before it is sent, it is lost")))
    return Outcome(item=item, kept=not item.save_error)


def _follow(receipt: Receipt, shape: SentMessage, item: Item) -> None:
    """A queued message's receipt, updated when the outbox is done with it. ``shape``:
    the draft's receipt (where it goes, named as a person reads it)."""
    if item.status == "superseded":  # a later edit (or the first post) carries the text
        return
    first = item.ref or item  # an edit shows the message it edits, with its new text
    if item.status == "sent":
        receipt.update(dataclasses.replace(
            shape, id=item.message_id, message=item.payload["message"],
            reply_to=first.request_payload().get("reply_main_message_id")))
    else:
        receipt.update(Failed(shape.target, item.payload["message"], item.error or "?",
                              item.hint or "", unknown=item.status == "unknown"))


__all__ = ["NOW_KEEP", "NOW_RAISE", "QUEUED", "Outcome", "Policy", "deliver_as",
           "keep_failed"]
