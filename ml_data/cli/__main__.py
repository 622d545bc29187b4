"""``python -m ml_data.cli``: the ``ml-data`` command."""

from ml_data.cli import main

main()
