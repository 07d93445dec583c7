"""The core: what every layer above may use, and what speaks to nobody — errors, settings,
secrets and the home folder, message building and Markdown, scopes, schedule times, the retry
and pacing rules, and how things are displayed. Imports nothing of the layers above."""

__version__ = "0.1.0"
