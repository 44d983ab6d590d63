"""Questions answered with many runs: batches of trials (trials), the notebook's exercises as multi-seed
experiments (experiments), hyperparameter sweeps (sweeps) and the class board (board)."""
