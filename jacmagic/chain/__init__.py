"""The graph of stages and the mathematics on it: operations, derivatives, the walk, checks, closed forms."""
