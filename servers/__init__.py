"""The catalog: one compiled environment per sub-package, generated from its spec.yaml."""
