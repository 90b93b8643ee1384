"""The one connection layer, shared by ``op25b push`` and ``op25b audit --live``."""
