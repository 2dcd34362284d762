"""The jobs the command line (and the library face) runs, each a thin sequence of stages:
``validate`` (check and report), ``run`` (check, send, follow, report), ``nightly`` (an inbox
folder through ``run``), ``status`` (settle what earlier runs left, say what the ledger holds)."""
