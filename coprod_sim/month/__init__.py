"""The month: the six stages over all citizens, in NumPy (kernel) and compiled (compiled)."""
