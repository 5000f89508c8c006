"""chuishao (吹哨): the township whistle / department check-in case loop.

The installed import names all live under this package, so that nothing generic lands in site-packages:
`chuishao.models` (tables, database, migrations), `chuishao.notifications` (outbox, fan-out, channels),
`chuishao.flows` (the case loop, clocks, and the Prefect flows) and `chuishao.api` (HTTP, web pages, CLI).
In the repository they stay the top-level folders `models/`, `notifications/`, `flows/` and `api/`;
pyproject.toml maps each folder to its name here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chuishao")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
