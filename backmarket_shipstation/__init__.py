"""backmarket-shipstation: a typed SDK connecting Back Market seller accounts with ShipStation."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
