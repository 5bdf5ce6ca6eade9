"""Speed benchmarks: this project's trainer against the notebook's plain Keras (BENCHMARKS.md)."""
