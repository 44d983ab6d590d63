"""Questions answered with many runs: batches of trials (trials), the notebook's exercises as controlled
comparisons (exercises), their statistics and verdict (statistics, on the tests in significance) and result
(experiments), hyperparameter sweeps (sweeps) and the class board (board)."""
