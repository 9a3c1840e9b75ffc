"""Beam PTransforms for each step and the stage graphs. The only place that imports Beam."""
