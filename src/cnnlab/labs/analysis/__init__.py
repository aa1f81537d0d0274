"""Conv arithmetic, layer-by-layer summaries, activation capture and trained-run loading."""
