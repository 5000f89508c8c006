"""The demo county for `chuishao demo`: its data (`county`), the plan of each case (`plans`) and the builder that
makes the organisation and replays months of history through the services (`builder`)."""
