"""The town: its neighbourhoods, citizens and their social networks."""
