"""The office's sync server (issue 17): a ``hailong-server`` enrolled upstream stores every answer
its kiosks and phone form give and forwards them, with the same ids, whenever the link allows.

- ``upstream_config``: at the upstream, what a relay may know (its scope's questionnaires,
  campaigns, officers and kiosk values), as one document with an ETag.
- ``forwarder``: at the relay, the loop that sends answers up and brings the config down.
- ``status``: what waits to go up and since when (CLI ``upstream-status``, the status page).
"""
