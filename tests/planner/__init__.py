"""Tests of the replication planner: hand-built graphs, brute-force optimum, explanations."""
