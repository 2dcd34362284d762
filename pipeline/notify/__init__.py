"""Notifications of the nightly job (issue 14): an e-mail over SMTP after each run and when an
account's balance does not cover the approved rows, and a Slack-compatible post to a webhook.

- ``settings``: the campaign file's ``[notify]`` table (the password comes from the environment);
- ``message``: what each notification says (counts, totals, links; never a row's personal data);
- ``send``: SMTP and the webhook, imported only when something is sent;
- ``notifier``: ``after_nightly``, ``balance_short`` and ``notify_nightly``, which never fail the run.

Only the settings are imported here: ``pipeline.config`` reads them with every campaign file.
"""

from pipeline.notify.settings import PASSWORD_ENV, NotifySettings, notify_secrets, notify_settings

__all__ = ["PASSWORD_ENV", "NotifySettings", "notify_secrets", "notify_settings"]
