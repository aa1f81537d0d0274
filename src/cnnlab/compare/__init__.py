"""Runs side by side: collected into one table, plotted, written as the report."""
