"""Results (issue 5): scoring of rollup counts, reports, exports."""
