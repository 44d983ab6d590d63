"""Datasets from their config: `DataConfig` and its checks (config), building one with its split (dataset), the
synthetic shapes (synthetic) and scikit-learn's digits (digits), learners' own images (folders reads them,
image_set holds them, image_store keeps them by digest, examples draws a small example), and statistics (stats)."""
