"""The ipywidgets panels that evaluate a result at points the user picks and step through a walkthrough."""
