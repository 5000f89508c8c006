"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), with mySociety's extensions for updates and
extended statuses, over our own cases (docs/open311.md). The router in `api/routes/open311.py` decodes HTTP
(with api/open311_params.py) and renders XML or JSON; what is read, checked and written lives in this package:

- `service`: `Open311Service`, the resources (discovery, services, requests, tokens, updates) over our cases
- `keys`: the admin's API keys and public reads (`Open311Keys`, `Integrator`, `PublicReader`)
- `status`: our states as the standard's and mySociety's extended statuses (the table is there)
- `history`: a case's timeline as updates with Chinese status notes
- `privacy`: what a public read may show
- `inputs`: what the service takes, already read from HTTP
- `standard`: the standard's limits, formats, W3C datetimes and repeated elements

What an integrator sees of a case
---------------------------------
Catalog items are the services (`service_code` = item code, `group` = the category's 大类); `OTHER` stands for
a report without a catalog item (the township classifies it at acceptance). A case is a service request:
`status` is the standard's `open`/`closed`; mySociety's extended status, our own state and the case code ride
in `extended_attributes` (the extension Chicago, Boston and San Francisco use; `extensions=false` drops it);
`status_notes` says in Chinese why the case is where it is (from its timeline); `agency_responsible` is the
lead unit's name (the township's before a whistle is blown). Requesters' contact details are stored apart
(`Open311Request`) and never shown on Open311.

Updates (GET servicerequestupdates) are the timeline entries of the key's townships' cases, each with the
extended status the case reached by it. Updates an integrator POSTs are stored once per (key, update_id) and
notified to the township and the lead unit; they never move a case (only the township's people do).
"""
