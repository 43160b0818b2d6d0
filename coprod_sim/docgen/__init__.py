"""Documents generated from the code: the parameter table and the ODD description."""
