"""The one delivery layer: a message becomes a draft (the only code that builds a payload),
and the draft is delivered now, kept in the outbox, or shown as a dry run (the only code that
sends or queues). See docs/delivery.md."""
