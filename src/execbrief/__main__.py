"""`python -m execbrief`: the same CLI as the console script."""

from execbrief.cli import console_main

console_main()
