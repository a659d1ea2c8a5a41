"""pushgate's fan-out benchmark: peers and pushgate itself against a local nginx sink.

Run `make bench` (or `.venv/bin/python -m bench --help`); see bench/README.md.
"""
