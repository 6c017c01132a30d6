"""Recorded response surfaces: every configuration of a grid measured for real, kept as a CSV table.

``record`` exports a stored tuning run to a surface; ``replay`` serves a surface in place of an engine and
genai-bench, so a whole tuning search costs milliseconds; ``sample_efficiency`` measures how quickly each search
strategy finds a surface's best configuration, on one surface or a folder of them (``--suite``); ``synthetic``
writes GPU-shaped surfaces (``suite/``) from an analytic model of LLM serving. The CSV format is described in
``benchmarks.surfaces.surface``.

Nothing heavy is imported here: ``python -m benchmarks.surfaces.<module>`` loads only what that module needs.
"""
