"""The study's helpers: statistics, figures, shards."""
