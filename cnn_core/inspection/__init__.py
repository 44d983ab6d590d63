"""Looking inside a trained network: scores, confusion, mistakes and embeddings (evaluate); filters, feature
maps and Grad-CAM (interpret)."""
