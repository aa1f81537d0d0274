"""The five labs: hand-written layers, network analysis, exercises and the lab book."""
