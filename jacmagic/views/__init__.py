"""How results are written: LaTeX, text, MathML, HTML pages and pictures; never computes a derivative."""
