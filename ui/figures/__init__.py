"""Pure figure and table builders: plain data in, plotly figures / pandas frames out. Never
imports streamlit or recguru_core (a test walks this package to prove it)."""
