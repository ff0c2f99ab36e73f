"""The command line: ``sincro`` and its sub-commands (argparse, rich tables).

It sits beside the console (``tui``) on top of the engine (``core``), which imports
neither (docs/ARCHITECTURE.md, "Layers"; the contracts in pyproject.toml).
"""
