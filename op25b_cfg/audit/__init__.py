"""Compliance auditing: parse running configs into the vendor-neutral rule model and prove OP25B."""
