"""Regenerate the README's state table from ``executor.state.TRANSITIONS``.

Run ``python -m executor.docs README.md``: the table between the ``states`` markers is
rewritten; ``tests/unit/test_state.py`` fails while it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from executor.state import markdown_table

BEGIN, END = "<!-- states:begin -->", "<!-- states:end -->"


def update_readme(path: str | Path) -> None:
    """Rewrite the state table between the markers in ``path``."""
    file = Path(path)
    head, _, rest = file.read_text().partition(BEGIN)
    _, _, tail = rest.partition(END)
    file.write_text(f"{head}{BEGIN}\n{markdown_table()}\n{END}{tail}")


if __name__ == "__main__":
    update_readme(sys.argv[1] if len(sys.argv) > 1 else "README.md")
