"""Alternative rules beside the defaults, for researchers to switch on by name."""
