"""`python -m muse` runs the CLI."""

from muse.cli import main

main()
