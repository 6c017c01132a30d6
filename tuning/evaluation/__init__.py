"""What a measurement means: the typed metrics, scoring against objectives and SLOs, Pareto fronts, ranking."""
