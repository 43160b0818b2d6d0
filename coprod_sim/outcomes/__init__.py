"""What a run records: outcome columns, the monthly recording and the selection-bias measures."""
