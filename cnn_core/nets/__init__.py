"""Networks as data: the layer types (layers), `ModelSpec` (spec), `build_model` (build), the shape walk (shapes),
named networks (presets), editable blocks (blocks), the per-layer summary (summary) and PyTorch code (codegen)."""
