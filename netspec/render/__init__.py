"""Renderers of a Plan or the registry: the summary table and JSON, graphs, the JSON Schema,
the reference and error-code docs. Torch-free; they compute nothing the Plan does not hold."""
