"""Scrubbers side by side on the same files in one run: this engine, ``exiftool -all=`` and Pillow.

Run with ``make bench`` or ``.venv/bin/python -m bench.scrubbers``; results go to ``bench/results/``.
Every contender runs in a child process of its own, so its peak memory can be read from
``getrusage``. Nothing here asserts a time.
"""
