"""``python -m executor.cli``: the ``ostra`` command."""

from executor.cli import main

if __name__ == "__main__":
    main()
