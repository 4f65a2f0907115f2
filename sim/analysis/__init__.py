"""Analysis on top of the engine: ensembles of runs (``runner``), parameter sweeps
(``sweep``), calibration (``calibrate``) and the backtest (``backtest``), the outcome
statistics (``outcomes``), memory estimates (``resources``), results on disk
(``results``) and the story of a run (``story``)."""
