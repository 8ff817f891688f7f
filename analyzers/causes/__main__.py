"""`python3 -m analyzers.causes`: print the docs table of causes (from the registry)."""

import sys

from analyzers.causes import markdown_table

sys.stdout.write(markdown_table() + "\n")
