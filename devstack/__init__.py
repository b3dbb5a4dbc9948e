"""The stack as separate processes, for `make dev`, the e2e tests and the benchmark."""
