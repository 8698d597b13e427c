"""Building blocks of the staff pages: widgets and views over the ``campaigns`` and ``emotion`` packages.

Pages in ``pages/`` stay short and only arrange these pieces. Modules here own
no SQL and no model code: they call the store, the analysis and the classifier,
and turn their results (and their errors) into Streamlit elements.
"""
