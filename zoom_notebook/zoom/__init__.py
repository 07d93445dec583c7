"""Everything that speaks HTTP to Zoom: the REST client (the one choke point for Team Chat
calls), token requests (Server-to-Server and user OAuth refresh), the Incoming Webhook, the
thread poller, and reading Zoom back to settle an unknown outcome. Knows no notebook, no
outbox and no login flow."""
