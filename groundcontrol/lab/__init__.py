"""Tools, not the product path: backtests, the NAB scorer, simulation and bench."""
