"""HTTP API, web pages and the `chuishao` command line. Nothing imports this package."""
