"""`python -m journey`: the same as the `journey` command."""

from journey.cli import main

main()
