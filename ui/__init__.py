"""The Streamlit side of RecGURU Explorer: pages import only this package.

    state     every session key, page path and folder; the checkpoint selection
    page      page set-up, sidebar, current run, one-line errors
    urlstate  shareable state: query parameters per page, the link to the current view
    store     the only importer of recguru_core: loaded runs and every cache (RunRef keys)
    jobs      the one background-job type (thread pool)
    training  the training runner (the CLI in a subprocess, progress in files)
    uploads   checkpoint and table uploads
    text      plain-text helpers (escaping, one-line errors, formatting)
    figures/  pure: plain data in, plotly figure or frame out (never streamlit)
    panels/   st.* widgets that pages compose

Importing the package runs nothing: no files, no torch, no Streamlit command.
"""
