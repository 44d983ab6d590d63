"""Networks as data: the layer types (layers), `ModelSpec` and `build_model` (spec), the shape walk (shapes),
named networks (presets), editable blocks (blocks), the per-layer summary (summary) and PyTorch code (codegen)."""
