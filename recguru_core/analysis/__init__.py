"""Reading finished runs: inference (evaluate, recommend, explain), alignment measures,
2-d projections, run comparison, group evaluation. Above train."""
