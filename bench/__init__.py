"""The benchmark: `python -m bench` starts its own stack, measures it and prints the table."""
