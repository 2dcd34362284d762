"""The HR desk: ``tango-batch serve``, a small web application over the pipeline's library face.

People sign in (users and roles from the ledger), upload a sheet, see its verdict within seconds (the
check runs in a worker process, off the request path), approve or reject files (``pipeline.approvals``
decides who may), and follow each file to done. Uploads are put into the nightly job's inbox.

``app`` builds the application (``create_app``); ``settings`` holds its typed settings; ``sessions``,
``guard`` and ``throttle`` are its security; ``uploads`` and ``sniff`` take files in; ``checker`` and
``worker`` run the check; ``pages``, ``desk`` and ``files`` are the views; ``demo`` sets up ``make serve``.
Nothing here is imported by ``tango-batch --help``.
"""
