"""pushgate: a self-hosted Web Push gateway."""

__version__ = "0.1.0"
