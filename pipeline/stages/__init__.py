"""The stages a file flows through, one way: ingest → normalize → validate (``check`` runs the three)
→ plan → dedupe → preflight → submit (with ``follow``, which reads orders back) → outcome → report.

Each is a function of data, with IO only at the edges (ingest reads the file, submit and preflight
talk to Tango, dedupe reads the ledger, report writes the workbooks). A stage imports only the
vocabulary (``pipeline.model``), the errors, the settings, the rules, the ledger and the Tango
client, and the stages before it; never a job or the command line.
"""
