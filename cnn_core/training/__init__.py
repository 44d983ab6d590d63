"""Training one network on one dataset: `TrainConfig` (config), `fit` and its epochs (engine), augmentation
(augment), the trained result and its key (run), how a run ended (outcome), warnings before a run (advice) and
the compute device (device)."""
