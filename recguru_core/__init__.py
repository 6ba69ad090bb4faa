"""RecGURU core: data, model, training, evaluation and analysis. Never imports streamlit."""

__version__ = "0.1.0"
