"""``python -m zoom_notebook.cli``."""

from zoom_notebook.cli import main

raise SystemExit(main())
